// Networks: CIDRs and addresses (IPv4 and IPv6) as bigint ranges.
import { type Args, builtinError, typeError } from './errors.js';
import type { Family } from './family.js';
import { RegoObject, RegoSet, typeName, type Value } from './value.js';

/** Most addresses net.cidr_expand may produce (untrusted prefixes). */
export const MAX_EXPAND = 65_536;

interface Net {
  v6: boolean;
  /** First address of the network. */
  base: bigint;
  prefix: number;
}

const bits = (n: Net) => (n.v6 ? 128 : 32);
const last = (n: Net) => n.base + (1n << BigInt(bits(n) - n.prefix)) - 1n;

function parseV4(s: string): bigint | undefined {
  const parts = s.split('.');
  if (parts.length !== 4) return undefined;
  let v = 0n;
  for (const p of parts) {
    if (!/^(0|[1-9]\d{0,2})$/.test(p) || Number(p) > 255) return undefined;
    v = (v << 8n) | BigInt(p);
  }
  return v;
}

function parseV6(s: string): bigint | undefined {
  if (s.includes('%')) return undefined;
  let head = s;
  let v4tail: bigint | undefined;
  const lastColon = s.lastIndexOf(':');
  if (s.slice(lastColon + 1).includes('.')) {
    v4tail = parseV4(s.slice(lastColon + 1));
    if (v4tail === undefined) return undefined;
    head = `${s.slice(0, lastColon + 1)}0:0`;
  }
  const dbl = head.split('::');
  if (dbl.length > 2) return undefined;
  const left = dbl[0] ? dbl[0].split(':') : [];
  const right = dbl.length === 2 && dbl[1] ? dbl[1].split(':') : [];
  const groups =
    dbl.length === 2 ? [...left, ...Array(8 - left.length - right.length).fill('0'), ...right] : left;
  if (groups.length !== 8 || (dbl.length === 2 && left.length + right.length > 7)) return undefined;
  let v = 0n;
  for (const g of groups) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
    v = (v << 16n) | BigInt(`0x${g}`);
  }
  if (v4tail !== undefined) v = (v & ~0xffffffffn) | v4tail;
  return v;
}

function parseIP(s: string): { v6: boolean; addr: bigint } | undefined {
  const v4 = parseV4(s);
  if (v4 !== undefined) return { v6: false, addr: v4 };
  const v6 = s.includes(':') ? parseV6(s) : undefined;
  if (v6 === undefined) return undefined;
  // An IPv4-mapped IPv6 address is the IPv4 address (Go's net.IP.To4).
  if (v6 >> 32n === 0xffffn) return { v6: false, addr: v6 & 0xffffffffn };
  return { v6: true, addr: v6 };
}

function parseCIDR(s: string): Net | undefined {
  const slash = s.indexOf('/');
  if (slash < 0) return undefined;
  const ip = parseIP(s.slice(0, slash));
  const p = s.slice(slash + 1);
  if (!ip || !/^\d{1,3}$/.test(p)) return undefined;
  const prefix = Number(p);
  const width = ip.v6 ? 128 : 32;
  if (prefix > width) return undefined;
  const mask = ((1n << BigInt(width)) - 1n) ^ ((1n << BigInt(width - prefix)) - 1n);
  return { v6: ip.v6, base: ip.addr & mask, prefix };
}

function cidr(name: string, s: string): Net {
  const n = parseCIDR(s);
  if (!n) throw builtinError(name, `invalid CIDR address: ${s}`);
  return n;
}

/** A CIDR or a single address (as a /32 or /128). */
function cidrOrIP(name: string, s: string): Net {
  const n = parseCIDR(s);
  if (n) return n;
  const ip = parseIP(s);
  if (!ip) throw builtinError(name, `invalid CIDR or IP address: ${s}`);
  return { v6: ip.v6, base: ip.addr, prefix: ip.v6 ? 128 : 32 };
}

const contains = (outer: Net, inner: Net) =>
  outer.v6 === inner.v6 &&
  inner.prefix >= outer.prefix &&
  inner.base >= outer.base &&
  last(inner) <= last(outer);
const intersects = (a: Net, b: Net) => a.v6 === b.v6 && a.base <= last(b) && b.base <= last(a);

function ipText(v6: boolean, addr: bigint): string {
  if (!v6) return [24n, 16n, 8n, 0n].map((s) => String((addr >> s) & 255n)).join('.');
  const groups: number[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((addr >> BigInt(i * 16)) & 0xffffn));
  // Longest run of zero groups (length ≥ 2) becomes "::".
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

const netText = (n: Net) => `${ipText(n.v6, n.base)}/${n.prefix}`;

/** Smallest list of CIDRs covering the same addresses. */
function merge(nets: Net[]): Net[] {
  const out: Net[] = [];
  for (const v6 of [false, true]) {
    const ranges = nets
      .filter((n) => n.v6 === v6)
      .map((n) => [n.base, last(n)] as [bigint, bigint])
      .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    const merged: [bigint, bigint][] = [];
    for (const r of ranges) {
      const top = merged[merged.length - 1];
      if (top && r[0] <= top[1] + 1n) {
        if (r[1] > top[1]) top[1] = r[1];
      } else merged.push([r[0], r[1]]);
    }
    const width = v6 ? 128 : 32;
    for (let [lo, hi] of merged) {
      while (lo <= hi) {
        let size = width;
        while (size > 0) {
          const block = 1n << BigInt(width - size + 1);
          if (lo % block !== 0n || lo + block - 1n > hi) break;
          size--;
        }
        out.push({ v6, base: lo, prefix: size });
        lo += 1n << BigInt(width - size);
      }
    }
  }
  return out;
}

/** Entries of cidr_contains_matches operands: [key, cidr text]. */
function matchEntries(a: Args, pos: number): [Value, string][] {
  const v = a.at(pos);
  const first = (x: Value): string => {
    if (typeof x === 'string') return x;
    if (Array.isArray(x) && typeof x[0] === 'string') return x[0];
    throw typeError(
      a.name,
      `operand ${pos} must be one of {string, array, set, object} of strings or [string, …] but got ${typeName(x)}`,
    );
  };
  if (typeof v === 'string') return [[v, v]];
  if (Array.isArray(v)) return v.map((x, i) => [i, first(x)]);
  if (v instanceof RegoSet) return [...v].map((x) => [x, first(x)]);
  if (v instanceof RegoObject) return [...v].map(([k, x]) => [k, first(x)]);
  return a.wrong(pos, 'one of {string, array, set, object}');
}

export const net: Family = {
  'net.cidr_contains': (a) => contains(cidr(a.name, a.string(1)), cidrOrIP(a.name, a.string(2))),
  'net.cidr_intersects': (a) => intersects(cidr(a.name, a.string(1)), cidr(a.name, a.string(2))),
  'net.cidr_is_valid': (a) => parseCIDR(a.string(1)) !== undefined,
  'net.cidr_expand': (a) => {
    const n = cidr(a.name, a.string(1));
    const count = 1n << BigInt(bits(n) - n.prefix);
    if (count > BigInt(MAX_EXPAND))
      throw builtinError(a.name, `CIDR ${a.string(1)} has more than ${MAX_EXPAND} addresses`);
    const out = new RegoSet();
    for (let i = 0n; i < count; i++) out.add(ipText(n.v6, n.base + i));
    return out;
  },
  'net.cidr_merge': (a) => {
    const items = a.strings(1);
    const nets = items.map((s) => {
      const n = parseCIDR(s);
      if (n) return n;
      const ip = parseIP(s);
      if (!ip) throw builtinError(a.name, `invalid CIDR or IP address: ${s}`);
      if (ip.v6) throw builtinError(a.name, 'IPv6 invalid: needs prefix length');
      return { v6: false, base: ip.addr, prefix: 32 };
    });
    return new RegoSet(merge(nets).map(netText));
  },
  'net.cidr_contains_matches': (a) => {
    const outer = matchEntries(a, 1).map(([k, s]) => [k, cidr(a.name, s)] as const);
    const inner = matchEntries(a, 2).map(([k, s]) => [k, cidrOrIP(a.name, s)] as const);
    const out = new RegoSet();
    for (const [ko, o] of outer) for (const [ki, i] of inner) if (contains(o, i)) out.add([ko, ki]);
    return out;
  },
};
