// Airlock Wasm runtime — OPA's total order, equality and hashing of values.
//
// Order: by type (null < boolean < number < string < array < object < set),
// then: false < true; numbers exactly; strings bytewise (UTF-8); arrays
// element by element, then by length; objects by their keys sorted, pairwise
// key then value, then by size; sets by their sorted elements, then by size.

import { alloc } from "./heap";
import { compareNumbers, hashNumber } from "./number";
import {
  ArrV, BoolV, ENTRY, ObjV, StrV,
  T_ARRAY, T_BOOL, T_NULL, T_NUMBER, T_OBJECT, T_SET, T_STRING,
  collFind, entryAt,
} from "./value";

export function compare(a: usize, b: usize): i32 {
  if (a == b) return 0;
  const ta = load<u8>(a);
  const tb = load<u8>(b);
  if (ta != tb) return ta < tb ? -1 : 1;
  switch (ta) {
    case T_NULL:
      return 0;
    case T_BOOL: {
      const x = changetype<BoolV>(a).b;
      const y = changetype<BoolV>(b).b;
      return x == y ? 0 : x < y ? -1 : 1;
    }
    case T_NUMBER:
      return compareNumbers(a, b);
    case T_STRING:
      return compareBytes(changetype<StrV>(a).ptr, changetype<StrV>(a).len, changetype<StrV>(b).ptr, changetype<StrV>(b).len);
    case T_ARRAY: {
      const x = changetype<ArrV>(a);
      const y = changetype<ArrV>(b);
      const n = x.len < y.len ? x.len : y.len;
      for (let i: u32 = 0; i < n; i++) {
        const c = compare(load<usize>(x.elems + (<usize>i << 2)), load<usize>(y.elems + (<usize>i << 2)));
        if (c != 0) return c;
      }
      return x.len == y.len ? 0 : x.len < y.len ? -1 : 1;
    }
    default: {
      // objects and sets
      const x = changetype<ObjV>(a);
      const y = changetype<ObjV>(b);
      const sx = sortedEntries(a);
      const sy = sortedEntries(b);
      const n = x.count < y.count ? x.count : y.count;
      for (let i: u32 = 0; i < n; i++) {
        const ex = load<usize>(sx + (<usize>i << 2));
        const ey = load<usize>(sy + (<usize>i << 2));
        let c = compare(load<usize>(ex), load<usize>(ey));
        if (c != 0) return c;
        if (ta == T_OBJECT) {
          c = compare(load<usize>(ex, 4), load<usize>(ey, 4));
          if (c != 0) return c;
        }
      }
      return x.count == y.count ? 0 : x.count < y.count ? -1 : 1;
    }
  }
}

export function compareBytes(p: usize, n: u32, q: usize, m: u32): i32 {
  const k = n < m ? n : m;
  for (let i: u32 = 0; i < k; i++) {
    const x = load<u8>(p + <usize>i);
    const y = load<u8>(q + <usize>i);
    if (x != y) return x < y ? -1 : 1;
  }
  return n == m ? 0 : n < m ? -1 : 1;
}

export function equal(a: usize, b: usize): bool {
  if (a == b) return true;
  const ta = load<u8>(a);
  if (ta != load<u8>(b)) return false;
  switch (ta) {
    case T_NULL:
      return true;
    case T_BOOL:
      return changetype<BoolV>(a).b == changetype<BoolV>(b).b;
    case T_NUMBER:
      return compareNumbers(a, b) == 0;
    case T_STRING: {
      const x = changetype<StrV>(a);
      const y = changetype<StrV>(b);
      return x.len == y.len && memory.compare(x.ptr, y.ptr, <usize>x.len) == 0;
    }
    case T_ARRAY: {
      const x = changetype<ArrV>(a);
      const y = changetype<ArrV>(b);
      if (x.len != y.len) return false;
      for (let i: u32 = 0; i < x.len; i++) {
        if (!equal(load<usize>(x.elems + (<usize>i << 2)), load<usize>(y.elems + (<usize>i << 2)))) return false;
      }
      return true;
    }
    default: {
      const x = changetype<ObjV>(a);
      const y = changetype<ObjV>(b);
      if (x.count != y.count) return false;
      for (let i: u32 = 0; i < x.count; i++) {
        const e = x.entries + <usize>i * ENTRY;
        const f = collFind(b, load<usize>(e));
        if (f == 0) return false;
        if (ta == T_OBJECT && !equal(load<usize>(e, 4), load<usize>(f, 4))) return false;
      }
      return true;
    }
  }
}

@inline
function mix(h: u32): u32 {
  h ^= h >> 16;
  h *= 0x85ebca6b;
  h ^= h >> 13;
  h *= 0xc2b2ae35;
  h ^= h >> 16;
  return h;
}

/** A hash consistent with equal(). Objects and sets hash order-independently. */
export function hash(a: usize): u32 {
  const t = load<u8>(a);
  switch (t) {
    case T_NULL:
      return 0x6e756c6c;
    case T_BOOL:
      return changetype<BoolV>(a).b ? 0x74727565 : 0x66616c73;
    case T_NUMBER:
      return hashNumber(a);
    case T_STRING: {
      const s = changetype<StrV>(a);
      let h: u32 = 0x811c9dc5;
      for (let i: u32 = 0; i < s.len; i++) h = (h ^ load<u8>(s.ptr + <usize>i)) * 16777619;
      return h;
    }
    case T_ARRAY: {
      const x = changetype<ArrV>(a);
      let h: u32 = 0x61727279 ^ x.len;
      for (let i: u32 = 0; i < x.len; i++) h = mix(h * 31 + hash(load<usize>(x.elems + (<usize>i << 2))));
      return h;
    }
    default: {
      const x = changetype<ObjV>(a);
      let h: u32 = (t == T_SET ? 0x73657421 : 0x6f626a21) ^ x.count;
      for (let i: u32 = 0; i < x.count; i++) {
        const e = x.entries + <usize>i * ENTRY;
        let eh = load<u32>(e, 8);
        if (t == T_OBJECT) eh = mix(eh * 31 + hash(load<usize>(e, 4)));
        h += mix(eh);
      }
      return h;
    }
  }
}

/**
 * The entries of an object or set sorted by key: a fresh array of `count`
 * entry addresses (u32 each).
 */
export function sortedEntries(coll: usize): usize {
  const o = changetype<ObjV>(coll);
  const n = o.count;
  const out = alloc(<usize>n << 2);
  for (let i: u32 = 0; i < n; i++) store<usize>(out + (<usize>i << 2), entryAt(coll, i));
  if (n > 1) {
    const tmp = alloc(<usize>n << 2);
    mergeSort(out, tmp, 0, n);
  }
  return out;
}

@inline
function keyCmp(ea: usize, eb: usize): i32 {
  return compare(load<usize>(ea), load<usize>(eb));
}

function mergeSort(a: usize, tmp: usize, lo: u32, hi: u32): void {
  if (hi - lo <= 12) {
    for (let i = lo + 1; i < hi; i++) {
      const x = load<usize>(a + (<usize>i << 2));
      let j = i;
      while (j > lo && keyCmp(load<usize>(a + (<usize>(j - 1) << 2)), x) > 0) {
        store<usize>(a + (<usize>j << 2), load<usize>(a + (<usize>(j - 1) << 2)));
        j--;
      }
      store<usize>(a + (<usize>j << 2), x);
    }
    return;
  }
  const mid = lo + ((hi - lo) >> 1);
  mergeSort(a, tmp, lo, mid);
  mergeSort(a, tmp, mid, hi);
  let i = lo;
  let j = mid;
  let k = lo;
  while (i < mid && j < hi) {
    const x = load<usize>(a + (<usize>i << 2));
    const y = load<usize>(a + (<usize>j << 2));
    if (keyCmp(x, y) <= 0) {
      store<usize>(tmp + (<usize>(k++) << 2), x);
      i++;
    } else {
      store<usize>(tmp + (<usize>(k++) << 2), y);
      j++;
    }
  }
  while (i < mid) store<usize>(tmp + (<usize>(k++) << 2), load<usize>(a + (<usize>(i++) << 2)));
  while (j < hi) store<usize>(tmp + (<usize>(k++) << 2), load<usize>(a + (<usize>(j++) << 2)));
  memory.copy(a + (<usize>lo << 2), tmp + (<usize>lo << 2), <usize>(hi - lo) << 2);
}
