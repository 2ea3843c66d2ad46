// Airlock Wasm runtime — JSON and Rego-value text.
//
// parseText(p, len, valueMode) is a strict RFC 8259 parser (valueMode adds
// Rego's set literals `{1, 2}` / `set()` and non-string object keys). Strings
// must be valid UTF-8 without raw control characters; escapes are decoded
// (lone surrogates become U+FFFD). Nesting is bounded by MAX_DEPTH. On error
// it returns 0 and leaves a reason and byte offset in parseErrorMessage().
//
// dump(v, valueMode) writes NUL-terminated text: objects with keys sorted in
// OPA's order, sets as sorted arrays (JSON) or `{…}` / `set()` (value mode),
// non-string object keys as their JSON text inside a string (JSON mode).
//
// Tagged mode (host built-in calls, see index.as): the lossless encoding the
// host's 'tagged' codec speaks. Every object is {"o": [[k, v], …]}, every set
// {"s": […]}, an integer beyond double precision {"n": "digits"}, an integral
// number written with a point or exponent {"n": "1.0"}; null,
// booleans, strings, arrays and other numbers are plain JSON.
// parseText(…, tagged = true) accepts only those forms for objects.

import { alloc, Buf } from "./heap";
import { mkNumberText, scanNumber } from "./number";
import { sortedEntries } from "./compare";
import {
  ArrV, BoolV, NumV, ObjV, StrV,
  T_ARRAY, T_BOOL, T_NULL, T_NUMBER, T_OBJECT, T_SET, T_STRING,
  arrayAppend, mkArray, mkBool, mkNull, mkObject, mkSet, mkStringView, objectInsert, setAdd,
} from "./value";

export const MAX_DEPTH: i32 = 1000;

let P: usize = 0;
let END: usize = 0;
let START: usize = 0;
let DEPTH: i32 = 0;
let VALUE_MODE = false;
let TAGGED = false;
let ERR: string = "";
let ERR_AT: usize = 0;

function fail(msg: string): usize {
  if (ERR.length == 0) {
    ERR = msg;
    ERR_AT = P - START;
  }
  return 0;
}

/** Appends "<reason> at byte <n>" for the last failed parse. */
export function parseErrorMessage(b: Buf): void {
  b.ascii(ERR);
  b.ascii(" at byte ");
  b.int(<i64>ERR_AT);
}

export function parseText(p: usize, len: u32, valueMode: bool, tagged: bool = false): usize {
  P = p;
  START = p;
  END = p + <usize>len;
  DEPTH = 0;
  VALUE_MODE = valueMode;
  TAGGED = tagged && !valueMode;
  ERR = "";
  ERR_AT = 0;
  skipWs();
  const v = parseValue();
  if (v == 0) return 0;
  skipWs();
  if (P != END) return fail("unexpected data after the value");
  return v;
}

@inline
function skipWs(): void {
  while (P < END) {
    const c = load<u8>(P);
    if (c == 0x20 || c == 0x0a || c == 0x0d || c == 0x09) P++;
    else break;
  }
}

function literal(word: string): bool {
  const n = word.length;
  if (P + <usize>n > END) return false;
  for (let i = 0; i < n; i++) {
    if (<u32>load<u8>(P + <usize>i) != <u32>word.charCodeAt(i)) return false;
  }
  P += <usize>n;
  return true;
}

function parseValue(): usize {
  if (P >= END) return fail("unexpected end of input");
  const c = load<u8>(P);
  switch (c) {
    case 0x7b: // {
      return TAGGED ? parseTagged() : parseBrace();
    case 0x5b: // [
      return parseArray();
    case 0x22: // "
      return parseString();
    case 0x74: // t
      if (literal("true")) return mkBool(true);
      return fail("invalid literal");
    case 0x66: // f
      if (literal("false")) return mkBool(false);
      return fail("invalid literal");
    case 0x6e: // n
      if (literal("null")) return mkNull();
      return fail("invalid literal");
    case 0x73: // s
      if (VALUE_MODE && literal("set()")) return mkSet();
      return fail("unexpected character");
    default: {
      const n = scanNumber(P, END);
      if (n == 0) return fail(c == 0x2d || (c >= 0x30 && c <= 0x39) ? "invalid number" : "unexpected character");
      const v = mkNumberText(P, <u32>n);
      P += n;
      return v;
    }
  }
}

function enter(): bool {
  if (++DEPTH > MAX_DEPTH) {
    fail("nesting too deep");
    return false;
  }
  return true;
}

function parseArray(): usize {
  if (!enter()) return 0;
  P++;
  const arr = mkArray(0);
  skipWs();
  if (P < END && load<u8>(P) == 0x5d) {
    P++;
    DEPTH--;
    return arr;
  }
  while (true) {
    skipWs();
    const v = parseValue();
    if (v == 0) return 0;
    arrayAppend(arr, v);
    skipWs();
    if (P >= END) return fail("unexpected end of input");
    const c = load<u8>(P);
    P++;
    if (c == 0x2c) continue;
    if (c == 0x5d) break;
    P--;
    return fail("expected ',' or ']'");
  }
  DEPTH--;
  return arr;
}

function parseBrace(): usize {
  if (!enter()) return 0;
  P++;
  skipWs();
  if (P < END && load<u8>(P) == 0x7d) {
    P++;
    DEPTH--;
    return mkObject();
  }
  if (P >= END) return fail("unexpected end of input");
  if (!VALUE_MODE && load<u8>(P) != 0x22) return fail("expected a string object key");
  const first = parseValue();
  if (first == 0) return 0;
  skipWs();
  if (P >= END) return fail("unexpected end of input");
  if (load<u8>(P) != 0x3a) {
    if (!VALUE_MODE) return fail("expected ':'");
    return parseSetRest(first);
  }
  const obj = mkObject();
  let key = first;
  while (true) {
    // at ':'
    P++;
    skipWs();
    const v = parseValue();
    if (v == 0) return 0;
    objectInsert(obj, key, v);
    skipWs();
    if (P >= END) return fail("unexpected end of input");
    const c = load<u8>(P);
    if (c == 0x7d) {
      P++;
      break;
    }
    if (c != 0x2c) return fail("expected ',' or '}'");
    P++;
    skipWs();
    if (P >= END) return fail("unexpected end of input");
    if (!VALUE_MODE && load<u8>(P) != 0x22) return fail("expected a string object key");
    key = parseValue();
    if (key == 0) return 0;
    skipWs();
    if (P >= END || load<u8>(P) != 0x3a) return fail("expected ':'");
  }
  DEPTH--;
  return obj;
}

function parseSetRest(first: usize): usize {
  const set = mkSet();
  setAdd(set, first);
  while (true) {
    skipWs();
    if (P >= END) return fail("unexpected end of input");
    const c = load<u8>(P);
    P++;
    if (c == 0x7d) break;
    if (c != 0x2c) {
      P--;
      return fail("expected ',' or '}'");
    }
    skipWs();
    const v = parseValue();
    if (v == 0) return 0;
    setAdd(set, v);
  }
  DEPTH--;
  return set;
}

// ------------------------------------------------------ tagged parsing

/** At `c` (after white space): consumes it or fails. */
function expect(c: u32, msg: string): bool {
  skipWs();
  if (P >= END || <u32>load<u8>(P) != c) {
    fail(msg);
    return false;
  }
  P++;
  return true;
}

/** `{"o": …}`, `{"s": …}` or `{"n": …}`. */
function parseTagged(): usize {
  if (!enter()) return 0;
  P++;
  skipWs();
  if (P + 3 > END || load<u8>(P) != 0x22 || load<u8>(P + 2) != 0x22) {
    return fail("expected a tagged value {\"o\"|\"s\"|\"n\": …}");
  }
  const tag = load<u8>(P + 1);
  P += 3;
  if (!expect(0x3a, "expected ':'")) return 0;
  skipWs();
  let v: usize = 0;
  if (tag == 0x6f) v = parseTaggedObject();
  else if (tag == 0x73) v = parseTaggedSet();
  else if (tag == 0x6e) v = parseTaggedNumber();
  else return fail("unknown tag (expected \"o\", \"s\" or \"n\")");
  if (v == 0) return 0;
  if (!expect(0x7d, "expected '}'")) return 0;
  DEPTH--;
  return v;
}

/** [[key, value], …] */
function parseTaggedObject(): usize {
  if (!expect(0x5b, "expected '['")) return 0;
  const obj = mkObject();
  skipWs();
  if (P < END && load<u8>(P) == 0x5d) {
    P++;
    return obj;
  }
  while (true) {
    if (!expect(0x5b, "expected '[' (an object entry)")) return 0;
    skipWs();
    const k = parseValue();
    if (k == 0) return 0;
    if (!expect(0x2c, "expected ','")) return 0;
    skipWs();
    const v = parseValue();
    if (v == 0) return 0;
    if (!expect(0x5d, "expected ']' (end of an object entry)")) return 0;
    objectInsert(obj, k, v);
    skipWs();
    if (P >= END) return fail("unexpected end of input");
    const c = load<u8>(P);
    P++;
    if (c == 0x2c) continue;
    if (c == 0x5d) break;
    P--;
    return fail("expected ',' or ']'");
  }
  return obj;
}

/** [member, …] */
function parseTaggedSet(): usize {
  if (!expect(0x5b, "expected '['")) return 0;
  const set = mkSet();
  skipWs();
  if (P < END && load<u8>(P) == 0x5d) {
    P++;
    return set;
  }
  while (true) {
    skipWs();
    const v = parseValue();
    if (v == 0) return 0;
    setAdd(set, v);
    skipWs();
    if (P >= END) return fail("unexpected end of input");
    const c = load<u8>(P);
    P++;
    if (c == 0x2c) continue;
    if (c == 0x5d) break;
    P--;
    return fail("expected ',' or ']'");
  }
  return set;
}

/** "number text" */
function parseTaggedNumber(): usize {
  if (P >= END || load<u8>(P) != 0x22) return fail("expected number text in a string");
  const start = P + 1;
  let q = start;
  while (q < END && load<u8>(q) != 0x22) q++;
  if (q >= END) return fail("unterminated string");
  const n = scanNumber(start, q);
  if (n == 0 || start + n != q) {
    P = start;
    return fail("invalid number");
  }
  P = q + 1;
  return mkNumberText(start, <u32>n);
}

@inline
function hexVal(c: u32): i32 {
  if (c - 0x30 < 10) return <i32>(c - 0x30);
  const l = c | 0x20;
  if (l - 0x61 < 6) return <i32>(l - 0x61 + 10);
  return -1;
}

function readHex4(q: usize): i32 {
  if (q + 4 > END) return -1;
  let v: i32 = 0;
  for (let i: usize = 0; i < 4; i++) {
    const h = hexVal(<u32>load<u8>(q + i));
    if (h < 0) return -1;
    v = (v << 4) | h;
  }
  return v;
}

function putUtf8(dst: usize, cp: u32): usize {
  if (cp < 0x80) {
    store<u8>(dst, <u8>cp);
    return 1;
  }
  if (cp < 0x800) {
    store<u8>(dst, <u8>(0xc0 | (cp >> 6)));
    store<u8>(dst, <u8>(0x80 | (cp & 0x3f)), 1);
    return 2;
  }
  if (cp < 0x10000) {
    store<u8>(dst, <u8>(0xe0 | (cp >> 12)));
    store<u8>(dst, <u8>(0x80 | ((cp >> 6) & 0x3f)), 1);
    store<u8>(dst, <u8>(0x80 | (cp & 0x3f)), 2);
    return 3;
  }
  store<u8>(dst, <u8>(0xf0 | (cp >> 18)));
  store<u8>(dst, <u8>(0x80 | ((cp >> 12) & 0x3f)), 1);
  store<u8>(dst, <u8>(0x80 | ((cp >> 6) & 0x3f)), 2);
  store<u8>(dst, <u8>(0x80 | (cp & 0x3f)), 3);
  return 4;
}

/** Length of the valid UTF-8 sequence at q (1..4), or 0. */
function utf8Len(q: usize): usize {
  const c = <u32>load<u8>(q);
  let n: usize;
  let lo: u32 = 0x80;
  let hi: u32 = 0xbf;
  if (c >= 0xc2 && c <= 0xdf) n = 2;
  else if (c >= 0xe0 && c <= 0xef) {
    n = 3;
    if (c == 0xe0) lo = 0xa0;
    if (c == 0xed) hi = 0x9f;
  } else if (c >= 0xf0 && c <= 0xf4) {
    n = 4;
    if (c == 0xf0) lo = 0x90;
    if (c == 0xf4) hi = 0x8f;
  } else return 0;
  if (q + n > END) return 0;
  const c1 = <u32>load<u8>(q + 1);
  if (c1 < lo || c1 > hi) return 0;
  for (let i: usize = 2; i < n; i++) {
    const cx = <u32>load<u8>(q + i);
    if (cx < 0x80 || cx > 0xbf) return 0;
  }
  return n;
}

function parseString(): usize {
  P++;
  // First pass: validate and measure.
  let q = P;
  let escapes = false;
  while (true) {
    if (q >= END) return fail("unterminated string");
    const c = <u32>load<u8>(q);
    if (c == 0x22) break;
    if (c < 0x20) {
      P = q;
      return fail("control character in string");
    }
    if (c == 0x5c) {
      escapes = true;
      q += 2;
      continue;
    }
    if (c < 0x80) {
      q++;
      continue;
    }
    const n = utf8Len(q);
    if (n == 0) {
      P = q;
      return fail("invalid UTF-8 in string");
    }
    q += n;
  }
  const rawLen = <u32>(q - P);
  if (!escapes) {
    const dst = alloc(<usize>rawLen);
    memory.copy(dst, P, <usize>rawLen);
    P = q + 1;
    return mkStringView(dst, rawLen);
  }
  // Decoded text is never longer than the escaped text.
  const dst = alloc(<usize>rawLen);
  let w = dst;
  while (P < q) {
    const c = <u32>load<u8>(P);
    if (c != 0x5c) {
      store<u8>(w++, <u8>c);
      P++;
      continue;
    }
    if (P + 1 >= q) return fail("invalid escape");
    const e = <u32>load<u8>(P + 1);
    P += 2;
    switch (e) {
      case 0x22: store<u8>(w++, 0x22); break;
      case 0x5c: store<u8>(w++, 0x5c); break;
      case 0x2f: store<u8>(w++, 0x2f); break;
      case 0x62: store<u8>(w++, 0x08); break;
      case 0x66: store<u8>(w++, 0x0c); break;
      case 0x6e: store<u8>(w++, 0x0a); break;
      case 0x72: store<u8>(w++, 0x0d); break;
      case 0x74: store<u8>(w++, 0x09); break;
      case 0x75: {
        let cp = readHex4(P);
        if (cp < 0) return fail("invalid \\u escape");
        P += 4;
        if (cp >= 0xd800 && cp <= 0xdbff) {
          let lowOk = false;
          if (P + 6 <= q && load<u8>(P) == 0x5c && load<u8>(P + 1) == 0x75) {
            const lo = readHex4(P + 2);
            if (lo >= 0xdc00 && lo <= 0xdfff) {
              cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
              P += 6;
              lowOk = true;
            }
          }
          if (!lowOk) cp = 0xfffd;
        } else if (cp >= 0xdc00 && cp <= 0xdfff) {
          cp = 0xfffd;
        }
        w += putUtf8(w, <u32>cp);
        break;
      }
      default:
        P -= 2;
        return fail("invalid escape");
    }
  }
  P = q + 1;
  return mkStringView(dst, <u32>(w - dst));
}

// ---------------------------------------------------------------- dumping

export function dump(v: usize, valueMode: bool, tagged: bool = false): usize {
  const b = Buf.create(64);
  if (tagged && !valueMode) dumpTagged(b, v);
  else dumpValue(b, v, valueMode);
  b.byte(0);
  return b.ptr;
}

const HEX = "0123456789abcdef";

export function dumpString(b: Buf, p: usize, n: u32): void {
  b.byte(0x22);
  let run = p;
  const end = p + <usize>n;
  for (let q = p; q < end; q++) {
    const c = <u32>load<u8>(q);
    if (c >= 0x20 && c != 0x22 && c != 0x5c) continue;
    b.bytes(run, <u32>(q - run));
    run = q + 1;
    b.byte(0x5c);
    if (c == 0x22 || c == 0x5c) b.byte(c);
    else if (c == 0x0a) b.byte(0x6e);
    else if (c == 0x0d) b.byte(0x72);
    else if (c == 0x09) b.byte(0x74);
    else if (c == 0x08) b.byte(0x62);
    else if (c == 0x0c) b.byte(0x66);
    else {
      b.ascii("u00");
      b.byte(<u32>HEX.charCodeAt(<i32>(c >> 4)));
      b.byte(<u32>HEX.charCodeAt(<i32>(c & 15)));
    }
  }
  b.bytes(run, <u32>(end - run));
  b.byte(0x22);
}

export function dumpValue(b: Buf, v: usize, valueMode: bool): void {
  switch (load<u8>(v)) {
    case T_NULL:
      b.ascii("null");
      return;
    case T_BOOL:
      b.ascii(changetype<BoolV>(v).b ? "true" : "false");
      return;
    case T_NUMBER: {
      const n = changetype<NumV>(v);
      if (n.isRef) b.bytes(n.textPtr, n.textLen);
      else b.int(n.intVal);
      return;
    }
    case T_STRING: {
      const s = changetype<StrV>(v);
      dumpString(b, s.ptr, s.len);
      return;
    }
    case T_ARRAY: {
      const a = changetype<ArrV>(v);
      b.byte(0x5b);
      for (let i: u32 = 0; i < a.len; i++) {
        if (i > 0) b.byte(0x2c);
        dumpValue(b, load<usize>(a.elems + (<usize>i << 2)), valueMode);
      }
      b.byte(0x5d);
      return;
    }
    case T_OBJECT: {
      const o = changetype<ObjV>(v);
      const sorted = sortedEntries(v);
      b.byte(0x7b);
      for (let i: u32 = 0; i < o.count; i++) {
        if (i > 0) b.byte(0x2c);
        const e = load<usize>(sorted + (<usize>i << 2));
        const k = load<usize>(e);
        if (valueMode || load<u8>(k) == T_STRING) {
          dumpValue(b, k, valueMode);
        } else {
          const kb = Buf.create(32);
          dumpValue(kb, k, false);
          dumpString(b, kb.ptr, kb.len);
        }
        b.byte(0x3a);
        dumpValue(b, load<usize>(e, 4), valueMode);
      }
      b.byte(0x7d);
      return;
    }
    default: {
      const o = changetype<ObjV>(v);
      if (valueMode && o.count == 0) {
        b.ascii("set()");
        return;
      }
      const sorted = sortedEntries(v);
      b.byte(valueMode ? 0x7b : 0x5b);
      for (let i: u32 = 0; i < o.count; i++) {
        if (i > 0) b.byte(0x2c);
        dumpValue(b, load<usize>(load<usize>(sorted + (<usize>i << 2))), valueMode);
      }
      b.byte(valueMode ? 0x7d : 0x5d);
    }
  }
}

// ------------------------------------------------------ tagged dumping

/** 2^53: integers beyond it lose digits as JSON doubles. */
const MAX_EXACT: i64 = 9007199254740992;

/**
 * Text of an integral number written with a point or an exponent (1.0, 1e0): JSON parsing
 * on the host would make it 1, yet OPA tells the two apart (such a number is no integer
 * operand or array index), so it crosses tagged as {"n": "1.0"}.
 */
function integralNonIntegerText(p: usize, n: u32): bool {
  for (let i: u32 = 0; i < n; i++) {
    const c = <u32>load<u8>(p + <usize>i);
    if (c == 0x2e || (c | 0x20) == 0x65) return true;
  }
  return false;
}

/** Integer text of more than 15 digits (it may not fit a double exactly). */
function longIntegerText(p: usize, n: u32): bool {
  let digits: u32 = 0;
  for (let i: u32 = 0; i < n; i++) {
    const c = <u32>load<u8>(p + <usize>i);
    if (c == 0x2d && i == 0) continue;
    if (c < 0x30 || c > 0x39) return false;
    digits++;
  }
  return digits > 15;
}

export function dumpTagged(b: Buf, v: usize): void {
  switch (load<u8>(v)) {
    case T_NUMBER: {
      const n = changetype<NumV>(v);
      if (n.isRef) {
        if (
          longIntegerText(n.textPtr, n.textLen) ||
          (n.hasInt && integralNonIntegerText(n.textPtr, n.textLen))
        ) {
          b.ascii("{\"n\":\"");
          b.bytes(n.textPtr, n.textLen);
          b.ascii("\"}");
        } else {
          b.bytes(n.textPtr, n.textLen);
        }
      } else if (n.intVal > MAX_EXACT || n.intVal < -MAX_EXACT) {
        b.ascii("{\"n\":\"");
        b.int(n.intVal);
        b.ascii("\"}");
      } else {
        b.int(n.intVal);
      }
      return;
    }
    case T_ARRAY: {
      const a = changetype<ArrV>(v);
      b.byte(0x5b);
      for (let i: u32 = 0; i < a.len; i++) {
        if (i > 0) b.byte(0x2c);
        dumpTagged(b, load<usize>(a.elems + (<usize>i << 2)));
      }
      b.byte(0x5d);
      return;
    }
    case T_OBJECT: {
      const o = changetype<ObjV>(v);
      const sorted = sortedEntries(v);
      b.ascii("{\"o\":[");
      for (let i: u32 = 0; i < o.count; i++) {
        if (i > 0) b.byte(0x2c);
        const e = load<usize>(sorted + (<usize>i << 2));
        b.byte(0x5b);
        dumpTagged(b, load<usize>(e));
        b.byte(0x2c);
        dumpTagged(b, load<usize>(e, 4));
        b.byte(0x5d);
      }
      b.ascii("]}");
      return;
    }
    case T_SET: {
      const o = changetype<ObjV>(v);
      const sorted = sortedEntries(v);
      b.ascii("{\"s\":[");
      for (let i: u32 = 0; i < o.count; i++) {
        if (i > 0) b.byte(0x2c);
        dumpTagged(b, load<usize>(load<usize>(sorted + (<usize>i << 2))));
      }
      b.ascii("]}");
      return;
    }
    default:
      dumpValue(b, v, false);
  }
}
