// Airlock Wasm runtime — operations called by generated code.
//
// All take and return value addresses; 0 means undefined (the generated code
// turns a 0 result into a break out of the current block). None of them
// mutates its inputs except the explicit in-place builders (append, insert,
// set add), which the plan applies only to values it made itself.

import { compare, equal, sortedEntries } from "./compare";
import {
  ArrV, NumV, ObjV, StrV, ENTRY,
  T_ARRAY, T_NUMBER, T_OBJECT, T_SET, T_STRING,
  collCopy, collFind, mkBool, mkInt, mkObject, mkStringView, objectGet, objectInsert,
} from "./value";
import { Buf, alloc } from "./heap";

/** source[key]: array index, object key, or set membership (yields the key). */
export function dot(src: usize, key: usize): usize {
  if (src == 0 || key == 0) return 0;
  switch (load<u8>(src)) {
    case T_OBJECT:
      return objectGet(src, key);
    case T_ARRAY: {
      if (load<u8>(key) != T_NUMBER) return 0;
      const n = changetype<NumV>(key);
      if (!n.hasInt) return 0;
      const a = changetype<ArrV>(src);
      if (n.intVal < 0 || n.intVal >= <i64>a.len) return 0;
      return load<usize>(a.elems + (<usize>n.intVal << 2));
    }
    case T_SET: {
      const e = collFind(src, key);
      return e == 0 ? 0 : load<usize>(e);
    }
    default:
      return 0;
  }
}

/**
 * source[key] as OPA's storage reads a base document (its path segments are text: a string as
 * it is, a number as written, so 1.2 is "1.2" and 1.0 is "1.0"). An object is read under that
 * text, then under the key itself (a document `with` replaced may have other keys); an array
 * takes text that is a decimal integer. Anything else is read as dot reads it.
 */
export function storageGet(src: usize, key: usize): usize {
  if (src == 0 || key == 0) return 0;
  const st = load<u8>(src);
  const kt = load<u8>(key);
  if ((st != T_OBJECT && st != T_ARRAY) || (kt != T_NUMBER && kt != T_STRING)) return dot(src, key);
  let p: usize = 0;
  let n: u32 = 0;
  if (kt == T_STRING) {
    const s = changetype<StrV>(key);
    p = s.ptr;
    n = s.len;
  } else {
    const num = changetype<NumV>(key);
    if (num.isRef) {
      p = num.textPtr;
      n = num.textLen;
    } else {
      const b = Buf.create(24);
      b.int(num.intVal);
      p = b.ptr;
      n = b.len;
    }
  }
  if (st == T_OBJECT) {
    const text = kt == T_STRING ? key : mkStringView(p, n);
    const v = objectGet(src, text);
    return v != 0 || kt == T_STRING ? v : objectGet(src, key);
  }
  if (n == 0 || n > 10) return 0;
  let idx: i64 = 0;
  for (let i: u32 = 0; i < n; i++) {
    const c = <u32>load<u8>(p + <usize>i);
    if (c < 0x30 || c > 0x39) return 0;
    idx = idx * 10 + <i64>(c - 0x30);
  }
  const a = changetype<ArrV>(src);
  if (idx >= <i64>a.len) return 0;
  return load<usize>(a.elems + (<usize>idx << 2));
}

/** Number of code points in UTF-8 text. */
export function utf8Count(p: usize, n: u32): u32 {
  let count: u32 = 0;
  for (let i: u32 = 0; i < n; i++) {
    if ((load<u8>(p + <usize>i) & 0xc0) != 0x80) count++;
  }
  return count;
}

/** Length of an array, object, set (elements) or string (code points); 0 (undefined) otherwise. */
export function len(v: usize): usize {
  if (v == 0) return 0;
  switch (load<u8>(v)) {
    case T_ARRAY:
      return mkInt(<i64>changetype<ArrV>(v).len);
    case T_OBJECT:
    case T_SET:
      return mkInt(<i64>changetype<ObjV>(v).count);
    case T_STRING: {
      const s = changetype<StrV>(v);
      return mkInt(<i64>utf8Count(s.ptr, s.len));
    }
    default:
      return 0;
  }
}

/**
 * What a ScanStmt iterates: an object or set in sorted key order, as OPA iterates them
 * (ast object.Iter and set.Iter walk sortedKeys), whatever the order it was built in. A
 * collection already in order is its own view; otherwise the view is a fresh header over a
 * sorted copy of the entries (iteration reads only entries and count).
 */
export function iterSource(src: usize): usize {
  if (src == 0) return 0;
  const t = load<u8>(src);
  if (t != T_OBJECT && t != T_SET) return src;
  const o = changetype<ObjV>(src);
  const n = o.count;
  let ordered = true;
  for (let i: u32 = 1; i < n && ordered; i++) {
    const a = load<usize>(o.entries + <usize>(i - 1) * ENTRY);
    const b = load<usize>(o.entries + <usize>i * ENTRY);
    if (compare(a, b) > 0) ordered = false;
  }
  if (ordered) return src;
  const order = sortedEntries(src);
  const view = changetype<ObjV>(alloc(offsetof<ObjV>()));
  view.type = t;
  view.count = n;
  view.cap = n;
  view.index = 0;
  view.mask = 0;
  view.entries = alloc(<usize>n * ENTRY);
  for (let i: u32 = 0; i < n; i++) {
    memory.copy(view.entries + <usize>i * ENTRY, load<usize>(order + (<usize>i << 2)), ENTRY);
  }
  return changetype<usize>(view);
}

/**
 * Iteration for ScanStmt. A cursor is position + 1; 0 ends the scan.
 * Scalars (and undefined) have no elements.
 */
export function iterNext(src: usize, cursor: u32): u32 {
  if (src == 0) return 0;
  const t = load<u8>(src);
  let n: u32 = 0;
  if (t == T_ARRAY) n = changetype<ArrV>(src).len;
  else if (t == T_OBJECT || t == T_SET) n = changetype<ObjV>(src).count;
  return cursor < n ? cursor + 1 : 0;
}

export function iterKey(src: usize, cursor: u32): usize {
  const t = load<u8>(src);
  if (t == T_ARRAY) return mkInt(<i64>(cursor - 1));
  return load<usize>(changetype<ObjV>(src).entries + <usize>(cursor - 1) * ENTRY);
}

export function iterValue(src: usize, cursor: u32): usize {
  const t = load<u8>(src);
  if (t == T_ARRAY) return load<usize>(changetype<ArrV>(src).elems + (<usize>(cursor - 1) << 2));
  const e = changetype<ObjV>(src).entries + <usize>(cursor - 1) * ENTRY;
  return t == T_SET ? load<usize>(e) : load<usize>(e, 4);
}

/**
 * A copy of `base` with `value` at `path` (an array of keys), copying only
 * the objects along the path; a missing or non-object step becomes an object.
 * Used by WithStmt, so the original document is never modified.
 */
export function upsert(base: usize, path: usize, value: usize): usize {
  return upsertFrom(base, changetype<ArrV>(path), 0, value);
}

function upsertFrom(base: usize, path: ArrV, i: u32, value: usize): usize {
  if (i >= path.len) return value;
  const key = load<usize>(path.elems + (<usize>i << 2));
  const obj = base != 0 && load<u8>(base) == T_OBJECT ? collCopy(base) : mkObject();
  const child = objectGet(obj, key);
  objectInsert(obj, key, upsertFrom(child, path, i + 1, value));
  return obj;
}

/**
 * Recursive merge of two objects: keys of both; where both values are objects
 * they merge, otherwise `a` wins. Returns 0 when either operand is not an object.
 */
export function merge(a: usize, b: usize): usize {
  if (a == 0) return b;
  if (b == 0) return a;
  if (load<u8>(a) != T_OBJECT || load<u8>(b) != T_OBJECT) return 0;
  const out = collCopy(a);
  const y = changetype<ObjV>(b);
  for (let i: u32 = 0; i < y.count; i++) {
    const e = y.entries + <usize>i * ENTRY;
    const k = load<usize>(e);
    const bv = load<usize>(e, 4);
    const av = objectGet(out, k);
    if (av == 0) {
      objectInsert(out, k, bv);
    } else if (load<u8>(av) == T_OBJECT && load<u8>(bv) == T_OBJECT) {
      objectInsert(out, k, merge(av, bv));
    }
  }
  return out;
}

/** ObjectInsertOnceStmt: 0 ok, 1 when the key holds a different value. */
export function objectInsertOnce(obj: usize, key: usize, value: usize): i32 {
  const e = collFind(obj, key);
  if (e != 0) return equal(load<usize>(e, 4), value) ? 0 : 1;
  objectInsert(obj, key, value);
  return 0;
}

// ------------------------------------------------------ native built-ins
// Named after OPA's built-ins; the code generator maps names to these.

export function bEqual(a: usize, b: usize): usize {
  return mkBool(equal(a, b));
}

export function bNeq(a: usize, b: usize): usize {
  return mkBool(!equal(a, b));
}

export function bLt(a: usize, b: usize): usize {
  return mkBool(compare(a, b) < 0);
}

export function bLte(a: usize, b: usize): usize {
  return mkBool(compare(a, b) <= 0);
}

export function bGt(a: usize, b: usize): usize {
  return mkBool(compare(a, b) > 0);
}

export function bGte(a: usize, b: usize): usize {
  return mkBool(compare(a, b) >= 0);
}

/** count's type error: operand 1 must be one of {array, object, set, string}; + type tag. */
export const ERR_TYPE_COUNT: usize = 96;

/** count(x): a scalar is OPA's type error (the call is undefined unless errors are strict). */
export function bCount(a: usize): usize {
  const n = len(a);
  return n == 0 ? ERR_TYPE_COUNT + <usize>load<u8>(a) : n;
}

/** internal.member_2(x, coll): x is an element of a set, or a value of an array or object. */
export function bMember2(x: usize, coll: usize): usize {
  const t = load<u8>(coll);
  if (t == T_SET) return mkBool(collFind(coll, x) != 0);
  if (t == T_ARRAY) {
    const a = changetype<ArrV>(coll);
    for (let i: u32 = 0; i < a.len; i++) if (equal(load<usize>(a.elems + (<usize>i << 2)), x)) return mkBool(true);
    return mkBool(false);
  }
  if (t == T_OBJECT) {
    const o = changetype<ObjV>(coll);
    for (let i: u32 = 0; i < o.count; i++) if (equal(load<usize>(o.entries + <usize>i * ENTRY, 4), x)) return mkBool(true);
    return mkBool(false);
  }
  return mkBool(false);
}

/** internal.member_3(k, v, coll): coll[k] == v. */
export function bMember3(k: usize, v: usize, coll: usize): usize {
  const got = dot(coll, k);
  return mkBool(got != 0 && equal(got, v));
}
