// Airlock Wasm runtime — the value model.
//
// Every value is the address of a struct whose first byte is its type tag; the
// tags are numbered in OPA's sort order of types (null < boolean < number <
// string < array < object < set), so comparing tags compares types. Address 0
// means "undefined" everywhere (never a value).
//
//   null    { type }                                      (static singleton)
//   boolean { type, b: u8 }                               (static singletons)
//   number  { type, hasInt, isRef, _, textLen, intVal: i64, textPtr, canon }
//            hasInt: the value is an integer that fits in i64 (intVal holds it)
//            isRef:  the value came from literal text (textPtr/textLen), kept
//                    verbatim: big integers and decimals are never rounded
//            canon:  lazily built exact decimal form, see number.as
//   string  { type, len, ptr }                            UTF-8 bytes, not NUL-terminated
//   array   { type, len, cap, elems }                     elems: len value addresses
//   object  { type, count, cap, entries, index, mask }    insertion-ordered entries
//   set     same layout as object, entry values unused
//
// Objects and sets keep entries {key, value, hash} in insertion order; above
// SMALL entries they also keep an open-addressing index (u32 entry number + 1,
// 0 = empty) sized to a power of two at most half full. Keys are compared with
// OPA's equality (1 == 1.0), so hashes of equal numbers agree (see compare.as).

import { alloc, allocZero } from "./heap";
import { equal, hash } from "./compare";

export const T_NULL: u8 = 1;
export const T_BOOL: u8 = 2;
export const T_NUMBER: u8 = 3;
export const T_STRING: u8 = 4;
export const T_ARRAY: u8 = 5;
export const T_OBJECT: u8 = 6;
export const T_SET: u8 = 7;

const SMALL: u32 = 8;

@unmanaged
export class Val {
  type: u8;
}

@unmanaged
export class BoolV {
  type: u8;
  b: u8;
}

@unmanaged
export class NumV {
  type: u8;
  hasInt: u8;
  isRef: u8;
  pad: u8;
  textLen: u32;
  intVal: i64;
  textPtr: usize;
  canon: usize;
}

@unmanaged
export class StrV {
  type: u8;
  len: u32;
  ptr: usize;
}

@unmanaged
export class ArrV {
  type: u8;
  len: u32;
  cap: u32;
  elems: usize;
}

@unmanaged
export class ObjV {
  type: u8;
  count: u32;
  cap: u32;
  entries: usize;
  index: usize;
  mask: u32;
}

/** Size of one object/set entry: key, value, hash. */
export const ENTRY: usize = 12;

const NULL_V = memory.data<u8>([1, 0, 0, 0, 0, 0, 0, 0]);
const FALSE_V = memory.data<u8>([2, 0, 0, 0, 0, 0, 0, 0]);
const TRUE_V = memory.data<u8>([2, 1, 0, 0, 0, 0, 0, 0]);

@inline
export function typeOf(v: usize): u8 {
  return load<u8>(v);
}

export function mkNull(): usize {
  return NULL_V;
}

export function mkBool(b: bool): usize {
  return b ? TRUE_V : FALSE_V;
}

export function mkInt(i: i64): usize {
  const n = changetype<NumV>(alloc(offsetof<NumV>()));
  n.type = T_NUMBER;
  n.hasInt = 1;
  n.isRef = 0;
  n.pad = 0;
  n.textLen = 0;
  n.intVal = i;
  n.textPtr = 0;
  n.canon = 0;
  return changetype<usize>(n);
}

export function mkString(src: usize, len: u32): usize {
  const s = changetype<StrV>(alloc(offsetof<StrV>()));
  const p = alloc(<usize>len);
  memory.copy(p, src, <usize>len);
  s.type = T_STRING;
  s.len = len;
  s.ptr = p;
  return changetype<usize>(s);
}

/** A string value over bytes that stay alive as long as the value (no copy). */
export function mkStringView(src: usize, len: u32): usize {
  const s = changetype<StrV>(alloc(offsetof<StrV>()));
  s.type = T_STRING;
  s.len = len;
  s.ptr = src;
  return changetype<usize>(s);
}

export function mkArray(cap: u32): usize {
  const a = changetype<ArrV>(alloc(offsetof<ArrV>()));
  a.type = T_ARRAY;
  a.len = 0;
  a.cap = cap;
  a.elems = cap > 0 ? alloc(<usize>cap << 2) : 0;
  return changetype<usize>(a);
}

export function arrayAppend(arr: usize, v: usize): void {
  const a = changetype<ArrV>(arr);
  if (a.len == a.cap) {
    const cap = a.cap < 4 ? 4 : a.cap * 2;
    const p = alloc(<usize>cap << 2);
    if (a.len > 0) memory.copy(p, a.elems, <usize>a.len << 2);
    a.elems = p;
    a.cap = cap;
  }
  store<usize>(a.elems + (<usize>a.len << 2), v);
  a.len++;
}

@inline
export function arrayGet(arr: usize, i: u32): usize {
  return load<usize>(changetype<ArrV>(arr).elems + (<usize>i << 2));
}

function mkColl(type: u8): usize {
  const o = changetype<ObjV>(alloc(offsetof<ObjV>()));
  o.type = type;
  o.count = 0;
  o.cap = 0;
  o.entries = 0;
  o.index = 0;
  o.mask = 0;
  return changetype<usize>(o);
}

export function mkObject(): usize {
  return mkColl(T_OBJECT);
}

export function mkSet(): usize {
  return mkColl(T_SET);
}

@inline
export function entryAt(coll: usize, i: u32): usize {
  return changetype<ObjV>(coll).entries + <usize>i * ENTRY;
}

@inline
export function entryKey(e: usize): usize {
  return load<usize>(e);
}

@inline
export function entryValue(e: usize): usize {
  return load<usize>(e, 4);
}

function rebuildIndex(o: ObjV, slots: u32): void {
  const idx = allocZero(<usize>slots << 2);
  const mask = slots - 1;
  for (let i: u32 = 0; i < o.count; i++) {
    let h = load<u32>(o.entries + <usize>i * ENTRY, 8) & mask;
    while (load<u32>(idx + (<usize>h << 2)) != 0) h = (h + 1) & mask;
    store<u32>(idx + (<usize>h << 2), i + 1);
  }
  o.index = idx;
  o.mask = mask;
}

/** Finds the entry for `key`, or returns 0. */
export function collFind(coll: usize, key: usize): usize {
  const o = changetype<ObjV>(coll);
  if (o.count == 0) return 0;
  const h = hash(key);
  if (o.index == 0) {
    for (let i: u32 = 0; i < o.count; i++) {
      const e = o.entries + <usize>i * ENTRY;
      if (load<u32>(e, 8) == h && equal(load<usize>(e), key)) return e;
    }
    return 0;
  }
  const mask = o.mask;
  let s = h & mask;
  while (true) {
    const n = load<u32>(o.index + (<usize>s << 2));
    if (n == 0) return 0;
    const e = o.entries + <usize>(n - 1) * ENTRY;
    if (load<u32>(e, 8) == h && equal(load<usize>(e), key)) return e;
    s = (s + 1) & mask;
  }
  return 0;
}

/** Appends a new entry (the caller checked the key is absent). */
function collAppend(o: ObjV, key: usize, value: usize, h: u32): void {
  if (o.count == o.cap) {
    const cap = o.cap < 4 ? 4 : o.cap * 2;
    const p = alloc(<usize>cap * ENTRY);
    if (o.count > 0) memory.copy(p, o.entries, <usize>o.count * ENTRY);
    o.entries = p;
    o.cap = cap;
  }
  const i = o.count;
  const e = o.entries + <usize>i * ENTRY;
  store<usize>(e, key);
  store<usize>(e, value, 4);
  store<u32>(e, h, 8);
  o.count = i + 1;
  if (o.index != 0) {
    if ((o.count << 1) > o.mask + 1) {
      rebuildIndex(o, (o.mask + 1) << 1);
    } else {
      let s = h & o.mask;
      while (load<u32>(o.index + (<usize>s << 2)) != 0) s = (s + 1) & o.mask;
      store<u32>(o.index + (<usize>s << 2), i + 1);
    }
  } else if (o.count > SMALL) {
    rebuildIndex(o, 32);
  }
}

/** Sets `key` to `value` in an object, replacing an existing value. */
export function objectInsert(obj: usize, key: usize, value: usize): void {
  const e = collFind(obj, key);
  if (e != 0) {
    store<usize>(e, value, 4);
    return;
  }
  collAppend(changetype<ObjV>(obj), key, value, hash(key));
}

/** Looks a key up in an object; 0 when absent. */
export function objectGet(obj: usize, key: usize): usize {
  const e = collFind(obj, key);
  return e == 0 ? 0 : load<usize>(e, 4);
}

/** Adds an element to a set (no-op when present). */
export function setAdd(set: usize, v: usize): void {
  if (collFind(set, v) != 0) return;
  collAppend(changetype<ObjV>(set), v, 0, hash(v));
}

/** Removes a key from an object or set, keeping the order of the others. */
export function collRemove(coll: usize, key: usize): bool {
  const e = collFind(coll, key);
  if (e == 0) return false;
  const o = changetype<ObjV>(coll);
  const end = o.entries + <usize>o.count * ENTRY;
  memory.copy(e, e + ENTRY, end - e - ENTRY);
  o.count--;
  if (o.index != 0) rebuildIndex(o, o.mask + 1);
  return true;
}

/** A shallow copy of an object or set (entries copied, keys/values shared). */
export function collCopy(coll: usize): usize {
  const src = changetype<ObjV>(coll);
  const o = changetype<ObjV>(mkColl(src.type));
  if (src.count > 0) {
    o.cap = src.count;
    o.entries = alloc(<usize>src.count * ENTRY);
    memory.copy(o.entries, src.entries, <usize>src.count * ENTRY);
    o.count = src.count;
    if (src.index != 0) rebuildIndex(o, src.mask + 1);
  }
  return changetype<usize>(o);
}

@inline
export function collCount(coll: usize): u32 {
  return changetype<ObjV>(coll).count;
}
