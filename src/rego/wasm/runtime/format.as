// Airlock Wasm runtime — sprintf, natively for what it can format exactly.
//
// OPA formats with Go's fmt: numbers that are integers print exactly (big
// ones too), other numbers as float64 (%v: shortest form, exponent outside
// 1e-4..1e21), strings raw, and composite values in Rego syntax
// (`["a", 1]`, `{"k": 1}`, `{1, 2}`, `set()`). This native version handles
// the verbs %v, %s, %d and %% without flags, width or precision, and values
// whose Go formatting it can reproduce exactly; for anything else it returns
// DEFER and the generated code calls the host's sprintf instead.

import { Buf } from "./heap";
import { canonOf } from "./number";
import { sortedEntries } from "./compare";
import { dumpString } from "./json";
import { ArrV, BoolV, NumV, ObjV, StrV, T_ARRAY, T_BOOL, T_NULL, T_NUMBER, T_OBJECT, T_SET, T_STRING, mkString } from "./value";

export const SPRINTF_DEFER: usize = 4;

/** Appends Go's %v of a number; false when it cannot be reproduced exactly. */
function formatNumber(b: Buf, v: usize, top: bool): bool {
  const n = changetype<NumV>(v);
  if (!n.isRef) {
    b.int(n.intVal);
    return true;
  }
  // Plain integer text: an int or big.Int in Go, printed exactly.
  let plain = true;
  for (let i: u32 = 0; i < n.textLen; i++) {
    const c = load<u8>(n.textPtr + <usize>i);
    if (!(c >= 0x30 && c <= 0x39) && !(i == 0 && c == 0x2d)) plain = false;
  }
  if (plain || !top) {
    // Inside composite values OPA prints the literal text.
    b.bytes(n.textPtr, n.textLen);
    return true;
  }
  // A float64 in Go: reproducible when its shortest form is these digits (<= 15 of them)
  // and %v prints it without an exponent.
  const c = canonOf(v);
  if (c.nd == 0) {
    b.byte(0x30);
    return true;
  }
  const x = c.exp - 1; // scientific exponent
  if (c.nd > 15 || x < -4 || x >= 21) return false;
  if (c.neg) b.byte(0x2d);
  if (c.exp <= 0) {
    b.ascii("0.");
    for (let i = c.exp; i < 0; i++) b.byte(0x30);
    b.bytes(c.digits, c.nd);
  } else if (<u32>c.exp >= c.nd) {
    b.bytes(c.digits, c.nd);
    for (let i = <i32>c.nd; i < c.exp; i++) b.byte(0x30);
  } else {
    b.bytes(c.digits, <u32>c.exp);
    b.byte(0x2e);
    b.bytes(c.digits + <usize>c.exp, c.nd - <u32>c.exp);
  }
  return true;
}

/** Appends OPA's %v of a value; false when this runtime cannot reproduce it. */
function formatValue(b: Buf, v: usize, top: bool): bool {
  switch (load<u8>(v)) {
    case T_NULL:
      b.ascii("null");
      return true;
    case T_BOOL:
      b.ascii(changetype<BoolV>(v).b ? "true" : "false");
      return true;
    case T_NUMBER:
      return formatNumber(b, v, top);
    case T_STRING: {
      const s = changetype<StrV>(v);
      if (top) {
        b.bytes(s.ptr, s.len);
        return true;
      }
      // Go quotes with strconv.Quote: identical to JSON quoting for printable text.
      for (let i: u32 = 0; i < s.len; i++) {
        const c = load<u8>(s.ptr + <usize>i);
        if (c < 0x20 || c == 0x7f) return false;
      }
      dumpString(b, s.ptr, s.len);
      return true;
    }
    case T_ARRAY: {
      const a = changetype<ArrV>(v);
      b.byte(0x5b);
      for (let i: u32 = 0; i < a.len; i++) {
        if (i > 0) b.ascii(", ");
        if (!formatValue(b, load<usize>(a.elems + (<usize>i << 2)), false)) return false;
      }
      b.byte(0x5d);
      return true;
    }
    case T_OBJECT: {
      const o = changetype<ObjV>(v);
      const sorted = sortedEntries(v);
      b.byte(0x7b);
      for (let i: u32 = 0; i < o.count; i++) {
        if (i > 0) b.ascii(", ");
        const e = load<usize>(sorted + (<usize>i << 2));
        if (!formatValue(b, load<usize>(e), false)) return false;
        b.ascii(": ");
        if (!formatValue(b, load<usize>(e, 4), false)) return false;
      }
      b.byte(0x7d);
      return true;
    }
    default: {
      const o = changetype<ObjV>(v);
      if (o.count == 0) {
        b.ascii("set()");
        return true;
      }
      const sorted = sortedEntries(v);
      b.byte(0x7b);
      for (let i: u32 = 0; i < o.count; i++) {
        if (i > 0) b.ascii(", ");
        if (!formatValue(b, load<usize>(load<usize>(sorted + (<usize>i << 2))), false)) return false;
      }
      b.byte(0x7d);
      return true;
    }
  }
}

/** sprintf(format, args): a string, or SPRINTF_DEFER. */
export function sprintf(format: usize, args: usize): usize {
  // Type errors are the checker's business; leave odd calls to the host.
  if (load<u8>(format) != T_STRING || load<u8>(args) != T_ARRAY) return SPRINTF_DEFER;
  const f = changetype<StrV>(format);
  const a = changetype<ArrV>(args);
  const b = Buf.create(f.len + 16);
  let next: u32 = 0;
  let i: u32 = 0;
  while (i < f.len) {
    const c = load<u8>(f.ptr + <usize>i);
    if (c != 0x25) {
      b.byte(c);
      i++;
      continue;
    }
    if (i + 1 >= f.len) return SPRINTF_DEFER;
    const verb = load<u8>(f.ptr + <usize>(i + 1));
    i += 2;
    if (verb == 0x25) {
      b.byte(0x25);
      continue;
    }
    if (next >= a.len) return SPRINTF_DEFER;
    const arg = load<usize>(a.elems + (<usize>next << 2));
    next++;
    const t = load<u8>(arg);
    if (verb == 0x76) {
      // %v
      if (!formatValue(b, arg, true)) return SPRINTF_DEFER;
    } else if (verb == 0x73 && t != T_NUMBER) {
      // %s: strings and composites as %v; Go prints booleans and null differently
      if (t == T_BOOL || t == T_NULL) return SPRINTF_DEFER;
      if (!formatValue(b, arg, true)) return SPRINTF_DEFER;
    } else if (verb == 0x64 || verb == 0x73) {
      // %d, and %s of a number: integers only (OPA prints big integers' digits for %s too)
      if (t != T_NUMBER) return SPRINTF_DEFER;
      const n = changetype<NumV>(arg);
      const c = canonOf(arg);
      if (!n.hasInt && !(c.nd == 0 || <i32>c.nd <= c.exp)) return SPRINTF_DEFER;
      if (n.hasInt) {
        b.int(n.intVal);
      } else {
        if (c.neg) b.byte(0x2d);
        b.bytes(c.digits, c.nd);
        for (let k = <i32>c.nd; k < c.exp; k++) b.byte(0x30);
      }
    } else {
      return SPRINTF_DEFER;
    }
  }
  if (next != a.len) return SPRINTF_DEFER;
  return mkString(b.ptr, b.len);
}
