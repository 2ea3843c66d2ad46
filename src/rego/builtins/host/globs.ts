// regex.globs_match: whether two "glob-like" regular expressions (literals,
// `.`, character classes, each optionally followed by `*`, `+` or `?`; both
// anchored at both ends) match at least one common string. Decided on the
// product of the two automata; characters as code point ranges.
import { builtinError } from './errors.js';

type Ranges = [number, number][];
interface Token {
  chars: Ranges;
  min: 0 | 1;
  many: boolean;
}

const MAX_CP = 0x10ffff;
const DIGIT: Ranges = [[0x30, 0x39]];
const WORD: Ranges = [
  [0x30, 0x39],
  [0x41, 0x5a],
  [0x5f, 0x5f],
  [0x61, 0x7a],
];
const SPACE: Ranges = [
  [0x09, 0x0d],
  [0x20, 0x20],
];

function normalise(r: Ranges): Ranges {
  const s = [...r].sort((a, b) => a[0] - b[0]);
  const out: Ranges = [];
  for (const x of s) {
    const top = out[out.length - 1];
    if (top && x[0] <= top[1] + 1) top[1] = Math.max(top[1], x[1]);
    else out.push([x[0], x[1]]);
  }
  return out;
}

function negate(r: Ranges): Ranges {
  const out: Ranges = [];
  let next = 0;
  for (const [lo, hi] of normalise(r)) {
    if (lo > next) out.push([next, lo - 1]);
    next = hi + 1;
  }
  if (next <= MAX_CP) out.push([next, MAX_CP]);
  return out;
}

function overlaps(a: Ranges, b: Ranges): boolean {
  for (const [alo, ahi] of a) for (const [blo, bhi] of b) if (alo <= bhi && blo <= ahi) return true;
  return false;
}

function escapeClass(c: string): Ranges | undefined {
  switch (c) {
    case 'd':
      return DIGIT;
    case 'D':
      return negate(DIGIT);
    case 'w':
      return WORD;
    case 'W':
      return negate(WORD);
    case 's':
      return SPACE;
    case 'S':
      return negate(SPACE);
    default:
      return undefined;
  }
}

function parse(name: string, pattern: string): Token[] {
  const cs = [...pattern];
  const toks: Token[] = [];
  let i = 0;
  const cp = (c: string) => c.codePointAt(0) ?? 0;
  while (i < cs.length) {
    const c = cs[i++] as string;
    let chars: Ranges;
    if (c === '.') chars = [[0, MAX_CP]];
    else if (c === '\\') {
      const e = cs[i++];
      if (e === undefined) throw builtinError(name, `trailing backslash in ${JSON.stringify(pattern)}`);
      chars = escapeClass(e) ?? [[cp(e), cp(e)]];
    } else if (c === '[') {
      const neg = cs[i] === '^';
      if (neg) i++;
      const set: Ranges = [];
      let first = true;
      while (i < cs.length && (cs[i] !== ']' || first)) {
        first = false;
        let x = cs[i++] as string;
        if (x === '\\') {
          const e = cs[i++];
          if (e === undefined) break;
          const cls = escapeClass(e);
          if (cls) {
            set.push(...cls);
            continue;
          }
          x = e;
        }
        if (cs[i] === '-' && cs[i + 1] !== undefined && cs[i + 1] !== ']') {
          const y = cs[i + 1] as string;
          i += 2;
          if (cp(y) < cp(x)) throw builtinError(name, `invalid character class range ${x}-${y}`);
          set.push([cp(x), cp(y)]);
        } else set.push([cp(x), cp(x)]);
      }
      if (cs[i] !== ']') throw builtinError(name, `missing closing ] in ${JSON.stringify(pattern)}`);
      i++;
      chars = neg ? negate(set) : normalise(set);
    } else if ('*+?'.includes(c))
      throw builtinError(name, `missing argument to repetition operator in ${JSON.stringify(pattern)}`);
    else if ('()|{}^$'.includes(c))
      throw builtinError(name, `unsupported glob syntax ${JSON.stringify(c)} in ${JSON.stringify(pattern)}`);
    else chars = [[cp(c), cp(c)]];
    const q = cs[i];
    if (q === '*') toks.push({ chars, min: 0, many: true });
    else if (q === '+') toks.push({ chars, min: 1, many: true });
    else if (q === '?') toks.push({ chars, min: 0, many: false });
    else toks.push({ chars, min: 1, many: false });
    if (q === '*' || q === '+' || q === '?') i++;
  }
  return toks;
}

// NFA over token positions: state k means "before token k"; '+' is one required
// character and then a loop, modelled by a second state per token (k + 0.5 → index 2k+1).
function closure(toks: Token[], states: Set<number>): Set<number> {
  const out = new Set(states);
  const stack = [...states];
  while (stack.length) {
    const s = stack.pop() as number;
    if (s % 2 === 1) {
      // inside a loop: may leave it
      const next = s + 1;
      if (!out.has(next)) {
        out.add(next);
        stack.push(next);
      }
      continue;
    }
    const k = s / 2;
    const t = toks[k];
    if (t && t.min === 0) {
      const next = s + 2;
      if (!out.has(next)) {
        out.add(next);
        stack.push(next);
      }
    }
  }
  return out;
}

/** Targets of consuming one character from state s, with the character class used. */
function moves(toks: Token[], s: number): [Ranges, number][] {
  const k = Math.floor(s / 2);
  const t = toks[k];
  if (!t) return [];
  if (s % 2 === 1) return [[t.chars, s]];
  return [[t.chars, t.many ? 2 * k + 1 : 2 * k + 2]];
}

export function globsIntersect(name: string, a: string, b: string): boolean {
  const ta = parse(name, a);
  const tb = parse(name, b);
  const endA = 2 * ta.length;
  const endB = 2 * tb.length;
  const seen = new Set<string>();
  const queue: [number, number][] = [[0, 0]];
  while (queue.length) {
    const [sa, sb] = queue.pop() as [number, number];
    const key = `${sa},${sb}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const ca = closure(ta, new Set([sa]));
    const cb = closure(tb, new Set([sb]));
    if (ca.has(endA) && cb.has(endB)) return true;
    for (const x of ca)
      for (const [ra, na] of moves(ta, x))
        for (const y of cb) for (const [rb, nb] of moves(tb, y)) if (overlaps(ra, rb)) queue.push([na, nb]);
  }
  return false;
}
