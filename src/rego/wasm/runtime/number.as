// Airlock Wasm runtime — numbers.
//
// OPA numbers are exact. A number is either a plain i64 (hasInt, no text) or
// the literal text it was parsed from (isRef), which is what gets dumped, so
// 1e400 and 123456789012345678901234567890 survive a round trip unchanged.
// Comparison uses an exact decimal form built on demand:
//   canon { neg: u8, nd: u32, exp: i32, digits }
// meaning (neg ? -1 : 1) × 0.d1d2…dnd × 10^exp, with no leading or trailing
// zero digits; zero has nd = 0. A text number that is an integer within i64
// also gets hasInt, so hashing and the fast paths treat 1, 1.0 and 1e0 alike.

import { alloc } from "./heap";
import { NumV, T_NUMBER } from "./value";

@unmanaged
export class Canon {
  neg: u8;
  nd: u32;
  exp: i32;
  digits: usize;
}

const EXP_LIMIT: i32 = 1000000000;

@inline
function isDigit(c: u32): bool {
  return c - 0x30 < 10;
}

/**
 * Length of the JSON number grammar match at [p, end): -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
 * Returns 0 when there is no valid number there.
 */
export function scanNumber(p: usize, end: usize): usize {
  let q = p;
  if (q < end && load<u8>(q) == 0x2d) q++;
  if (q >= end) return 0;
  const c = <u32>load<u8>(q);
  if (c == 0x30) {
    q++;
  } else if (c >= 0x31 && c <= 0x39) {
    while (q < end && isDigit(<u32>load<u8>(q))) q++;
  } else {
    return 0;
  }
  if (q < end && load<u8>(q) == 0x2e) {
    q++;
    if (q >= end || !isDigit(<u32>load<u8>(q))) return 0;
    while (q < end && isDigit(<u32>load<u8>(q))) q++;
  }
  if (q < end && (load<u8>(q) | 0x20) == 0x65) {
    q++;
    if (q < end && (load<u8>(q) == 0x2b || load<u8>(q) == 0x2d)) q++;
    if (q >= end || !isDigit(<u32>load<u8>(q))) return 0;
    while (q < end && isDigit(<u32>load<u8>(q))) q++;
  }
  return q - p;
}

/** Builds a number from valid JSON number text (see scanNumber), copying the text. */
export function mkNumberText(src: usize, len: u32): usize {
  // Fast path: short plain integers.
  let plain = len <= 18;
  for (let i: u32 = 0; plain && i < len; i++) {
    const c = <u32>load<u8>(src + <usize>i);
    if (!(isDigit(c) || (i == 0 && c == 0x2d))) plain = false;
  }
  if (plain && len > 0 && !(len == 1 && load<u8>(src) == 0x2d)) {
    let neg = load<u8>(src) == 0x2d;
    let v: i64 = 0;
    for (let i: u32 = neg ? 1 : 0; i < len; i++) v = v * 10 + <i64>(load<u8>(src + <usize>i) - 0x30);
    const n = changetype<NumV>(alloc(offsetof<NumV>()));
    n.type = T_NUMBER;
    n.hasInt = 1;
    n.isRef = 0;
    n.pad = 0;
    n.textLen = 0;
    n.intVal = neg ? -v : v;
    n.textPtr = 0;
    n.canon = 0;
    return changetype<usize>(n);
  }
  const text = alloc(<usize>len);
  memory.copy(text, src, <usize>len);
  const n = changetype<NumV>(alloc(offsetof<NumV>()));
  n.type = T_NUMBER;
  n.isRef = 1;
  n.pad = 0;
  n.textLen = len;
  n.textPtr = text;
  n.canon = 0;
  n.hasInt = 0;
  n.intVal = 0;
  const c = canonOf(changetype<usize>(n));
  // An integer within i64? (0.d1..dn × 10^exp with nd <= exp <= 19)
  if (c.nd == 0) {
    n.hasInt = 1;
  } else if (<i32>c.nd <= c.exp && c.exp <= 19) {
    let v: u64 = 0;
    for (let i: u32 = 0; i < c.nd; i++) v = v * 10 + <u64>(load<u8>(c.digits + <usize>i) - 0x30);
    for (let i: i32 = <i32>c.nd; i < c.exp; i++) v *= 10;
    // exp <= 19 keeps v below 10^19 < 2^64, so no wrap-around happened.
    const limit: u64 = c.neg ? <u64>0x8000000000000000 : <u64>0x7fffffffffffffff;
    if (v <= limit) {
      n.hasInt = 1;
      n.intVal = c.neg ? <i64>(0 - v) : <i64>v;
    }
  }
  return changetype<usize>(n);
}

/** The exact decimal form of a number (cached). */
export function canonOf(num: usize): Canon {
  const n = changetype<NumV>(num);
  if (n.canon != 0) return changetype<Canon>(n.canon);
  const c = changetype<Canon>(alloc(offsetof<Canon>()));
  if (n.isRef) {
    canonFromText(c, n.textPtr, n.textLen);
  } else {
    canonFromInt(c, n.intVal);
  }
  n.canon = changetype<usize>(c);
  return c;
}

function canonFromInt(c: Canon, v: i64): void {
  c.neg = v < 0 ? 1 : 0;
  const tmp = alloc(20);
  let i = 20;
  let x = v < 0 ? v : -v;
  while (x != 0) {
    i--;
    store<u8>(tmp + <usize>i, <u8>(0x30 - <i32>(x % 10)));
    x = x / 10;
  }
  let nd = 20 - i;
  const exp = nd;
  while (nd > 0 && load<u8>(tmp + <usize>(i + nd - 1)) == 0x30) nd--;
  c.nd = <u32>nd;
  c.exp = nd == 0 ? 0 : exp;
  c.digits = tmp + <usize>i;
  if (nd == 0) c.neg = 0;
}

function canonFromText(c: Canon, p: usize, len: u32): void {
  const end = p + <usize>len;
  let q = p;
  let neg = false;
  if (q < end && load<u8>(q) == 0x2d) {
    neg = true;
    q++;
  }
  const digits = alloc(<usize>len);
  let nd: u32 = 0;
  let point: i32 = 0;
  while (q < end && isDigit(<u32>load<u8>(q))) {
    store<u8>(digits + <usize>(nd++), load<u8>(q));
    q++;
    point++;
  }
  if (q < end && load<u8>(q) == 0x2e) {
    q++;
    while (q < end && isDigit(<u32>load<u8>(q))) {
      store<u8>(digits + <usize>(nd++), load<u8>(q));
      q++;
    }
  }
  let e: i32 = 0;
  if (q < end && (load<u8>(q) | 0x20) == 0x65) {
    q++;
    let eneg = false;
    if (q < end && (load<u8>(q) == 0x2b || load<u8>(q) == 0x2d)) {
      eneg = load<u8>(q) == 0x2d;
      q++;
    }
    while (q < end && isDigit(<u32>load<u8>(q))) {
      if (e < EXP_LIMIT) e = e * 10 + <i32>(load<u8>(q) - 0x30);
      q++;
    }
    if (eneg) e = -e;
  }
  let lead: u32 = 0;
  while (lead < nd && load<u8>(digits + <usize>lead) == 0x30) lead++;
  let last = nd;
  while (last > lead && load<u8>(digits + <usize>(last - 1)) == 0x30) last--;
  c.digits = digits + <usize>lead;
  c.nd = last - lead;
  if (c.nd == 0) {
    c.neg = 0;
    c.exp = 0;
  } else {
    c.neg = neg ? 1 : 0;
    c.exp = point + e - <i32>lead;
  }
}

/** Exact three-way comparison of two numbers. */
export function compareNumbers(a: usize, b: usize): i32 {
  const x = changetype<NumV>(a);
  const y = changetype<NumV>(b);
  if (x.hasInt && y.hasInt) return x.intVal < y.intVal ? -1 : x.intVal > y.intVal ? 1 : 0;
  const ca = canonOf(a);
  const cb = canonOf(b);
  const sa: i32 = ca.nd == 0 ? 0 : ca.neg ? -1 : 1;
  const sb: i32 = cb.nd == 0 ? 0 : cb.neg ? -1 : 1;
  if (sa != sb) return sa < sb ? -1 : 1;
  if (sa == 0) return 0;
  let mag: i32 = 0;
  if (ca.exp != cb.exp) {
    mag = ca.exp > cb.exp ? 1 : -1;
  } else {
    const n = ca.nd < cb.nd ? ca.nd : cb.nd;
    for (let i: u32 = 0; i < n && mag == 0; i++) {
      const da = load<u8>(ca.digits + <usize>i);
      const db = load<u8>(cb.digits + <usize>i);
      if (da != db) mag = da < db ? -1 : 1;
    }
    if (mag == 0 && ca.nd != cb.nd) mag = ca.nd < cb.nd ? -1 : 1;
  }
  return sa * mag;
}

/** Hash consistent with compareNumbers(a, b) == 0. */
export function hashNumber(a: usize): u32 {
  const x = changetype<NumV>(a);
  if (x.hasInt) {
    let h = <u64>x.intVal * 0x9e3779b97f4a7c15;
    return <u32>(h >> 32) ^ <u32>h;
  }
  const c = canonOf(a);
  let h: u32 = 0x811c9dc5 ^ <u32>c.exp ^ (<u32>c.neg << 31);
  for (let i: u32 = 0; i < c.nd; i++) h = (h ^ load<u8>(c.digits + <usize>i)) * 16777619;
  return h;
}

/** The i64 value of an integral number, or the fallback when it has none. */
export function numberToInt(a: usize, fallback: i64): i64 {
  const x = changetype<NumV>(a);
  return x.hasInt ? x.intVal : fallback;
}
