// Airlock Wasm runtime — string built-ins the module runs itself.
//
// Strings are valid UTF-8 (json.as rejects invalid input and turns lone
// surrogates into U+FFFD; the compiler writes literals as UTF-8), so prefix,
// suffix and substring tests on bytes give the same answers as OPA's tests on
// Go strings. Whatever these functions do not handle exactly — an operand that
// is not a string, a non-ASCII letter to case-map, an empty needle for indexof —
// they return STRING_DEFER and the generated code calls the host's version,
// which also reports the type errors, so messages stay the host's.

import { sortedEntries } from "./compare";
import { alloc } from "./heap";
import {
  ArrV, ObjV, StrV, T_ARRAY, T_SET, T_STRING,
  arrayGet, entryAt, entryKey, mkBool, mkInt, mkStringView,
} from "./value";

/** Same code as SPRINTF_DEFER and the compiler's NATIVE_DEFER. */
export const STRING_DEFER: usize = 4;

@inline
function isString(v: usize): bool {
  return load<u8>(v) == T_STRING;
}

/** Whether the `n` bytes at `p` and `q` are the same. */
function sameBytes(p: usize, q: usize, n: u32): bool {
  return n == 0 || memory.compare(p, q, <usize>n) == 0;
}

/** Byte offset of the first occurrence of `sub` in `s`, or -1 (`sub` non-empty). */
function find(s: StrV, sub: StrV): i32 {
  const n = sub.len;
  if (n > s.len) return -1;
  const first = load<u8>(sub.ptr);
  const last = s.len - n;
  for (let i: u32 = 0; i <= last; i++) {
    const p = s.ptr + <usize>i;
    if (load<u8>(p) == first && sameBytes(p + 1, sub.ptr + 1, n - 1)) return <i32>i;
  }
  return -1;
}

@inline
function hasPrefix(s: StrV, p: StrV): bool {
  return p.len <= s.len && sameBytes(s.ptr, p.ptr, p.len);
}

@inline
function hasSuffix(s: StrV, p: StrV): bool {
  return p.len <= s.len && sameBytes(s.ptr + <usize>(s.len - p.len), p.ptr, p.len);
}

export function startsWith(a: usize, b: usize): usize {
  if (!isString(a) || !isString(b)) return STRING_DEFER;
  return mkBool(hasPrefix(changetype<StrV>(a), changetype<StrV>(b)));
}

export function endsWith(a: usize, b: usize): usize {
  if (!isString(a) || !isString(b)) return STRING_DEFER;
  return mkBool(hasSuffix(changetype<StrV>(a), changetype<StrV>(b)));
}

export function contains(a: usize, b: usize): usize {
  if (!isString(a) || !isString(b)) return STRING_DEFER;
  const sub = changetype<StrV>(b);
  return mkBool(sub.len == 0 || find(changetype<StrV>(a), sub) >= 0);
}

/** trim_prefix: `a` without the prefix `b` (the same value when it lacks it). */
export function trimPrefix(a: usize, b: usize): usize {
  if (!isString(a) || !isString(b)) return STRING_DEFER;
  const s = changetype<StrV>(a);
  const p = changetype<StrV>(b);
  if (p.len == 0 || !hasPrefix(s, p)) return a;
  // Strings are never changed in place, so the result may share the bytes.
  return mkStringView(s.ptr + <usize>p.len, s.len - p.len);
}

/** trim_suffix: `a` without the suffix `b` (the same value when it lacks it). */
export function trimSuffix(a: usize, b: usize): usize {
  if (!isString(a) || !isString(b)) return STRING_DEFER;
  const s = changetype<StrV>(a);
  const p = changetype<StrV>(b);
  if (p.len == 0 || !hasSuffix(s, p)) return a;
  return mkStringView(s.ptr, s.len - p.len);
}

/**
 * indexof: the index in code points of the first occurrence, or -1. An empty
 * needle goes to the host, which decides what that means.
 */
export function indexOf(a: usize, b: usize): usize {
  if (!isString(a) || !isString(b)) return STRING_DEFER;
  const s = changetype<StrV>(a);
  const sub = changetype<StrV>(b);
  if (sub.len == 0) return STRING_DEFER;
  const at = find(s, sub);
  if (at < 0) return mkInt(-1);
  // Count the code points before the match: every byte that is not a continuation byte starts one.
  let runes: i64 = 0;
  for (let i: u32 = 0; i < <u32>at; i++) {
    if ((load<u8>(s.ptr + <usize>i) & 0xc0) != 0x80) runes++;
  }
  return mkInt(runes);
}

/** Address of the i-th element of an array or of a set in sorted order (`order` from sortedEntries). */
@inline
function element(coll: usize, order: usize, i: u32): usize {
  return order == 0 ? arrayGet(coll, i) : entryKey(load<usize>(order + (<usize>i << 2)));
}

/** concat(delimiter, array or set of strings): the strings joined, a set's in sorted order. */
export function concat(d: usize, coll: usize): usize {
  if (!isString(d)) return STRING_DEFER;
  const t = load<u8>(coll);
  let n: u32 = 0;
  let order: usize = 0;
  if (t == T_ARRAY) {
    n = changetype<ArrV>(coll).len;
  } else if (t == T_SET) {
    n = changetype<ObjV>(coll).count;
  } else {
    return STRING_DEFER;
  }
  // Check the elements and size the result before sorting or copying anything.
  const delim = changetype<StrV>(d);
  let total: u64 = n > 0 ? <u64>delim.len * <u64>(n - 1) : 0;
  for (let i: u32 = 0; i < n; i++) {
    const v = t == T_ARRAY ? arrayGet(coll, i) : entryKey(entryAt(coll, i));
    if (!isString(v)) return STRING_DEFER;
    total += <u64>changetype<StrV>(v).len;
  }
  if (total > 0x7fffffff) return STRING_DEFER;
  // One element: the result is that string.
  if (n == 1) return t == T_ARRAY ? arrayGet(coll, 0) : entryKey(entryAt(coll, 0));
  if (t == T_SET) order = sortedEntries(coll);
  const out = alloc(<usize>total);
  let w = out;
  for (let i: u32 = 0; i < n; i++) {
    if (i > 0 && delim.len > 0) {
      memory.copy(w, delim.ptr, <usize>delim.len);
      w += <usize>delim.len;
    }
    const s = changetype<StrV>(element(coll, order, i));
    if (s.len > 0) {
      memory.copy(w, s.ptr, <usize>s.len);
      w += <usize>s.len;
    }
  }
  return mkStringView(out, <u32>total);
}

/**
 * lower/upper for ASCII text (Go's case mapping of non-ASCII runes is the
 * host's business). Text that needs no change comes back as the same value.
 */
function asciiCase(a: usize, upper: bool): usize {
  if (!isString(a)) return STRING_DEFER;
  const s = changetype<StrV>(a);
  const from: u32 = upper ? 0x61 : 0x41; // 'a' or 'A'
  let changes = false;
  for (let i: u32 = 0; i < s.len; i++) {
    const c = <u32>load<u8>(s.ptr + <usize>i);
    if (c >= 0x80) return STRING_DEFER;
    if (c - from < 26) changes = true;
  }
  if (!changes) return a;
  const out = alloc(<usize>s.len);
  for (let i: u32 = 0; i < s.len; i++) {
    const c = <u32>load<u8>(s.ptr + <usize>i);
    store<u8>(out + <usize>i, <u8>(c - from < 26 ? c ^ 0x20 : c));
  }
  return mkStringView(out, s.len);
}

export function lower(a: usize): usize {
  return asciiCase(a, false);
}

export function upper(a: usize): usize {
  return asciiCase(a, true);
}
