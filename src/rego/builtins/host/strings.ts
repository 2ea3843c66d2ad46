// Strings: Go's strings package semantics over code points (runes).
import { type Args, builtinError, typeError } from './errors.js';
import type { Family } from './family.js';
import { numberString, regoString, sprintf } from './format.js';
import { RegoObject, RegoSet, typeName, type Value } from './value.js';

const runes = (s: string): string[] => [...s];

/**
 * Go's strings.ToUpper/ToLower map rune by rune (simple case mapping); JavaScript
 * may expand one character into several ('ß' → 'SS'). Such characters keep
 * Go's single-rune result: unchanged for upper, the first rune for lower ('İ' → 'i').
 */
function goCase(s: string, upper: boolean): string {
  if (/^[\x00-\x7f]*$/.test(s)) return upper ? s.toUpperCase() : s.toLowerCase();
  let out = '';
  for (const ch of s) {
    const m = upper ? ch.toUpperCase() : ch.toLowerCase();
    const rs = [...m];
    out += rs.length === 1 ? m : upper ? ch : (rs[0] ?? ch);
  }
  return out;
}

const SPACE = /^[\s\u0085\u00a0]+|[\s\u0085\u00a0]+$/gu;

function cutset(set: string): Set<string> {
  return new Set(runes(set));
}

function trimLeft(s: string, cut: Set<string>): string {
  const r = runes(s);
  let i = 0;
  while (i < r.length && cut.has(r[i] as string)) i++;
  return r.slice(i).join('');
}

function trimRight(s: string, cut: Set<string>): string {
  const r = runes(s);
  let j = r.length;
  while (j > 0 && cut.has(r[j - 1] as string)) j--;
  return r.slice(0, j).join('');
}

/** Go's strings.Split (an empty separator splits into runes). */
function split(s: string, sep: string): string[] {
  return sep === '' ? runes(s) : s.split(sep);
}

/** strings.split_n: all parts, then the first n (n > 0) or the last -n (n < 0); none for 0. */
function splitN(s: string, sep: string, n: number): string[] {
  const parts = split(s, sep);
  if (n === 0) return [];
  return n > 0 ? parts.slice(0, n) : parts.slice(Math.max(0, parts.length + n));
}

/** Go's strings.Count: non-overlapping; an empty needle counts rune boundaries. */
function countOf(s: string, sub: string): number {
  if (sub === '') return runes(s).length + 1;
  let n = 0;
  let i = s.indexOf(sub);
  while (i >= 0) {
    n++;
    i = s.indexOf(sub, i + sub.length);
  }
  return n;
}

/** One or many strings: string, or an array/set of strings (for any_prefix_match and friends). */
function stringOrStrings(a: Args, pos: number): string[] {
  const v = a.at(pos);
  if (typeof v === 'string') return [v];
  if (Array.isArray(v) || v instanceof RegoSet) {
    const items = Array.isArray(v) ? v : [...v];
    for (const x of items)
      if (typeof x !== 'string')
        throw typeError(
          a.name,
          `operand ${pos} must be ${typeName(v)} of strings but got ${typeName(v)} containing ${typeName(x)}`,
        );
    return items as string[];
  }
  return a.wrong(pos, 'one of {string, set, array}');
}

/** Go's strings.NewReplacer(old1, new1, …).Replace: at each position the first matching pair wins. */
function replaceMany(s: string, pairs: [string, string][]): string {
  let out = '';
  let i = 0;
  outer: while (i < s.length) {
    for (const [old, rep] of pairs) {
      if (old !== '' && s.startsWith(old, i)) {
        out += rep;
        i += old.length;
        continue outer;
      }
    }
    out += s[i];
    i++;
  }
  return out;
}

// ------------------------------------------------------------ strings.render_template
// A subset of Go's text/template: {{.a.b}} field paths, {{.}} and literal text;
// a missing key is an error (OPA renders with missingkey=error).
function lookupPath(root: Value, path: string[], name: string): Value {
  let cur: Value = root;
  for (const key of path) {
    if (!(cur instanceof RegoObject))
      throw builtinError(name, `template: can't evaluate field ${key} in type ${typeName(cur)}`);
    const next = cur.get(key);
    if (next === undefined) throw builtinError(name, `template: map has no entry for key "${key}"`);
    cur = next;
  }
  return cur;
}

/** How Go's text/template prints the JSON form of a value (maps as map[k:v], nil as <no value>). */
function templateValue(v: Value): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'bigint') return numberString(v);
  if (v === null) return '<no value>';
  if (typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return `[${v.map(templateValue).join(' ')}]`;
  if (v instanceof RegoSet) return `[${v.sorted().map(templateValue).join(' ')}]`;
  return `map[${v
    .sorted()
    .map(([k, x]) => `${typeof k === 'string' ? k : regoString(k)}:${templateValue(x)}`)
    .join(' ')}]`;
}

function renderTemplate(name: string, tpl: string, vars: RegoObject): string {
  let out = '';
  let i = 0;
  while (i < tpl.length) {
    const open = tpl.indexOf('{{', i);
    if (open < 0) {
      out += tpl.slice(i);
      break;
    }
    let text = tpl.slice(i, open);
    let start = open + 2;
    if (tpl[start] === '-' && tpl[start + 1] === ' ') {
      text = text.trimEnd();
      start += 2;
    }
    out += text;
    const close = tpl.indexOf('}}', start);
    if (close < 0) throw builtinError(name, 'template: unclosed action');
    let body = tpl.slice(start, close);
    let next = close + 2;
    if (body.endsWith(' -')) {
      body = body.slice(0, -2);
      while (next < tpl.length && /\s/.test(tpl[next] as string)) next++;
    }
    body = body.trim();
    if (body === '.') out += templateValue(vars);
    else if (/^(\.[A-Za-z_][A-Za-z0-9_]*)+$/.test(body))
      out += templateValue(lookupPath(vars, body.slice(1).split('.'), name));
    else if (body.startsWith('/*') && body.endsWith('*/')) {
      // a comment
    } else throw builtinError(name, `template: unsupported action {{${body}}}`);
    i = next;
  }
  return out;
}

export const strings: Family = {
  concat: (a) => a.strings(2, 'one of {array, set}').join(a.string(1)),
  contains: (a) => a.string(1).includes(a.string(2)),
  startswith: (a) => a.string(1).startsWith(a.string(2)),
  endswith: (a) => a.string(1).endsWith(a.string(2)),
  'strings.any_prefix_match': (a) => {
    const xs = stringOrStrings(a, 1);
    const ps = stringOrStrings(a, 2);
    return xs.some((x) => ps.some((p) => x.startsWith(p)));
  },
  'strings.any_suffix_match': (a) => {
    const xs = stringOrStrings(a, 1);
    const ps = stringOrStrings(a, 2);
    return xs.some((x) => ps.some((p) => x.endsWith(p)));
  },
  format_int: (a) => {
    const n = a.number(1);
    const base = a.number(2);
    const radix = Number(base);
    if (![2, 8, 10, 16].includes(radix))
      throw typeError('format_int', 'operand 2 must be one of {2, 8, 10, 16}');
    const i = typeof n === 'bigint' ? n : BigInt(Math.trunc(n));
    return i.toString(radix);
  },
  indexof: (a) => {
    const s = a.string(1);
    const sub = a.string(2);
    if (sub === '') throw builtinError('indexof', 'empty search character');
    const at = s.indexOf(sub);
    if (at < 0) return -1;
    return runes(s.slice(0, at)).length;
  },
  indexof_n: (a) => {
    const r = runes(a.string(1));
    const sub = runes(a.string(2));
    if (sub.length === 0) throw builtinError('indexof_n', 'empty search character');
    const out: Value[] = [];
    for (let i = 0; i + sub.length <= r.length; i++) {
      let ok = true;
      for (let j = 0; j < sub.length; j++) {
        if (r[i + j] !== sub[j]) {
          ok = false;
          break;
        }
      }
      if (ok) out.push(i);
    }
    return out;
  },
  lower: (a) => goCase(a.string(1), false),
  upper: (a) => goCase(a.string(1), true),
  replace: (a) => {
    const s = a.string(1);
    const old = a.string(2);
    const rep = a.string(3);
    if (old === '') return `${rep}${runes(s).join(rep)}${s === '' ? '' : rep}`;
    return s.split(old).join(rep);
  },
  split: (a) => split(a.string(1), a.string(2)),
  'strings.split_n': (a) => splitN(a.string(1), a.string(2), a.int(3)),
  sprintf: (a) => sprintf(a.string(1), a.collection(2, 'array')),
  substring: (a) => {
    const s = a.string(1);
    const start = a.int(2);
    const r = runes(s);
    if (start >= r.length) return '';
    if (start < 0) throw builtinError('substring', 'negative offset');
    const len = a.int(3);
    if (len < 0) return r.slice(start).join('');
    return r.slice(start, start + len).join('');
  },
  trim: (a) => {
    const cut = cutset(a.string(2));
    return trimRight(trimLeft(a.string(1), cut), cut);
  },
  trim_left: (a) => trimLeft(a.string(1), cutset(a.string(2))),
  trim_right: (a) => trimRight(a.string(1), cutset(a.string(2))),
  trim_prefix: (a) => {
    const s = a.string(1);
    const p = a.string(2);
    return s.startsWith(p) ? s.slice(p.length) : s;
  },
  trim_suffix: (a) => {
    const s = a.string(1);
    const p = a.string(2);
    return p !== '' && s.endsWith(p) ? s.slice(0, s.length - p.length) : s;
  },
  trim_space: (a) => a.string(1).replace(SPACE, ''),
  'strings.replace_n': (a) => {
    const patterns = a.object(1);
    const s = a.string(2);
    const pairs: [string, string][] = [];
    for (const [k, v] of patterns.sorted()) {
      if (typeof k !== 'string') throw typeError(a.name, 'operand 1 non-string key found in pattern object');
      if (typeof v !== 'string')
        throw typeError(a.name, 'operand 1 non-string value found in pattern object');
      pairs.push([k, v]);
    }
    return replaceMany(s, pairs);
  },
  'strings.reverse': (a) => runes(a.string(1)).reverse().join(''),
  'strings.count': (a) => countOf(a.string(1), a.string(2)),
  'strings.render_template': (a) => renderTemplate(a.name, a.string(1), a.object(2)),
};
