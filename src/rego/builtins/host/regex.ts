// Regular expressions with RE2 syntax and semantics (re2js: a port of RE2, so
// lookaround and backreferences are rejected exactly as Go's regexp rejects
// them), Go's FindAll/Split/Expand rules, and glob matching.
import { RE2JS } from 're2js';
import { type Args, builtinError } from './errors.js';
import type { Family } from './family.js';
import { globsIntersect } from './globs.js';
import type { Value } from './value.js';

/** Most compiled patterns kept per cache (regexes and globs each). */
const CACHE_SIZE = 256;
/** Longest pattern accepted (untrusted policies and inputs). */
export const MAX_PATTERN_LENGTH = 64 * 1024;

class Lru<V> {
  private readonly map = new Map<string, V>();
  constructor(private readonly max: number) {}
  get(k: string): V | undefined {
    const v = this.map.get(k);
    if (v !== undefined) {
      this.map.delete(k);
      this.map.set(k, v);
    }
    return v;
  }
  set(k: string, v: V): void {
    if (this.map.size >= this.max) {
      const first = this.map.keys().next();
      if (!first.done) this.map.delete(first.value);
    }
    this.map.set(k, v);
  }
}

const regexCache = new Lru<RE2JS | Error>(CACHE_SIZE);

/** Compiles an RE2 pattern; an Error for a pattern RE2 rejects. */
export function compileRE2(pattern: string): RE2JS | Error {
  const hit = regexCache.get(pattern);
  if (hit) return hit;
  let out: RE2JS | Error;
  if (pattern.length > MAX_PATTERN_LENGTH) out = new Error(`regexp too long (${pattern.length} characters)`);
  else {
    try {
      out = RE2JS.compile(pattern);
    } catch (e) {
      out = new Error(e instanceof Error ? e.message : String(e));
    }
  }
  regexCache.set(pattern, out);
  return out;
}

function regex(name: string, pattern: string): RE2JS {
  const re = compileRE2(pattern);
  if (re instanceof Error) throw builtinError(name, re.message);
  return re;
}

/** Go's FindAllSubmatchIndex: [start, end] pairs per group, -1 for unmatched groups. */
export function findAll(re: RE2JS, s: string, n: number): number[][] {
  const out: number[][] = [];
  if (n === 0) return out;
  const m = re.matcher(s);
  const groups = re.groupCount();
  let pos = 0;
  let prevEnd = -1;
  while ((n < 0 || out.length < n) && pos <= s.length) {
    if (!m.find(pos)) break;
    const start = m.start();
    const end = m.end();
    let accept = true;
    if (end === pos) {
      if (start === prevEnd) accept = false;
      const cp = s.codePointAt(pos);
      pos += cp !== undefined && cp > 0xffff ? 2 : 1;
    } else pos = end;
    prevEnd = end;
    if (accept) {
      const idx: number[] = [];
      for (let g = 0; g <= groups; g++) idx.push(m.start(g), m.end(g));
      out.push(idx);
    }
  }
  return out;
}

/** Go's Regexp.Split(s, -1). */
function splitRE(re: RE2JS, s: string): string[] {
  if (re.pattern() !== '' && s === '') return [''];
  const parts: string[] = [];
  let beg = 0;
  let end = 0;
  for (const [ms, me] of findAll(re, s, -1) as [number, number][]) {
    end = ms;
    if (me !== 0) parts.push(s.slice(beg, end));
    beg = me;
  }
  if (end !== s.length) parts.push(s.slice(beg));
  return parts;
}

/** Go's Regexp.Expand for ReplaceAllString: $1, ${1}, $name, ${name}, $$. */
function expand(template: string, s: string, idx: number[], names: Record<string, number>): string {
  let out = '';
  let i = 0;
  while (i < template.length) {
    const c = template[i] as string;
    if (c !== '$') {
      out += c;
      i++;
      continue;
    }
    const rest = template.slice(i + 1);
    if (rest.startsWith('$')) {
      out += '$';
      i += 2;
      continue;
    }
    let name: string | undefined;
    let len = 0;
    const braced = /^\{([A-Za-z0-9_]+)\}/.exec(rest);
    const bare = /^[A-Za-z0-9_]+/.exec(rest);
    if (braced) {
      name = braced[1];
      len = braced[0].length;
    } else if (bare) {
      name = bare[0];
      len = bare[0].length;
    }
    if (name === undefined) {
      out += '$';
      i++;
      continue;
    }
    i += 1 + len;
    const g = /^\d+$/.test(name) ? Number(name) : names[name];
    if (g === undefined || 2 * g + 1 >= idx.length) continue;
    const a = idx[2 * g] as number;
    const b = idx[2 * g + 1] as number;
    if (a >= 0) out += s.slice(a, b);
  }
  return out;
}

function replaceAll(re: RE2JS, s: string, rep: string): string {
  const names = re.namedGroups();
  let out = '';
  let last = 0;
  for (const idx of findAll(re, s, -1)) {
    const a = idx[0] as number;
    const b = idx[1] as number;
    out += s.slice(last, a) + expand(rep, s, idx, names);
    last = b;
  }
  return out + s.slice(last);
}

// ------------------------------------------------------------ regex.template_match
function templateRegex(name: string, template: string, open: string, close: string): RE2JS {
  if (open === '' || close === '') throw builtinError(name, 'delimiters must not be empty');
  let pattern = '^';
  let i = 0;
  while (i < template.length) {
    const o = template.indexOf(open, i);
    if (o < 0) {
      pattern += RE2JS.quote(template.slice(i));
      break;
    }
    pattern += RE2JS.quote(template.slice(i, o));
    // Find the matching close delimiter, allowing nested pairs inside the expression.
    let depth = 1;
    let j = o + open.length;
    while (j < template.length && depth > 0) {
      if (template.startsWith(close, j)) {
        depth--;
        if (depth === 0) break;
        j += close.length;
      } else if (template.startsWith(open, j)) {
        depth++;
        j += open.length;
      } else j++;
    }
    if (depth !== 0) throw builtinError(name, `unbalanced braces in "${template}"`);
    pattern += `(${template.slice(o + open.length, j)})`;
    i = j + close.length;
  }
  return regex(name, `${pattern}$`);
}

// ------------------------------------------------------------ glob.match (gobwas/glob syntax)
const globCache = new Lru<RegExp | Error>(CACHE_SIZE);

/** Escapes a literal outside a character class (with the `u` flag, `\-` is only valid inside one). */
const reEscape = (s: string): string => s.replace(/[\\^$.*+?()[\]{}|/]/g, '\\$&');
/** Escapes a literal inside a character class. */
const classEscape = (s: string): string => s.replace(/[\\\]^-]/g, '\\$&');

/** Translates a glob to a JS RegExp we write ourselves (no user regex syntax passes through). */
export function compileGlob(pattern: string, delimiters: string[]): RegExp | Error {
  const key = `${delimiters.join('\u0000')}\u0001${pattern}`;
  const hit = globCache.get(key);
  if (hit) return hit;
  let out: RegExp | Error;
  try {
    const notDelim = delimiters.length ? `[^${delimiters.map(classEscape).join('')}]` : '[^]';
    const chars = [...pattern];
    let i = 0;
    let depth = 0;
    const parse = (): string => {
      let re = '';
      while (i < chars.length) {
        const c = chars[i] as string;
        if (c === '\\') {
          const n = chars[i + 1];
          if (n === undefined) throw new Error('unexpected end of input after escape');
          re += reEscape(n);
          i += 2;
        } else if (c === '*') {
          if (chars[i + 1] === '*') {
            re += '[^]*';
            i += 2;
          } else {
            re += `${notDelim}*`;
            i++;
          }
        } else if (c === '?') {
          re += notDelim;
          i++;
        } else if (c === '[') {
          const end = chars.indexOf(']', i + 1);
          if (end < 0) throw new Error('unexpected end of input in character class');
          let body = chars.slice(i + 1, end);
          const negate = body[0] === '!';
          if (negate) body = body.slice(1);
          let cls = '';
          for (let k = 0; k < body.length; k++) {
            const ch = body[k] as string;
            if (body[k + 1] === '-' && body[k + 2] !== undefined) {
              cls += `${classEscape(ch)}-${classEscape(body[k + 2] as string)}`;
              k += 2;
            } else cls += classEscape(ch);
          }
          if (cls === '') throw new Error('empty character class');
          re += negate ? `[^${cls}${delimiters.map(classEscape).join('')}]` : `[${cls}]`;
          i = end + 1;
        } else if (c === '{') {
          i++;
          depth++;
          const alts: string[] = [parse()];
          while (chars[i] === ',') {
            i++;
            alts.push(parse());
          }
          if (chars[i] !== '}') throw new Error('unclosed alternatives');
          i++;
          depth--;
          re += `(?:${alts.join('|')})`;
        } else if ((c === ',' || c === '}') && depth > 0) {
          return re;
        } else {
          re += reEscape(c);
          i++;
        }
      }
      return re;
    };
    const body = parse();
    if (i < chars.length) throw new Error(`unexpected ${chars[i]}`);
    out = new RegExp(`^${body}$`, 'u');
  } catch (e) {
    out = e instanceof Error ? e : new Error(String(e));
  }
  globCache.set(key, out);
  return out;
}

const GLOB_SPECIAL = new Set(['*', '?', '\\', '[', ']', '{', '}']);

function delimitersOf(a: Args): string[] {
  const v = a.at(2);
  if (v === null) return [];
  const items = a.collection(2, 'one of {null, array}');
  const out: string[] = [];
  for (const x of items) {
    if (typeof x !== 'string') throw a.elementError(2, v, x, 'string');
    const first = [...x][0];
    if (first !== undefined) out.push(first);
  }
  return out.length ? out : ['.'];
}

export const regexFamily: Family = {
  'regex.is_valid': (a) => {
    const p = a.at(1);
    return typeof p === 'string' && !(compileRE2(p) instanceof Error);
  },
  'regex.match': (a) => regex(a.name, a.string(1)).test(a.string(2)),
  re_match: (a) => regex(a.name, a.string(1)).test(a.string(2)),
  'regex.split': (a) => splitRE(regex(a.name, a.string(1)), a.string(2)),
  'regex.find_n': (a) => {
    const re = regex(a.name, a.string(1));
    const s = a.string(2);
    return findAll(re, s, a.int(3)).map((idx) => s.slice(idx[0], idx[1]));
  },
  'regex.find_all_string_submatch_n': (a) => {
    const re = regex(a.name, a.string(1));
    const s = a.string(2);
    return findAll(re, s, a.int(3)).map((idx) => {
      const groups: Value[] = [];
      for (let g = 0; g < idx.length; g += 2) {
        const x = idx[g] as number;
        groups.push(x >= 0 ? s.slice(x, idx[g + 1]) : '');
      }
      return groups;
    });
  },
  'regex.replace': (a) => {
    const s = a.string(1);
    const re = regex(a.name, a.string(2));
    return replaceAll(re, s, a.string(3));
  },
  'regex.template_match': (a) => {
    const re = templateRegex(a.name, a.string(1), a.string(3), a.string(4));
    return re.test(a.string(2));
  },
  'regex.globs_match': (a) => globsIntersect(a.name, a.string(1), a.string(2)),
  'glob.quote_meta': (a) => [...a.string(1)].map((c) => (GLOB_SPECIAL.has(c) ? `\\${c}` : c)).join(''),
  'glob.match': (a) => {
    const pattern = a.string(1);
    const delims = delimitersOf(a);
    const s = a.string(3);
    const g = compileGlob(pattern, delims);
    if (g instanceof Error) throw builtinError(a.name, g.message);
    return g.test(s);
  },
};
