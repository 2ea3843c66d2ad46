// Units, semantic versions, UUIDs, randomness and print.
import { randomInt, randomUUID } from 'node:crypto';
import { builtinError } from './errors.js';
import type { Family } from './family.js';
import { regoString } from './format.js';
import { num, RegoObject, RegoSet, type Value } from './value.js';

// ------------------------------------------------------------ units
const DECIMAL_UNITS: Record<string, number> = { '': 0, k: 3, m: 6, g: 9, t: 12, p: 15, e: 18 };
const BINARY_UNITS: Record<string, number> = { ki: 10, mi: 20, gi: 30, ti: 40, pi: 50, ei: 60 };

/** digits × 2^pow2 × 10^pow10, exact when an integer, else the nearest double. */
function scaled(mantissa: string, pow10: number, pow2: number): number | bigint {
  const [int = '', frac = ''] = mantissa.split('.');
  const digits = BigInt(`${int}${frac}` || '0') << BigInt(pow2);
  const exp = pow10 - frac.length;
  if (exp >= 0) return num(digits * 10n ** BigInt(exp));
  return Number(`${digits}e${exp}`);
}

function parseUnits(name: string, input: string, bytes: boolean): number | bigint {
  const s = input.replace(/"/g, '').trim();
  const m = /^([+-]?)(\d+\.?\d*|\.\d+)([a-zA-Z]*)$/.exec(s);
  if (!m)
    throw builtinError(name, bytes ? 'could not parse byte amount' : 'could not parse amount to a number');
  const sign = m[1] === '-' ? -1 : 1;
  const mant = m[2] as string;
  let unit = m[3] as string;
  let v: number | bigint;
  if (bytes) {
    unit = unit.toLowerCase().replace(/b$/, '');
    if (unit in BINARY_UNITS) v = scaled(mant, 0, BINARY_UNITS[unit] as number);
    else if (unit in DECIMAL_UNITS) v = scaled(mant, DECIMAL_UNITS[unit] as number, 0);
    else throw builtinError(name, `byte unit ${JSON.stringify(m[3])} not recognized`);
    // Bytes are whole.
    if (typeof v === 'number') v = num(Math.trunc(v));
  } else {
    const lower = unit.toLowerCase();
    if (unit === 'm') v = scaled(mant, -3, 0);
    else if (lower in BINARY_UNITS && unit.endsWith('i')) v = scaled(mant, 0, BINARY_UNITS[lower] as number);
    else if (lower in DECIMAL_UNITS && lower !== 'm') v = scaled(mant, DECIMAL_UNITS[lower] as number, 0);
    else if (unit === 'M') v = scaled(mant, 6, 0);
    else throw builtinError(name, `unit ${JSON.stringify(unit)} not recognized`);
  }
  if (sign < 0) v = typeof v === 'bigint' ? num(-v) : num(-v);
  return v;
}

// ------------------------------------------------------------ semver (SemVer 2.0.0, no "v" prefix)
const SEMVER =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/;

function semver(name: string, s: string): [bigint, bigint, bigint, string[]] {
  const m = SEMVER.exec(s);
  if (!m) throw builtinError(name, `string ${JSON.stringify(s)} is not a valid SemVer`);
  return [
    BigInt(m[1] as string),
    BigInt(m[2] as string),
    BigInt(m[3] as string),
    m[4] ? m[4].split('.') : [],
  ];
}

function comparePre(a: string[], b: string[]): number {
  if (a.length === 0 || b.length === 0) return a.length === b.length ? 0 : a.length === 0 ? 1 : -1;
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const x = a[i] as string;
    const y = b[i] as string;
    const xn = /^\d+$/.test(x);
    const yn = /^\d+$/.test(y);
    if (xn && yn) {
      const d = BigInt(x) - BigInt(y);
      if (d !== 0n) return d < 0n ? -1 : 1;
    } else if (xn !== yn) return xn ? -1 : 1;
    else if (x !== y) return x < y ? -1 : 1;
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

// ------------------------------------------------------------ uuid
const UUID =
  /^(?:urn:uuid:)?\{?([0-9a-fA-F]{8})-?([0-9a-fA-F]{4})-?([0-9a-fA-F]{4})-?([0-9a-fA-F]{4})-?([0-9a-fA-F]{12})\}?$/;

function parseUUID(s: string): Value | undefined {
  const m = UUID.exec(s);
  if (!m) return undefined;
  const hex = m.slice(1, 6).join('').toLowerCase();
  const bytes = Buffer.from(hex, 'hex');
  const version = (bytes[6] as number) >> 4;
  const v8 = bytes[8] as number;
  const variant =
    v8 >> 7 === 0
      ? 'Reserved, NCS backward compatibility'
      : v8 >> 6 === 2
        ? 'RFC4122'
        : v8 >> 5 === 6
          ? 'Reserved, Microsoft Corporation backward compatibility'
          : 'Reserved, future definition';
  const out = RegoObject.fromRecord({ version, variant });
  if (version === 1 || version === 2) {
    const timeLow = BigInt(`0x${hex.slice(0, 8)}`);
    const timeMid = BigInt(`0x${hex.slice(8, 12)}`);
    const timeHi = BigInt(`0x${hex.slice(13, 16)}`);
    const ticks = (timeHi << 48n) | (timeMid << 32n) | timeLow;
    // 100 ns ticks since 1582-10-15 → ns since the Unix epoch.
    out.set('time', num((ticks - 122192928000000000n) * 100n));
    out.set('clocksequence', ((v8 & 0x3f) << 8) | (bytes[9] as number));
    const node = hex.slice(20);
    out.set('nodeid', node.match(/../g)?.join('-') ?? node);
    const first = bytes[10] as number;
    out.set('macvariables', `${first & 2 ? 'local' : 'global'}:${first & 1 ? 'multicast' : 'unicast'}`);
    if (version === 2) {
      out.set('id', Number(timeLow));
      out.set('domain', ['Person', 'Group', 'Org'][bytes[9] as number] ?? `Domain${bytes[9]}`);
    }
  }
  return out;
}

// ------------------------------------------------------------ print
function printOperand(v: Value): string {
  const alternatives = v instanceof RegoSet ? [...v] : Array.isArray(v) ? v : [v];
  if (alternatives.length === 0) return '<undefined>';
  if (alternatives.length === 1) {
    const x = alternatives[0] as Value;
    return typeof x === 'string' ? x : regoString(x);
  }
  return regoString(new RegoSet(alternatives));
}

export const misc: Family = {
  'units.parse': (a) => parseUnits(a.name, a.string(1), false),
  'units.parse_bytes': (a) => parseUnits(a.name, a.string(1), true),
  'semver.is_valid': (a) => {
    const v = a.at(1);
    return typeof v === 'string' && SEMVER.test(v);
  },
  'semver.compare': (a) => {
    const x = semver(a.name, a.string(1));
    const y = semver(a.name, a.string(2));
    for (let i = 0; i < 3; i++) {
      const d = (x[i] as bigint) - (y[i] as bigint);
      if (d !== 0n) return d < 0n ? -1 : 1;
    }
    return comparePre(x[3], y[3]);
  },
  'uuid.rfc4122': (a, ctx) => {
    const key = `uuid.rfc4122\u0000${a.string(1)}`;
    let v = ctx.memo.get(key);
    if (v === undefined) {
      v = randomUUID();
      ctx.memo.set(key, v);
    }
    return v;
  },
  'uuid.parse': (a) => parseUUID(a.string(1)),
  'rand.intn': (a, ctx) => {
    const s = a.string(1);
    const n = a.int(2);
    const key = `rand.intn\u0000${s}\u0000${n}`;
    let v = ctx.memo.get(key);
    if (v === undefined) {
      const bound = Math.abs(n);
      v = bound === 0 ? 0 : randomInt(Math.min(bound, 2 ** 48 - 1));
      ctx.memo.set(key, v);
    }
    return v;
  },
  'internal.print': (a, ctx) => {
    ctx.print(a.collection(1, 'array').map(printOperand).join(' '));
    return true;
  },
};
