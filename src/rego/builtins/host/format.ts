// Text forms of Rego values as OPA prints them: Rego syntax (used by sprintf's
// %v and print) and Go's fmt verbs as sprintf applies them.
import { RegoObject, RegoSet, type Value } from './value.js';

/** Go's strconv.Quote for the printable subset; escapes controls. */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0) ?? 0;
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\r') out += '\\r';
    else if (c < 0x20 || c === 0x7f) out += `\\x${c.toString(16).padStart(2, '0')}`;
    else out += ch;
  }
  return `${out}"`;
}

/** Go's %v of a float64 (strconv 'g' with shortest precision, exponent from 1e21 or below 1e-4). */
export function goFloat(n: number): string {
  if (Number.isInteger(n) && Math.abs(n) < 1e21) return String(n);
  const abs = Math.abs(n);
  if (abs !== 0 && (abs < 1e-4 || abs >= 1e21)) {
    const [m, e] = n.toExponential().split('e') as [string, string];
    const sign = e.startsWith('-') ? '-' : '+';
    const digits = e.replace(/^[+-]/, '').padStart(2, '0');
    return `${m}e${sign}${digits}`;
  }
  return String(n);
}

/** A number as OPA prints it: integers with every digit, other numbers like Go's %v of a float64. */
export function numberString(n: number | bigint): string {
  if (typeof n === 'bigint') return n.toString();
  return Number.isInteger(n) ? BigInt(n).toString() : goFloat(n);
}

/** A value in Rego syntax, as OPA's String() writes it. */
export function regoString(v: Value): string {
  if (v === null) return 'null';
  switch (typeof v) {
    case 'boolean':
      return String(v);
    case 'number':
    case 'bigint':
      return numberString(v);
    case 'string':
      return goQuote(v);
  }
  if (Array.isArray(v)) return `[${v.map(regoString).join(', ')}]`;
  if (v instanceof RegoSet) return v.size === 0 ? 'set()' : `{${v.sorted().map(regoString).join(', ')}}`;
  if (v instanceof RegoObject)
    return `{${v
      .sorted()
      .map(([k, x]) => `${regoString(k)}: ${regoString(x)}`)
      .join(', ')}}`;
  return String(v);
}

interface Spec {
  flags: string;
  width?: number;
  prec?: number;
  verb: string;
}

function pad(s: string, spec: Spec): string {
  const w = spec.width ?? 0;
  if (s.length >= w) return s;
  if (spec.flags.includes('-')) return s + ' '.repeat(w - s.length);
  if (spec.flags.includes('0') && /[dfeEgGxXob]/.test(spec.verb)) {
    const neg = s.startsWith('-') || s.startsWith('+');
    const body = neg ? s.slice(1) : s;
    return (neg ? s[0] : '') + '0'.repeat(w - s.length) + body;
  }
  return ' '.repeat(w - s.length) + s;
}

function signed(s: string, n: number | bigint, flags: string): string {
  const neg = typeof n === 'bigint' ? n < 0n : n < 0 || Object.is(n, -0);
  if (neg) return s;
  if (flags.includes('+')) return `+${s}`;
  if (flags.includes(' ')) return ` ${s}`;
  return s;
}

function bad(verb: string, v: Value): string {
  const t =
    typeof v === 'number'
      ? Number.isInteger(v)
        ? 'int'
        : 'float64'
      : typeof v === 'bigint'
        ? '*big.Int'
        : typeof v === 'string'
          ? 'string'
          : typeof v === 'boolean'
            ? 'bool'
            : 'ast.Value';
  return `%!${verb}(${t}=${typeof v === 'string' ? v : regoString(v)})`;
}

function integerText(n: number | bigint, radix: number, upper: boolean): string {
  const s = (typeof n === 'bigint' ? n : BigInt(n)).toString(radix);
  return upper ? s.toUpperCase() : s;
}

function hexOfString(s: string, upper: boolean): string {
  const h = Buffer.from(s, 'utf8').toString('hex');
  return upper ? h.toUpperCase() : h;
}

function floatVerb(n: number, spec: Spec): string {
  const p = spec.prec;
  switch (spec.verb) {
    case 'f':
    case 'F':
      return n.toFixed(p ?? 6);
    case 'e':
    case 'E': {
      const [m, e] = n.toExponential(p ?? 6).split('e') as [string, string];
      const sign = e.startsWith('-') ? '-' : '+';
      const s = `${m}e${sign}${e.replace(/^[+-]/, '').padStart(2, '0')}`;
      return spec.verb === 'E' ? s.toUpperCase() : s;
    }
    default: {
      if (p === undefined) return goFloat(n);
      const s = n.toPrecision(Math.max(p, 1));
      return s.includes('e') ? s.replace(/e([+-])(\d)$/, 'e$10$2') : String(Number(s));
    }
  }
}

function formatOne(spec: Spec, v: Value): string {
  const isNum = typeof v === 'number' || typeof v === 'bigint';
  const isInt = typeof v === 'bigint' || (typeof v === 'number' && Number.isInteger(v));
  switch (spec.verb) {
    case 'v':
      return pad(typeof v === 'string' ? v : isNum ? numberString(v as number) : regoString(v), spec);
    case 's':
      if (typeof v === 'string')
        return pad(spec.prec !== undefined ? [...v].slice(0, spec.prec).join('') : v, spec);
      if (isNum) return pad(numberString(v as number), spec);
      return pad(regoString(v), spec);
    case 'q':
      return pad(typeof v === 'string' ? goQuote(v) : bad('q', v), spec);
    case 't':
      return pad(typeof v === 'boolean' ? String(v) : bad('t', v), spec);
    case 'd':
      if (!isInt) return bad('d', v);
      return pad(signed(integerText(v as number, 10, false), v as number, spec.flags), spec);
    case 'b':
    case 'o':
    case 'x':
    case 'X': {
      const upper = spec.verb === 'X';
      if (typeof v === 'string' && (spec.verb === 'x' || upper)) return pad(hexOfString(v, upper), spec);
      if (!isInt) {
        if (typeof v === 'number' && spec.verb !== 'o') return bad(spec.verb, v);
        return bad(spec.verb, v);
      }
      const radix = spec.verb === 'b' ? 2 : spec.verb === 'o' ? 8 : 16;
      let s = integerText(v as number, radix, upper);
      if (spec.flags.includes('#')) {
        const neg = s.startsWith('-');
        const body = neg ? s.slice(1) : s;
        const pre = radix === 16 ? (upper ? '0X' : '0x') : radix === 8 ? '0' : '';
        s = (neg ? '-' : '') + pre + body;
      }
      return pad(signed(s, v as number, spec.flags), spec);
    }
    case 'c':
      return isInt ? pad(String.fromCodePoint(Number(v)), spec) : bad('c', v);
    case 'U':
      return isInt ? pad(`U+${Number(v).toString(16).toUpperCase().padStart(4, '0')}`, spec) : bad('U', v);
    case 'e':
    case 'E':
    case 'f':
    case 'F':
    case 'g':
    case 'G':
      if (!isNum) return bad(spec.verb, v);
      return pad(signed(floatVerb(Number(v), spec), v as number, spec.flags), spec);
    default:
      return `%!${spec.verb}(${bad(spec.verb, v).slice(3 + spec.verb.length, -1)})`;
  }
}

/** Go's fmt.Sprintf over Rego values, as OPA's sprintf applies it. */
export function sprintf(format: string, args: Value[]): string {
  let out = '';
  let argi = 0;
  let i = 0;
  while (i < format.length) {
    const ch = format[i] as string;
    if (ch !== '%') {
      out += ch;
      i++;
      continue;
    }
    i++;
    if (format[i] === '%') {
      out += '%';
      i++;
      continue;
    }
    let flags = '';
    while (i < format.length && '+-# 0'.includes(format[i] as string)) flags += format[i++];
    let width: number | undefined;
    let prec: number | undefined;
    const wm = /^\d+/.exec(format.slice(i));
    if (wm) {
      width = Number(wm[0]);
      i += wm[0].length;
    }
    if (format[i] === '.') {
      i++;
      const pm = /^\d*/.exec(format.slice(i));
      prec = Number(pm?.[0] || '0');
      i += pm?.[0].length ?? 0;
    }
    if (i >= format.length) {
      out += '%!(NOVERB)';
      break;
    }
    const verb = String.fromCodePoint(format.codePointAt(i) ?? 0);
    i += verb.length;
    const spec: Spec = { flags, verb };
    if (width !== undefined) spec.width = width;
    if (prec !== undefined) spec.prec = prec;
    if (argi >= args.length) {
      out += `%!${verb}(MISSING)`;
      continue;
    }
    out += formatOne(spec, args[argi++] as Value);
  }
  if (argi < args.length) {
    out += `%!(EXTRA ${args
      .slice(argi)
      .map(
        (v) =>
          `${typeof v === 'string' ? 'string' : typeof v === 'number' ? (Number.isInteger(v) ? 'int' : 'float64') : 'ast.Value'}=${typeof v === 'string' ? v : regoString(v)}`,
      )
      .join(', ')})`;
  }
  return out;
}
