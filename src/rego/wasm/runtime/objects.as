// Airlock Wasm runtime — object.remove and object.filter, native because a
// host built-in would see non-string keys as strings (the SDK passes JSON);
// object.union and object.union_n, native because they are hot (every decision
// assembles its output with them) and a host call costs more than the merge;
// walk, native because detectors walk every argument and result, and a host call
// would copy the whole document out and every path and value back in.

import { sortedEntries } from "./compare";
import {
  ArrV, ObjV, ENTRY, T_ARRAY, T_OBJECT, T_SET, arrayAppend, collFind, mkArray, mkInt, mkObject, mkSet, objectGet,
  objectInsert, setAdd,
} from "./value";

/** "operand N must be object but got T": + 8 × (N - 1) + type tag. */
export const ERR_TYPE_OBJECT: usize = 64;
/** "operand N must be one of {object, set, array} but got T": + 8 × (N - 1) + type tag. */
export const ERR_TYPE_KEYS: usize = 80;

/** Hands the call to the host's implementation (NATIVE_DEFER): its errors stay the reference. */
export const OBJECT_DEFER: usize = 4;

/** Copies `b`'s entries over `into`, merging where both hold an object under the same key. */
function mergeInto(into: usize, b: usize): void {
  const o = changetype<ObjV>(b);
  for (let i: u32 = 0; i < o.count; i++) {
    const e = o.entries + <usize>i * ENTRY;
    const k = load<usize>(e);
    const v = load<usize>(e, 4);
    const old = objectGet(into, k);
    objectInsert(into, k, old != 0 && load<u8>(old) == T_OBJECT && load<u8>(v) == T_OBJECT ? merged(old, v) : v);
  }
}

/** A new object: `a`'s entries, then `b`'s over them (nested objects merged). */
function merged(a: usize, b: usize): usize {
  const out = mkObject();
  mergeInto(out, a);
  mergeInto(out, b);
  return out;
}

/** object.union(a, b); the host answers for anything but two objects. */
export function objectUnion(a: usize, b: usize): usize {
  if (load<u8>(a) != T_OBJECT || load<u8>(b) != T_OBJECT) return OBJECT_DEFER;
  return merged(a, b);
}

/** object.union_n(objects): the host answers for anything but an array of objects. */
export function objectUnionN(list: usize): usize {
  if (load<u8>(list) != T_ARRAY) return OBJECT_DEFER;
  const a = changetype<ArrV>(list);
  for (let i: u32 = 0; i < a.len; i++)
    if (load<u8>(load<usize>(a.elems + (<usize>i << 2))) != T_OBJECT) return OBJECT_DEFER;
  const out = mkObject();
  for (let i: u32 = 0; i < a.len; i++) mergeInto(out, load<usize>(a.elems + (<usize>i << 2)));
  return out;
}

/** The keys named by an array (its elements), a set (its elements) or an object (its keys), as a set. */
function keySet(keys: usize): usize {
  const t = load<u8>(keys);
  if (t == T_SET) return keys;
  const out = mkSet();
  if (t == T_ARRAY) {
    const a = changetype<ArrV>(keys);
    for (let i: u32 = 0; i < a.len; i++) setAdd(out, load<usize>(a.elems + (<usize>i << 2)));
  } else {
    const o = changetype<ObjV>(keys);
    for (let i: u32 = 0; i < o.count; i++) setAdd(out, load<usize>(o.entries + <usize>i * ENTRY));
  }
  return out;
}

function select(obj: usize, keys: usize, keep: bool): usize {
  if (load<u8>(obj) != T_OBJECT) return ERR_TYPE_OBJECT + <usize>load<u8>(obj);
  const t = load<u8>(keys);
  if (t != T_ARRAY && t != T_SET && t != T_OBJECT) return ERR_TYPE_KEYS + 8 + <usize>t;
  const ks = keySet(keys);
  const out = mkObject();
  const o = changetype<ObjV>(obj);
  for (let i: u32 = 0; i < o.count; i++) {
    const e = o.entries + <usize>i * ENTRY;
    const k = load<usize>(e);
    if ((collFind(ks, k) != 0) == keep) objectInsert(out, k, load<usize>(e, 4));
  }
  return out;
}

export function objectRemove(obj: usize, keys: usize): usize {
  return select(obj, keys, false);
}

export function objectFilter(obj: usize, keys: usize): usize {
  return select(obj, keys, true);
}

/** `path` with `step` appended, as a new array. */
function extended(path: usize, step: usize): usize {
  const p = changetype<ArrV>(path);
  const out = mkArray(p.len + 1);
  for (let i: u32 = 0; i < p.len; i++) arrayAppend(out, load<usize>(p.elems + (<usize>i << 2)));
  arrayAppend(out, step);
  return out;
}

function walkInto(out: usize, path: usize, v: usize): void {
  const pair = mkArray(2);
  arrayAppend(pair, path);
  arrayAppend(pair, v);
  arrayAppend(out, pair);
  const t = load<u8>(v);
  if (t == T_ARRAY) {
    const a = changetype<ArrV>(v);
    for (let i: u32 = 0; i < a.len; i++) {
      const x = load<usize>(a.elems + (<usize>i << 2));
      walkInto(out, extended(path, mkInt(<i64>i)), x);
    }
  } else if (t == T_OBJECT || t == T_SET) {
    // Keys (set members) in sorted order, as the host's walk and OPA's.
    const n = changetype<ObjV>(v).count;
    const sorted = sortedEntries(v);
    for (let i: u32 = 0; i < n; i++) {
      const e = load<usize>(sorted + (<usize>i << 2));
      const k = load<usize>(e);
      walkInto(out, extended(path, k), t == T_OBJECT ? load<usize>(e, 4) : k);
    }
  }
}

/** walk(x): [path, value] for x and everything in it, pre-order, object keys and set members sorted. */
export function walk(v: usize): usize {
  const out = mkArray(8);
  walkInto(out, mkArray(0), v);
  return out;
}
