// Time: nanoseconds since the epoch (exact, as bigint), Go's layouts and
// durations, IANA zones through Intl.
import { Args, builtinError, typeError } from './errors.js';
import type { Family } from './family.js';
import { num, type Value } from './value.js';

const NS_PER_MS = 1_000_000n;
const NS_PER_S = 1_000_000_000n;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const DAY_NAMES = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const MONTH_NAMES = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
];

function inRange(name: string, ns: bigint): bigint {
  if (ns < INT64_MIN || ns > INT64_MAX) throw builtinError(name, 'time outside of valid range');
  return ns;
}

function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && a < 0n !== b < 0n ? q - 1n : q;
}

// ------------------------------------------------------------ zones
interface Wall {
  year: number;
  month: number; // 1-12
  day: number;
  hour: number;
  minute: number;
  second: number;
  nanos: number;
  weekday: number; // 0 = Sunday
  yday: number;
  offset: number; // seconds east of UTC
  abbrev: string;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(zone: string): Intl.DateTimeFormat {
  let f = formatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
      era: 'short',
      timeZoneName: 'short',
    });
    if (formatters.size > 128) formatters.clear();
    formatters.set(zone, f);
  }
  return f;
}

/** Validates a zone name: "" and "UTC" are UTC, "Local" the host's zone, else IANA. */
function zoneOf(name: string, tz: string): string {
  if (tz === '' || tz === 'UTC') return 'UTC';
  if (tz === 'Local') return Intl.DateTimeFormat().resolvedOptions().timeZone;
  try {
    formatter(tz);
  } catch {
    throw builtinError(name, `unknown time zone ${tz}`);
  }
  return tz;
}

function civilFromDays(days: number): [number, number, number] {
  const d = new Date(days * 86400000);
  return [d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate()];
}

function daysFromCivil(y: number, m: number, d: number): number {
  const t = new Date(0);
  t.setUTCFullYear(y, m - 1, d);
  t.setUTCHours(0, 0, 0, 0);
  return Math.floor(t.getTime() / 86400000);
}

function wallOf(ns: bigint, zone: string): Wall {
  const secs = floorDiv(ns, NS_PER_S);
  const nanos = Number(ns - secs * NS_PER_S);
  let offset = 0;
  let abbrev = 'UTC';
  if (zone !== 'UTC') {
    const parts = formatter(zone).formatToParts(new Date(Number(secs) * 1000));
    const get = (t: string) => parts.find((p) => p.type === t)?.value ?? '0';
    let y = Number(get('year'));
    if (get('era') === 'BC' || get('era') === 'B') y = 1 - y;
    const asUTC = Date.UTC(
      y,
      Number(get('month')) - 1,
      Number(get('day')),
      Number(get('hour')),
      Number(get('minute')),
      Number(get('second')),
    );
    const fixed = new Date(asUTC);
    if (y >= 0 && y < 100) fixed.setUTCFullYear(y);
    offset = Math.round((fixed.getTime() - Number(secs) * 1000) / 1000);
    abbrev = get('timeZoneName');
    if (/^GMT[+-]/.test(abbrev) || abbrev === 'GMT') {
      const sign = offset < 0 ? '-' : '+';
      const a = Math.abs(offset);
      abbrev =
        offset === 0
          ? 'UTC'
          : `${sign}${String(Math.floor(a / 3600)).padStart(2, '0')}${a % 3600 ? String(Math.floor((a % 3600) / 60)).padStart(2, '0') : ''}`;
    }
  }
  const local = Number(secs) + offset;
  const days = Math.floor(local / 86400);
  const rem = local - days * 86400;
  const [year, month, day] = civilFromDays(days);
  const weekday = (((days + 4) % 7) + 7) % 7;
  const yday = days - daysFromCivil(year, 1, 1) + 1;
  return {
    year,
    month,
    day,
    hour: Math.floor(rem / 3600),
    minute: Math.floor((rem % 3600) / 60),
    second: rem % 60,
    nanos,
    weekday,
    yday,
    offset,
    abbrev,
  };
}

/** ns since the epoch of a wall-clock time in a zone (offset from the zone at that time). */
function fromWall(
  y: number,
  mo: number,
  d: number,
  h: number,
  mi: number,
  s: number,
  nanos: bigint,
  zone: string | number,
): bigint {
  const days = BigInt(daysFromCivil(y, mo, d));
  const localSecs = days * 86400n + BigInt(h * 3600 + mi * 60 + s);
  let offset: number;
  if (typeof zone === 'number') offset = zone;
  else if (zone === 'UTC') offset = 0;
  else {
    // Two passes settle the offset across transitions.
    offset = wallOf(localSecs * NS_PER_S, zone).offset;
    offset = wallOf((localSecs - BigInt(offset)) * NS_PER_S, zone).offset;
  }
  return (localSecs - BigInt(offset)) * NS_PER_S + nanos;
}

// ------------------------------------------------------------ operands
function nsOperand(a: Args, pos: number): bigint {
  const v = a.number(pos);
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw builtinError(a.name, 'timestamp too big');
    const b = BigInt(Math.trunc(v));
    if (b < INT64_MIN || b > INT64_MAX) throw builtinError(a.name, 'timestamp too big');
    return b;
  }
  if (v < INT64_MIN || v > INT64_MAX) throw builtinError(a.name, 'timestamp too big');
  return v;
}

/** number | [number, tz] | [number, tz, layout] */
function timeOperand(
  a: Args,
  pos: number,
  allowLayout: boolean,
): { ns: bigint; zone: string; layout?: string } {
  const v = a.at(pos);
  if (typeof v === 'number' || typeof v === 'bigint') return { ns: nsOperand(a, pos), zone: 'UTC' };
  if (Array.isArray(v) && (v.length === 2 || (allowLayout && v.length === 3))) {
    const [t, tz, layout] = v as [Value, Value, Value | undefined];
    if (typeof t !== 'number' && typeof t !== 'bigint')
      throw typeError(a.name, `operand ${pos} must be number but got ${typeof t}`);
    if (typeof tz !== 'string') throw typeError(a.name, `operand ${pos} time zone must be a string`);
    const ns = new Args(a.name, [t]);
    const out: { ns: bigint; zone: string; layout?: string } = {
      ns: nsOperand(ns, 1),
      zone: zoneOf(a.name, tz),
    };
    if (layout !== undefined) {
      if (typeof layout !== 'string') throw typeError(a.name, `operand ${pos} layout must be a string`);
      out.layout = layout;
    }
    return out;
  }
  return a.wrong(pos, allowLayout ? 'one of {number, array}' : 'one of {number, array}');
}

// ------------------------------------------------------------ Go layouts
const NAMED_LAYOUTS: Record<string, string> = {
  ANSIC: 'Mon Jan _2 15:04:05 2006',
  UnixDate: 'Mon Jan _2 15:04:05 MST 2006',
  RubyDate: 'Mon Jan 02 15:04:05 -0700 2006',
  RFC822: '02 Jan 06 15:04 MST',
  RFC822Z: '02 Jan 06 15:04 -0700',
  RFC850: 'Monday, 02-Jan-06 15:04:05 MST',
  RFC1123: 'Mon, 02 Jan 2006 15:04:05 MST',
  RFC1123Z: 'Mon, 02 Jan 2006 15:04:05 -0700',
  RFC3339: '2006-01-02T15:04:05Z07:00',
  RFC3339Nano: '2006-01-02T15:04:05.999999999Z07:00',
  Kitchen: '3:04PM',
  Stamp: 'Jan _2 15:04:05',
  StampMilli: 'Jan _2 15:04:05.000',
  StampMicro: 'Jan _2 15:04:05.000000',
  StampNano: 'Jan _2 15:04:05.000000000',
  DateTime: '2006-01-02 15:04:05',
  DateOnly: '2006-01-02',
  TimeOnly: '15:04:05',
};

// Longest first so that "January" wins over "Jan", "2006" over "2".
const TOKENS = [
  'January',
  'Monday',
  'Z07:00:00',
  '-07:00:00',
  'Z07:00',
  '-07:00',
  'Z0700',
  '-0700',
  '2006',
  '_2',
  '002',
  '__2',
  'Jan',
  'Mon',
  'MST',
  'Z07',
  '-07',
  '01',
  '02',
  '03',
  '04',
  '05',
  '06',
  '15',
  'PM',
  'pm',
  '1',
  '2',
  '3',
  '4',
  '5',
];

type Tok = { lit: string } | { tok: string } | { frac: string };

function tokenize(layout: string): Tok[] {
  const out: Tok[] = [];
  let lit = '';
  let i = 0;
  const flush = () => {
    if (lit) out.push({ lit });
    lit = '';
  };
  while (i < layout.length) {
    const rest = layout.slice(i);
    const frac = /^[.,](0+|9+)(?!\d)/.exec(rest);
    if (frac && /\d/.test(layout[i - 1] ?? '')) {
      flush();
      out.push({ frac: frac[0] });
      i += frac[0].length;
      continue;
    }
    const t = TOKENS.find((x) => rest.startsWith(x));
    if (t) {
      flush();
      out.push({ tok: t });
      i += t.length;
      continue;
    }
    lit += layout[i];
    i++;
  }
  flush();
  return out;
}

const pad = (n: number, w: number) => String(n).padStart(w, '0');

function offsetText(off: number, tok: string): string {
  if (tok.startsWith('Z') && off === 0) return 'Z';
  const sign = off < 0 ? '-' : '+';
  const a = Math.abs(off);
  const hh = pad(Math.floor(a / 3600), 2);
  const mm = pad(Math.floor((a % 3600) / 60), 2);
  const ss = pad(a % 60, 2);
  const core = tok.replace(/^Z/, '-');
  if (core === '-07') return `${sign}${hh}`;
  if (core === '-0700') return `${sign}${hh}${mm}`;
  if (core === '-07:00') return `${sign}${hh}:${mm}`;
  return `${sign}${hh}:${mm}:${ss}`;
}

function format(ns: bigint, zone: string, layout: string): string {
  const w = wallOf(ns, zone);
  let out = '';
  for (const t of tokenize(NAMED_LAYOUTS[layout] ?? layout)) {
    if ('lit' in t) out += t.lit;
    else if ('frac' in t) {
      const digits = t.frac.length - 1;
      let f = pad(w.nanos, 9).slice(0, digits);
      if (t.frac[1] === '9') {
        f = f.replace(/0+$/, '');
        out += f ? `${t.frac[0]}${f}` : '';
      } else out += `${t.frac[0]}${f}`;
    } else {
      const h12 = w.hour % 12 === 0 ? 12 : w.hour % 12;
      switch (t.tok) {
        case '2006':
          out += pad(w.year, 4);
          break;
        case '06':
          out += pad(((w.year % 100) + 100) % 100, 2);
          break;
        case 'January':
          out += MONTH_NAMES[w.month - 1];
          break;
        case 'Jan':
          out += MONTH_NAMES[w.month - 1]?.slice(0, 3);
          break;
        case '01':
          out += pad(w.month, 2);
          break;
        case '1':
          out += String(w.month);
          break;
        case 'Monday':
          out += DAY_NAMES[w.weekday];
          break;
        case 'Mon':
          out += DAY_NAMES[w.weekday]?.slice(0, 3);
          break;
        case '02':
          out += pad(w.day, 2);
          break;
        case '_2':
          out += String(w.day).padStart(2, ' ');
          break;
        case '2':
          out += String(w.day);
          break;
        case '002':
          out += pad(w.yday, 3);
          break;
        case '__2':
          out += String(w.yday).padStart(3, ' ');
          break;
        case '15':
          out += pad(w.hour, 2);
          break;
        case '03':
          out += pad(h12, 2);
          break;
        case '3':
          out += String(h12);
          break;
        case '04':
          out += pad(w.minute, 2);
          break;
        case '4':
          out += String(w.minute);
          break;
        case '05':
          out += pad(w.second, 2);
          break;
        case '5':
          out += String(w.second);
          break;
        case 'PM':
          out += w.hour >= 12 ? 'PM' : 'AM';
          break;
        case 'pm':
          out += w.hour >= 12 ? 'pm' : 'am';
          break;
        case 'MST':
          out += w.abbrev;
          break;
        default:
          out += offsetText(w.offset, t.tok);
      }
    }
  }
  return out;
}

function parseLayout(name: string, layoutIn: string, value: string): bigint {
  const layout = NAMED_LAYOUTS[layoutIn] ?? layoutIn;
  const toks = tokenize(layout);
  let i = 0;
  let year = 1;
  let month = 1;
  let day = 1;
  let hour = 0;
  let minute = 0;
  let second = 0;
  let nanos = 0n;
  let pm: boolean | undefined;
  let offset: number | undefined;
  const fail = (what: string): never => {
    throw builtinError(
      name,
      `parsing time ${JSON.stringify(value)} as ${JSON.stringify(layout)}: cannot parse ${JSON.stringify(value.slice(i))} as ${JSON.stringify(what)}`,
    );
  };
  const digits = (min: number, max: number, what: string): number => {
    const m = new RegExp(`^\\d{${min},${max}}`).exec(value.slice(i));
    if (!m) return fail(what);
    i += m[0].length;
    return Number(m[0]);
  };
  const word = (list: string[], len: number | undefined, what: string): number => {
    const rest = value.slice(i).toLowerCase();
    const idx = list.findIndex((x) => rest.startsWith((len ? x.slice(0, len) : x).toLowerCase()));
    if (idx < 0) return fail(what);
    i += len ?? (list[idx] as string).length;
    return idx;
  };
  for (let k = 0; k < toks.length; k++) {
    const t = toks[k] as Tok;
    if ('lit' in t) {
      if (!value.startsWith(t.lit, i)) fail(t.lit);
      i += t.lit.length;
      continue;
    }
    if ('frac' in t) {
      const m = /^[.,](\d+)/.exec(value.slice(i));
      if (!m) {
        if (t.frac[1] === '9') continue;
        fail(t.frac);
      }
      const f = (m as RegExpExecArray)[1] as string;
      nanos = BigInt(f.slice(0, 9).padEnd(9, '0'));
      i += (m as RegExpExecArray)[0].length;
      continue;
    }
    switch (t.tok) {
      case '2006':
        year = digits(4, 4, '2006');
        break;
      case '06': {
        const y = digits(2, 2, '06');
        year = y >= 69 ? 1900 + y : 2000 + y;
        break;
      }
      case 'January':
        month = word(MONTH_NAMES, undefined, 'January') + 1;
        break;
      case 'Jan':
        month = word(MONTH_NAMES, 3, 'Jan') + 1;
        break;
      case '01':
        month = digits(2, 2, '01');
        break;
      case '1':
        month = digits(1, 2, '1');
        break;
      case 'Monday':
        word(DAY_NAMES, undefined, 'Monday');
        break;
      case 'Mon':
        word(DAY_NAMES, 3, 'Mon');
        break;
      case '02':
        day = digits(2, 2, '02');
        break;
      case '_2':
        if (value[i] === ' ') i++;
        day = digits(1, 2, '_2');
        break;
      case '2':
        day = digits(1, 2, '2');
        break;
      case '002':
      case '__2':
        digits(1, 3, t.tok);
        break;
      case '15':
        hour = digits(1, 2, '15');
        break;
      case '03':
        hour = digits(2, 2, '03');
        break;
      case '3':
        hour = digits(1, 2, '3');
        break;
      case '04':
        minute = digits(2, 2, '04');
        break;
      case '4':
        minute = digits(1, 2, '4');
        break;
      case '05':
      case '5': {
        second = digits(t.tok === '05' ? 2 : 1, 2, t.tok);
        // Go accepts a fraction after seconds even if the layout has none.
        const next = toks[k + 1];
        if (!(next && 'frac' in next)) {
          const m = /^[.,](\d+)/.exec(value.slice(i));
          if (m) {
            nanos = BigInt((m[1] as string).slice(0, 9).padEnd(9, '0'));
            i += m[0].length;
          }
        }
        break;
      }
      case 'PM':
      case 'pm': {
        const s = value.slice(i, i + 2).toUpperCase();
        if (s !== 'AM' && s !== 'PM') fail(t.tok);
        pm = s === 'PM';
        i += 2;
        break;
      }
      case 'MST': {
        const m = /^[A-Z]{3,5}|^[+-]\d{2,4}/.exec(value.slice(i));
        if (!m) fail('MST');
        i += (m as RegExpExecArray)[0].length;
        if ((m as RegExpExecArray)[0] === 'UTC' || (m as RegExpExecArray)[0] === 'GMT') offset = 0;
        break;
      }
      default: {
        if (t.tok.startsWith('Z') && (value[i] === 'Z' || value[i] === 'z')) {
          i++;
          offset = 0;
          break;
        }
        const re = t.tok.endsWith('07:00:00')
          ? /^([+-])(\d{2}):(\d{2}):(\d{2})/
          : t.tok.endsWith('07:00')
            ? /^([+-])(\d{2}):(\d{2})/
            : t.tok.endsWith('0700')
              ? /^([+-])(\d{2})(\d{2})/
              : /^([+-])(\d{2})/;
        const m = re.exec(value.slice(i));
        if (!m) fail(t.tok);
        const mm = m as RegExpExecArray;
        const secs = Number(mm[2]) * 3600 + Number(mm[3] ?? 0) * 60 + Number(mm[4] ?? 0);
        offset = mm[1] === '-' ? -secs : secs;
        i += mm[0].length;
      }
    }
  }
  if (i !== value.length)
    throw builtinError(
      name,
      `parsing time ${JSON.stringify(value)}: extra text: ${JSON.stringify(value.slice(i))}`,
    );
  if (pm !== undefined) {
    if (hour > 12) throw builtinError(name, `parsing time ${JSON.stringify(value)}: hour out of range`);
    if (pm && hour < 12) hour += 12;
    if (!pm && hour === 12) hour = 0;
  }
  if (month < 1 || month > 12)
    throw builtinError(name, `parsing time ${JSON.stringify(value)}: month out of range`);
  const dim = new Date(Date.UTC(2000, month, 0)).getUTCDate();
  const maxDay = month === 2 ? (year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28) : dim;
  if (day < 1 || day > maxDay)
    throw builtinError(name, `parsing time ${JSON.stringify(value)}: day out of range`);
  if (hour > 23 || minute > 59 || second > 59)
    throw builtinError(name, `parsing time ${JSON.stringify(value)}: time out of range`);
  return inRange(name, fromWall(year, month, day, hour, minute, second, nanos, offset ?? 'UTC'));
}

// ------------------------------------------------------------ durations (Go's time.ParseDuration)
const UNIT_NS: Record<string, number> = {
  ns: 1,
  us: 1e3,
  µs: 1e3,
  μs: 1e3,
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};

function parseDuration(name: string, s: string): bigint {
  const bad = () => builtinError(name, `time: invalid duration ${JSON.stringify(s)}`);
  let rest = s;
  let neg = false;
  if (rest.startsWith('-') || rest.startsWith('+')) {
    neg = rest.startsWith('-');
    rest = rest.slice(1);
  }
  if (rest === '0') return 0n;
  if (rest === '') throw bad();
  let total = 0;
  let exact = 0n;
  while (rest) {
    const m = /^(\d*)(?:\.(\d*))?(ns|us|µs|μs|ms|s|m|h)/.exec(rest);
    if (!m || (m[1] === '' && (m[2] ?? '') === '')) {
      if (/^[\d.]+$/.test(rest))
        throw builtinError(name, `time: missing unit in duration ${JSON.stringify(s)}`);
      throw bad();
    }
    const unit = UNIT_NS[m[3] as string] as number;
    exact += BigInt(m[1] || '0') * BigInt(unit);
    if (m[2]) total += Number(`0.${m[2]}`) * unit;
    rest = rest.slice(m[0].length);
  }
  const ns = exact + BigInt(Math.round(total));
  if (ns > INT64_MAX) throw builtinError(name, `time: invalid duration ${JSON.stringify(s)}`);
  return neg ? -ns : ns;
}

function parseRFC3339(name: string, s: string): bigint {
  const m = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})$/.exec(s);
  if (!m)
    throw builtinError(
      name,
      `parsing time ${JSON.stringify(s)} as "2006-01-02T15:04:05Z07:00": cannot parse`,
    );
  return parseLayout(name, '2006-01-02T15:04:05.999999999Z07:00', s.replace(/t/, 'T').replace(/z$/, 'Z'));
}

function addDate(ns: bigint, years: number, months: number, days: number): bigint {
  const secs = floorDiv(ns, NS_PER_S);
  const nanos = ns - secs * NS_PER_S;
  const d = new Date(Number(secs) * 1000);
  const y = d.getUTCFullYear() + years;
  const mo = d.getUTCMonth() + months;
  const t = new Date(0);
  t.setUTCFullYear(y, mo, d.getUTCDate() + days);
  t.setUTCHours(d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds(), 0);
  // Beyond what a date can hold (JavaScript's NaN time): OPA's out-of-range error.
  if (Number.isNaN(t.getTime())) throw builtinError('time.add_date', 'time outside of valid range');
  return BigInt(t.getTime()) * NS_PER_MS + nanos;
}

function diff(a: Wall, b: Wall): number[] {
  // b is the later time; borrow from the larger units like OPA's time.diff.
  let year = b.year - a.year;
  let month = b.month - a.month;
  let day = b.day - a.day;
  let hour = b.hour - a.hour;
  let min = b.minute - a.minute;
  let sec = b.second - a.second;
  if (sec < 0) {
    sec += 60;
    min--;
  }
  if (min < 0) {
    min += 60;
    hour--;
  }
  if (hour < 0) {
    hour += 24;
    day--;
  }
  if (day < 0) {
    day += new Date(Date.UTC(a.year, a.month, 0)).getUTCDate();
    month--;
  }
  if (month < 0) {
    month += 12;
    year--;
  }
  return [year, month, day, hour, min, sec];
}

export const time: Family = {
  'time.now_ns': (_a, ctx) => num(ctx.now()),
  'time.parse_rfc3339_ns': (a) => num(parseRFC3339(a.name, a.string(1))),
  'time.parse_ns': (a) => num(parseLayout(a.name, a.string(1), a.string(2))),
  'time.parse_duration_ns': (a) => num(parseDuration(a.name, a.string(1))),
  'time.date': (a) => {
    const t = timeOperand(a, 1, false);
    const w = wallOf(t.ns, t.zone);
    return [w.year, w.month, w.day];
  },
  'time.clock': (a) => {
    const t = timeOperand(a, 1, false);
    const w = wallOf(t.ns, t.zone);
    return [w.hour, w.minute, w.second];
  },
  'time.weekday': (a) => {
    const t = timeOperand(a, 1, false);
    return DAY_NAMES[wallOf(t.ns, t.zone).weekday] as string;
  },
  'time.add_date': (a) => {
    const ns = nsOperand(a, 1);
    return num(inRange(a.name, addDate(ns, a.int(2), a.int(3), a.int(4))));
  },
  'time.diff': (a) => {
    const x = timeOperand(a, 1, false);
    const y = timeOperand(a, 2, false);
    // Both on the first operand's wall clock (as OPA's: the second is moved into the first's zone).
    const [early, late] = x.ns <= y.ns ? [x.ns, y.ns] : [y.ns, x.ns];
    return diff(wallOf(early, x.zone), wallOf(late, x.zone));
  },
  'time.format': (a) => {
    const t = timeOperand(a, 1, true);
    return format(t.ns, t.zone, t.layout ?? 'RFC3339Nano');
  },
};
