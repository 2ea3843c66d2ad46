// Airlock Wasm runtime — set and type built-ins that must see Rego values as
// they are (a host built-in receives JSON, where sets are arrays and object
// keys strings): or (|), and (&), union, intersection, type_name, is_*.

import { alloc } from "./heap";
import { ERR_TYPE_SET } from "./arith";
import { ObjV, ENTRY, T_SET, collFind, mkBool, mkSet, mkStringView, setAdd } from "./value";

@inline
function setTypeError(operand: u32, v: usize): usize {
  return ERR_TYPE_SET + (<usize>(operand - 1) << 3) + <usize>load<u8>(v);
}

function addAll(out: usize, set: usize): void {
  const o = changetype<ObjV>(set);
  for (let i: u32 = 0; i < o.count; i++) setAdd(out, load<usize>(o.entries + <usize>i * ENTRY));
}

/** Elements of a that are also in b. */
function intersect(a: usize, b: usize): usize {
  const out = mkSet();
  const o = changetype<ObjV>(a);
  for (let i: u32 = 0; i < o.count; i++) {
    const k = load<usize>(o.entries + <usize>i * ENTRY);
    if (collFind(b, k) != 0) setAdd(out, k);
  }
  return out;
}

/** a | b */
export function setOr(a: usize, b: usize): usize {
  if (load<u8>(a) != T_SET) return setTypeError(1, a);
  if (load<u8>(b) != T_SET) return setTypeError(2, b);
  const out = mkSet();
  addAll(out, a);
  addAll(out, b);
  return out;
}

/** a & b */
export function setAnd(a: usize, b: usize): usize {
  if (load<u8>(a) != T_SET) return setTypeError(1, a);
  if (load<u8>(b) != T_SET) return setTypeError(2, b);
  return intersect(a, b);
}

/** union(set of sets) */
export function setUnion(sets: usize): usize {
  if (load<u8>(sets) != T_SET) return setTypeError(1, sets);
  const o = changetype<ObjV>(sets);
  const out = mkSet();
  for (let i: u32 = 0; i < o.count; i++) {
    const s = load<usize>(o.entries + <usize>i * ENTRY);
    if (load<u8>(s) != T_SET) return setTypeError(1, s);
    addAll(out, s);
  }
  return out;
}

/** intersection(set of sets); the empty set for no sets. */
export function setIntersection(sets: usize): usize {
  if (load<u8>(sets) != T_SET) return setTypeError(1, sets);
  const o = changetype<ObjV>(sets);
  let acc: usize = 0;
  for (let i: u32 = 0; i < o.count; i++) {
    const s = load<usize>(o.entries + <usize>i * ENTRY);
    if (load<u8>(s) != T_SET) return setTypeError(1, s);
    acc = acc == 0 ? s : intersect(acc, s);
  }
  if (acc == 0) return mkSet();
  // A fresh set even for one element set, so callers may extend the result.
  const out = mkSet();
  addAll(out, acc);
  return out;
}

/** A string value over a static ASCII literal's bytes, copied to the heap. */
function asciiValue(s: string): usize {
  const n = s.length;
  const p = alloc(<usize>n);
  for (let i = 0; i < n; i++) store<u8>(p + <usize>i, <u8>s.charCodeAt(i));
  return mkStringView(p, <u32>n);
}

export function typeName(v: usize): usize {
  switch (load<u8>(v)) {
    case 1: return asciiValue("null");
    case 2: return asciiValue("boolean");
    case 3: return asciiValue("number");
    case 4: return asciiValue("string");
    case 5: return asciiValue("array");
    case 6: return asciiValue("object");
    default: return asciiValue("set");
  }
}

export function isType(v: usize, tag: u8): usize {
  return mkBool(load<u8>(v) == tag);
}
