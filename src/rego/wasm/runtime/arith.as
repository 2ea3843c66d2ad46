// Airlock Wasm runtime — exact arithmetic (plus, minus, mul, rem, div).
//
// Integers within i64 take a fast path with overflow checks; everything else
// is computed exactly in decimal: a number is sign × M × 10^e with M a digit
// string (little-endian digit values here). Results are written as plain
// decimal text (no exponent; integral results without a fraction, so
// 1.5 + 2.5 = 4) and parsed back into a number. Results longer than MAX_DIGITS
// digits are an error rather than a memory exhaustion.
//
// Errors come back as small codes (see ERR_*), which the generated code turns
// into an abort naming the call site: a value address is never below 128 (static data starts at 1024).

import { alloc, Buf } from "./heap";
import { canonOf, mkNumberText } from "./number";
import { ArrV, NumV, ObjV, ENTRY, T_ARRAY, T_NUMBER, T_SET, collFind, mkInt, mkSet, setAdd } from "./value";

export const ERR_DIV_ZERO: usize = 1;
export const ERR_FLOAT_MOD: usize = 2;
export const ERR_TOO_LARGE: usize = 3;
/** rem by zero: OPA's builtinRem words it "modulo by zero" (div: "divide by zero"). */
export const ERR_MOD_ZERO: usize = 5;
/** Type errors: 16 + 8 × (operand - 1) + type tag of the offending operand. */
export const ERR_TYPE: usize = 16;
export const ERR_TYPE_SET: usize = 40; // + 8 × (operand - 1) + tag: "must be set"
/** Operand 1 must be an array or set (aggregates): + tag. */
export const ERR_TYPE_COLL: usize = 8;
/** An aggregate's element is not a number: + tag. */
export const ERR_ELEM_NUMBER: usize = 56;
/** The same for a set's element: + tag (after count's codes, ops.as). */
export const ERR_ELEM_NUMBER_SET: usize = 104;

const MAX_DIGITS: i64 = 100000;
const DIV_DIGITS: i32 = 40;
const ROUND_DIGITS: u32 = 19;

/** A decimal: value = (neg ? -1 : 1) × M × 10^e, M = digits (little-endian values 0..9), n of them. */
@unmanaged
class Dec {
  neg: bool;
  n: u32;
  e: i64;
  d: usize;
}

function decOf(num: usize): Dec {
  const c = canonOf(num);
  const x = changetype<Dec>(alloc(offsetof<Dec>()));
  x.neg = c.neg != 0;
  x.n = c.nd;
  x.e = <i64>c.exp - <i64>c.nd;
  x.d = alloc(<usize>c.nd + 1);
  for (let i: u32 = 0; i < c.nd; i++) store<u8>(x.d + <usize>(c.nd - 1 - i), load<u8>(c.digits + <usize>i) - 0x30);
  return x;
}

function mkDec(neg: bool, d: usize, n: u32, e: i64): Dec {
  const x = changetype<Dec>(alloc(offsetof<Dec>()));
  x.neg = neg;
  x.d = d;
  x.n = n;
  x.e = e;
  return x;
}

/** Digits of x shifted left by k places (k zeros appended at the low end). */
function shifted(x: Dec, k: u32): usize {
  const p = alloc(<usize>(x.n + k) + 1);
  memory.fill(p, 0, <usize>k);
  memory.copy(p + <usize>k, x.d, <usize>x.n);
  return p;
}

function cmpMag(a: usize, na: u32, b: usize, nb: u32): i32 {
  while (na > 0 && load<u8>(a + <usize>(na - 1)) == 0) na--;
  while (nb > 0 && load<u8>(b + <usize>(nb - 1)) == 0) nb--;
  if (na != nb) return na < nb ? -1 : 1;
  for (let i = <i32>na - 1; i >= 0; i--) {
    const x = load<u8>(a + <usize>i);
    const y = load<u8>(b + <usize>i);
    if (x != y) return x < y ? -1 : 1;
  }
  return 0;
}

function addMag(a: usize, na: u32, b: usize, nb: u32): usize {
  const n = (na > nb ? na : nb) + 1;
  const r = alloc(<usize>n);
  let carry: u32 = 0;
  for (let i: u32 = 0; i < n; i++) {
    const s = (i < na ? <u32>load<u8>(a + <usize>i) : 0) + (i < nb ? <u32>load<u8>(b + <usize>i) : 0) + carry;
    store<u8>(r + <usize>i, <u8>(s % 10));
    carry = s / 10;
  }
  return r;
}

/** a - b for |a| >= |b|; result has na digits. */
function subMag(a: usize, na: u32, b: usize, nb: u32): usize {
  const r = alloc(<usize>na + 1);
  let borrow: i32 = 0;
  for (let i: u32 = 0; i < na; i++) {
    let s = <i32>load<u8>(a + <usize>i) - (i < nb ? <i32>load<u8>(b + <usize>i) : 0) - borrow;
    borrow = 0;
    if (s < 0) {
      s += 10;
      borrow = 1;
    }
    store<u8>(r + <usize>i, <u8>s);
  }
  return r;
}

/** Sum of two decimals (b negated when `negateB`); 0 when the result would be too long. */
function addDec(a: Dec, b: Dec, negateB: bool): Dec | null {
  const bneg = negateB ? !b.neg : b.neg;
  const e = a.e < b.e ? a.e : b.e;
  const ka = a.e - e;
  const kb = b.e - e;
  if (<i64>a.n + ka > MAX_DIGITS || <i64>b.n + kb > MAX_DIGITS) return null;
  const da = shifted(a, <u32>ka);
  const na = a.n + <u32>ka;
  const db = shifted(b, <u32>kb);
  const nb = b.n + <u32>kb;
  if (a.neg == bneg) return mkDec(a.neg, addMag(da, na, db, nb), (na > nb ? na : nb) + 1, e);
  const c = cmpMag(da, na, db, nb);
  if (c == 0) return mkDec(false, da, 0, 0);
  if (c > 0) return mkDec(a.neg, subMag(da, na, db, nb), na, e);
  return mkDec(bneg, subMag(db, nb, da, na), nb, e);
}

function mulDec(a: Dec, b: Dec): Dec | null {
  if (a.n == 0 || b.n == 0) return mkDec(false, a.d, 0, 0);
  if (<i64>a.n + <i64>b.n > MAX_DIGITS) return null;
  const n = a.n + b.n;
  const acc = alloc(<usize>n << 2);
  memory.fill(acc, 0, <usize>n << 2);
  for (let i: u32 = 0; i < a.n; i++) {
    const x = <u32>load<u8>(a.d + <usize>i);
    if (x == 0) continue;
    for (let j: u32 = 0; j < b.n; j++) {
      const p = acc + (<usize>(i + j) << 2);
      store<u32>(p, load<u32>(p) + x * <u32>load<u8>(b.d + <usize>j));
    }
    // keep the accumulators small
    if ((i & 63) == 63) normalize(acc, n);
  }
  normalize(acc, n);
  const r = alloc(<usize>n);
  for (let i: u32 = 0; i < n; i++) store<u8>(r + <usize>i, <u8>load<u32>(acc + (<usize>i << 2)));
  return mkDec(a.neg != b.neg, r, n, a.e + b.e);
}

function normalize(acc: usize, n: u32): void {
  let carry: u32 = 0;
  for (let i: u32 = 0; i < n; i++) {
    const p = acc + (<usize>i << 2);
    const v = load<u32>(p) + carry;
    store<u32>(p, v % 10);
    carry = v / 10;
  }
}

/** The number value of a decimal, via its plain text; 0 when the text would be too long. */
function decToNumber(x: Dec): usize {
  let n = x.n;
  while (n > 0 && load<u8>(x.d + <usize>(n - 1)) == 0) n--;
  let lo: u32 = 0;
  let e = x.e;
  while (lo < n && load<u8>(x.d + <usize>lo) == 0) {
    lo++;
    e++;
  }
  if (lo == n) return mkInt(0);
  const count = n - lo;
  // total text length: sign + digits + zeros or point
  const len: i64 = e >= 0 ? <i64>count + e : (<i64>count + e > 0 ? <i64>count + 1 : 2 - e);
  if (len > MAX_DIGITS) return 0;
  const b = Buf.create(<u32>len + 2);
  if (x.neg) b.byte(0x2d);
  if (e >= 0) {
    for (let i = <i32>n - 1; i >= <i32>lo; i--) b.byte(<u32>load<u8>(x.d + <usize>i) + 0x30);
    for (let i: i64 = 0; i < e; i++) b.byte(0x30);
  } else {
    const intDigits = <i64>count + e; // digits before the point
    if (intDigits <= 0) {
      b.ascii("0.");
      for (let i: i64 = 0; i < -intDigits; i++) b.byte(0x30);
      for (let i = <i32>n - 1; i >= <i32>lo; i--) b.byte(<u32>load<u8>(x.d + <usize>i) + 0x30);
    } else {
      let k: i64 = 0;
      for (let i = <i32>n - 1; i >= <i32>lo; i--) {
        if (k == intDigits) b.byte(0x2e);
        b.byte(<u32>load<u8>(x.d + <usize>i) + 0x30);
        k++;
      }
    }
  }
  return mkNumberText(b.ptr, b.len);
}

@inline
function typeError(operand: u32, v: usize): usize {
  return ERR_TYPE + (<usize>(operand - 1) << 3) + <usize>load<u8>(v);
}

function bothNumbers(a: usize, b: usize): usize {
  if (load<u8>(a) != T_NUMBER) return typeError(1, a);
  if (load<u8>(b) != T_NUMBER) return typeError(2, b);
  return 0;
}

export function plus(a: usize, b: usize): usize {
  const err = bothNumbers(a, b);
  if (err != 0) return err;
  const x = changetype<NumV>(a);
  const y = changetype<NumV>(b);
  if (x.hasInt && y.hasInt) {
    const s = x.intVal + y.intVal;
    // overflow iff both operands have the same sign and the sum's sign differs
    if (((x.intVal ^ s) & (y.intVal ^ s)) >= 0) return mkInt(s);
  }
  const r = addDec(decOf(a), decOf(b), false);
  if (r == null) return ERR_TOO_LARGE;
  const v = decToNumber(r);
  return v == 0 ? ERR_TOO_LARGE : v;
}

/** Numbers: a - b. Sets: the elements of a not in b. */
export function minus(a: usize, b: usize): usize {
  if (load<u8>(a) == T_SET) {
    if (load<u8>(b) != T_SET) return ERR_TYPE_SET + 8 + <usize>load<u8>(b);
    const out = mkSet();
    const x = changetype<ObjV>(a);
    for (let i: u32 = 0; i < x.count; i++) {
      const k = load<usize>(x.entries + <usize>i * ENTRY);
      if (collFind(b, k) == 0) setAdd(out, k);
    }
    return out;
  }
  const err = bothNumbers(a, b);
  if (err != 0) return err;
  const x = changetype<NumV>(a);
  const y = changetype<NumV>(b);
  if (x.hasInt && y.hasInt) {
    const s = x.intVal - y.intVal;
    if (((x.intVal ^ y.intVal) & (x.intVal ^ s)) >= 0) return mkInt(s);
  }
  const r = addDec(decOf(a), decOf(b), true);
  if (r == null) return ERR_TOO_LARGE;
  const v = decToNumber(r);
  return v == 0 ? ERR_TOO_LARGE : v;
}

export function mul(a: usize, b: usize): usize {
  const err = bothNumbers(a, b);
  if (err != 0) return err;
  const x = changetype<NumV>(a);
  const y = changetype<NumV>(b);
  if (x.hasInt && y.hasInt) {
    const p = x.intVal * y.intVal;
    const small: i64 = 0xb504f333; // ~sqrt(2^63): products of smaller operands cannot overflow
    if ((x.intVal < small && x.intVal > -small && y.intVal < small && y.intVal > -small) ||
        (x.intVal != 0 && p / x.intVal == y.intVal && !(x.intVal == -1 && y.intVal == i64.MIN_VALUE))) {
      return mkInt(p);
    }
  }
  const r = mulDec(decOf(a), decOf(b));
  if (r == null) return ERR_TOO_LARGE;
  const v = decToNumber(r);
  return v == 0 ? ERR_TOO_LARGE : v;
}

/** Canonical digits have no trailing zeros, so a decimal is integral iff its exponent is >= 0 (or it is 0). */
function isIntegral(x: Dec): bool {
  return x.e >= 0 || x.n == 0;
}

/** Integer digits of an integral decimal (exponent folded in); null when too long. */
function intDigits(x: Dec): Dec | null {
  if (x.n == 0) return x;
  if (<i64>x.n + x.e > MAX_DIGITS) return null;
  return mkDec(x.neg, shifted(x, <u32>x.e), x.n + <u32>x.e, 0);
}

/** Remainder and quotient of |a| / |b| for integer digit strings (schoolbook, base 10). */
function divMod(a: Dec, b: Dec, quotient: bool): usize {
  // r accumulates; q collects quotient digits (little-endian)
  const r = alloc(<usize>b.n + 2);
  memory.fill(r, 0, <usize>b.n + 2);
  let rn: u32 = 0;
  const q = quotient ? alloc(<usize>a.n + 1) : 0;
  for (let i = <i32>a.n - 1; i >= 0; i--) {
    // r = r * 10 + digit
    memory.copy(r + 1, r, <usize>rn);
    store<u8>(r, load<u8>(a.d + <usize>i));
    rn++;
    let qd: u8 = 0;
    while (cmpMag(r, rn, b.d, b.n) >= 0) {
      let borrow: i32 = 0;
      for (let j: u32 = 0; j < rn; j++) {
        let s = <i32>load<u8>(r + <usize>j) - (j < b.n ? <i32>load<u8>(b.d + <usize>j) : 0) - borrow;
        borrow = 0;
        if (s < 0) {
          s += 10;
          borrow = 1;
        }
        store<u8>(r + <usize>j, <u8>s);
      }
      qd++;
    }
    while (rn > 0 && load<u8>(r + <usize>(rn - 1)) == 0) rn--;
    if (quotient) store<u8>(q + <usize>i, qd);
  }
  if (quotient) return changetype<usize>(mkDec(false, q, a.n, 0));
  return changetype<usize>(mkDec(false, r, rn, 0));
}

/** rem(a, b): integers only; the result has the sign of a (truncated division). */
export function rem(a: usize, b: usize): usize {
  const err = bothNumbers(a, b);
  if (err != 0) return err;
  const x = changetype<NumV>(a);
  const y = changetype<NumV>(b);
  if (x.hasInt && y.hasInt) {
    if (y.intVal == 0) return ERR_MOD_ZERO;
    if (y.intVal == -1) return mkInt(0);
    return mkInt(x.intVal % y.intVal);
  }
  const da = decOf(a);
  const db = decOf(b);
  if (!isIntegral(da) || !isIntegral(db)) return ERR_FLOAT_MOD;
  if (db.n == 0) return ERR_MOD_ZERO;
  const ia = intDigits(da);
  const ib = intDigits(db);
  if (ia == null || ib == null) return ERR_TOO_LARGE;
  const r = changetype<Dec>(divMod(ia, ib, false));
  r.neg = da.neg;
  const v = decToNumber(r);
  return v == 0 ? ERR_TOO_LARGE : v;
}

/**
 * div(a, b): exact when the quotient terminates within DIV_DIGITS significant
 * digits (1/4 = 0.25); otherwise rounded to nearest at ROUND_DIGITS
 * significant digits, about the precision OPA's 64-bit big.Float division gives
 * (2/3 = 0.6666666666666666667).
 */
export function div(a: usize, b: usize): usize {
  const err = bothNumbers(a, b);
  if (err != 0) return err;
  const x = changetype<NumV>(a);
  const y = changetype<NumV>(b);
  if (y.hasInt && y.intVal == 0) return ERR_DIV_ZERO;
  if (x.hasInt && y.hasInt && y.intVal != -1 && x.intVal % y.intVal == 0) return mkInt(x.intVal / y.intVal);
  const da = decOf(a);
  const db = decOf(b);
  if (db.n == 0) return ERR_DIV_ZERO;
  if (da.n == 0) return mkInt(0);
  const sb = mkDec(false, db.d, db.n, 0);
  // Exact: scale the dividend by 10^k and require an integer quotient.
  const k = <u32>(DIV_DIGITS + <i32>db.n);
  if (<i64>da.n + <i64>k > MAX_DIGITS) return ERR_TOO_LARGE;
  const sa = mkDec(false, shifted(da, k), da.n + k, 0);
  const r = changetype<Dec>(divMod(sa, sb, false));
  let q = changetype<Dec>(divMod(sa, sb, true));
  let e = da.e - db.e - <i64>k;
  if (r.n != 0) {
    // Not exact: round the quotient to ROUND_DIGITS significant digits (to nearest).
    let qn = q.n;
    while (qn > 0 && load<u8>(q.d + <usize>(qn - 1)) == 0) qn--;
    if (qn > ROUND_DIGITS) {
      const drop = qn - ROUND_DIGITS;
      // The remainder is not zero, so a first dropped digit of 5 means above half: round up.
      const up = load<u8>(q.d + <usize>(drop - 1)) >= 5;
      let kept = mkDec(false, q.d + <usize>drop, ROUND_DIGITS, 0);
      if (up) {
        const one = alloc(1);
        store<u8>(one, 1);
        kept = mkDec(false, addMag(kept.d, kept.n, one, 1), kept.n + 1, 0);
      }
      q = kept;
      e += <i64>drop;
    }
  }
  q.neg = da.neg != db.neg;
  q.e = e;
  const v = decToNumber(q);
  return v == 0 ? ERR_TOO_LARGE : v;
}

/** Elements of an array or set, for the aggregates: count into *n, returns the element list address. */
function elements(coll: usize, n: usize): usize {
  const t = load<u8>(coll);
  if (t == T_SET || t == 6) {
    const o = changetype<ObjV>(coll);
    const out = alloc(<usize>o.count << 2);
    for (let i: u32 = 0; i < o.count; i++) store<usize>(out + (<usize>i << 2), load<usize>(o.entries + <usize>i * ENTRY));
    store<u32>(n, o.count);
    return out;
  }
  const a = changetype<ArrV>(coll);
  store<u32>(n, a.len);
  return a.elems;
}

/** sum / product of an array or set of numbers, exact. */
function aggregate(coll: usize, product: bool): usize {
  const t = load<u8>(coll);
  if (t != T_SET && t != T_ARRAY) return ERR_TYPE_COLL + <usize>t;
  const n = alloc(4);
  const elems = elements(coll, n);
  const count = load<u32>(n);
  let acc = mkInt(product ? 1 : 0);
  for (let i: u32 = 0; i < count; i++) {
    const v = load<usize>(elems + (<usize>i << 2));
    if (load<u8>(v) != T_NUMBER) return (t == T_SET ? ERR_ELEM_NUMBER_SET : ERR_ELEM_NUMBER) + <usize>load<u8>(v);
    acc = product ? mul(acc, v) : plus(acc, v);
    if (acc < 128) return acc;
  }
  return acc;
}

export function sum(coll: usize): usize {
  return aggregate(coll, false);
}

export function product(coll: usize): usize {
  return aggregate(coll, true);
}
