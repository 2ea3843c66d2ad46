// Numbers: arithmetic with OPA's integer/float rules (exact big integers),
// rounding, ranges, bitwise operations; aggregates and set operations.
import { type Args, builtinError, typeError } from './errors.js';
import type { Family } from './family.js';
import { compare, num, RegoSet, typeName, type Value } from './value.js';

type Num = number | bigint;

/** Most elements numbers.range / numbers.range_step may produce (untrusted bounds). */
export const MAX_RANGE = 10_000_000;

const isInt = (x: Num): boolean => typeof x === 'bigint' || Number.isInteger(x);

function exact(
  a: Num,
  b: Num,
  big: (x: bigint, y: bigint) => bigint,
  dbl: (x: number, y: number) => number,
): Num {
  if (typeof a === 'number' && typeof b === 'number') {
    const r = dbl(a, b);
    if (Number.isSafeInteger(r) || !(Number.isInteger(a) && Number.isInteger(b))) return num(r);
  }
  if (isInt(a) && isInt(b)) return num(big(BigInt(a), BigInt(b)));
  return num(dbl(Number(a), Number(b)));
}

function finite(name: string, r: Num): Num {
  if (typeof r === 'number' && !Number.isFinite(r)) throw builtinError(name, 'result is not a finite number');
  return r;
}

/** Operands of set operations: sets, or arrays (sets arrive as arrays over the plain wire). */
function setOperand(a: Args, pos: number, want = 'set'): RegoSet {
  const v = a.at(pos);
  if (v instanceof RegoSet) return v;
  if (Array.isArray(v)) return new RegoSet(v);
  return a.wrong(pos, want);
}

/** What OPA's sum, product, max, min and sort ask of operand 1 (in that order). */
const AGGREGATE = 'one of {set, array}';

function numbersOf(a: Args, pos: number): Num[] {
  const v = a.at(pos);
  const items = a.collection(pos, AGGREGATE);
  for (const x of items)
    if (typeof x !== 'number' && typeof x !== 'bigint') throw a.elementError(pos, v, x, 'number');
  return items as Num[];
}

function rangeLen(name: string, n: bigint): void {
  if (n > BigInt(MAX_RANGE)) throw builtinError(name, `range of more than ${MAX_RANGE} numbers`);
}

function bitsInts(a: Args, ...pos: number[]): bigint[] {
  return pos.map((p) => BigInt(a.integer(p)));
}

function shift(a: Args): [bigint, bigint] {
  const [x, s] = bitsInts(a, 1, 2) as [bigint, bigint];
  if (s < 0n) throw typeError(a.name, 'operand 2 must be unsigned integer number but got negative integer');
  if (s > 65536n) throw builtinError(a.name, 'shift too large');
  return [x, s];
}

export const numbers: Family = {
  plus: (a) =>
    finite(
      'plus',
      exact(
        a.number(1),
        a.number(2),
        (x, y) => x + y,
        (x, y) => x + y,
      ),
    ),
  mul: (a) =>
    finite(
      'mul',
      exact(
        a.number(1),
        a.number(2),
        (x, y) => x * y,
        (x, y) => x * y,
      ),
    ),
  minus: (a) => {
    const x = a.at(1);
    const y = a.at(2);
    if ((typeof x === 'number' || typeof x === 'bigint') && (typeof y === 'number' || typeof y === 'bigint'))
      return finite(
        'minus',
        exact(
          x,
          y,
          (p, q) => p - q,
          (p, q) => p - q,
        ),
      );
    const xs = x instanceof RegoSet || Array.isArray(x);
    const ys = y instanceof RegoSet || Array.isArray(y);
    if (xs && ys) {
      const other = setOperand(a, 2);
      return new RegoSet([...setOperand(a, 1)].filter((v) => !other.has(v)));
    }
    if (typeof x === 'number' || typeof x === 'bigint') return a.wrong(2, 'number');
    if (xs) return a.wrong(2, 'set');
    return a.wrong(1, 'one of {number, set}');
  },
  div: (a) => {
    const x = a.number(1);
    const y = a.number(2);
    if (Number(y) === 0) throw builtinError('div', 'divide by zero');
    if (isInt(x) && isInt(y)) {
      const bx = BigInt(x);
      const by = BigInt(y);
      if (bx % by === 0n) return num(bx / by);
    }
    return finite('div', num(Number(x) / Number(y)));
  },
  rem: (a) => {
    const x = a.number(1);
    const y = a.number(2);
    if (!isInt(x) || !isInt(y)) throw builtinError('rem', 'modulo on floating-point number');
    const by = BigInt(y);
    if (by === 0n) throw builtinError('rem', 'modulo by zero');
    return num(BigInt(x) % by);
  },
  abs: (a) => {
    const x = a.number(1);
    return typeof x === 'bigint' ? num(x < 0n ? -x : x) : Math.abs(x);
  },
  round: (a) => {
    const x = a.number(1);
    return typeof x === 'bigint' ? x : num(Math.sign(x) * Math.round(Math.abs(x)));
  },
  ceil: (a) => {
    const x = a.number(1);
    return typeof x === 'bigint' ? x : num(Math.ceil(x));
  },
  floor: (a) => {
    const x = a.number(1);
    return typeof x === 'bigint' ? x : num(Math.floor(x));
  },
  'numbers.range': (a) => {
    const x = BigInt(a.integer(1));
    const y = BigInt(a.integer(2));
    const step = x <= y ? 1n : -1n;
    rangeLen('numbers.range', (y - x) * step + 1n);
    const out: Value[] = [];
    for (let i = x; step > 0n ? i <= y : i >= y; i += step) out.push(num(i));
    return out;
  },
  'numbers.range_step': (a) => {
    const x = BigInt(a.integer(1));
    const y = BigInt(a.integer(2));
    // OPA: the step is an integer operand (BigIntOperand), and above zero (wording: OPA's own cases).
    const step = BigInt(a.integer(3));
    if (step <= 0n) throw builtinError('numbers.range_step', 'step must be a positive integer');
    rangeLen('numbers.range_step', (x <= y ? y - x : x - y) / step + 1n);
    const out: Value[] = [];
    if (x <= y) for (let i = x; i <= y; i += step) out.push(num(i));
    else for (let i = x; i >= y; i -= step) out.push(num(i));
    return out;
  },
  'bits.and': (a) => {
    const [x, y] = bitsInts(a, 1, 2) as [bigint, bigint];
    return num(x & y);
  },
  'bits.or': (a) => {
    const [x, y] = bitsInts(a, 1, 2) as [bigint, bigint];
    return num(x | y);
  },
  'bits.xor': (a) => {
    const [x, y] = bitsInts(a, 1, 2) as [bigint, bigint];
    return num(x ^ y);
  },
  'bits.negate': (a) => num(~BigInt(a.integer(1))),
  'bits.lsh': (a) => {
    const [x, s] = shift(a);
    return num(x << s);
  },
  'bits.rsh': (a) => {
    const [x, s] = shift(a);
    return num(x >> s);
  },

  // ------------------------------------------------------------ aggregates
  sum: (a) => {
    let acc: Num = 0;
    for (const x of numbersOf(a, 1))
      acc = exact(
        acc,
        x,
        (p, q) => p + q,
        (p, q) => p + q,
      );
    return finite('sum', acc);
  },
  product: (a) => {
    let acc: Num = 1;
    for (const x of numbersOf(a, 1))
      acc = exact(
        acc,
        x,
        (p, q) => p * q,
        (p, q) => p * q,
      );
    return finite('product', acc);
  },
  max: (a) => {
    const items = a.collection(1, AGGREGATE);
    let best: Value | undefined;
    for (const x of items) if (best === undefined || compare(x, best) > 0) best = x;
    return best;
  },
  min: (a) => {
    const items = a.collection(1, AGGREGATE);
    let best: Value | undefined;
    for (const x of items) if (best === undefined || compare(x, best) < 0) best = x;
    return best;
  },
  sort: (a) => [...a.collection(1, AGGREGATE)].sort(compare),

  // ------------------------------------------------------------ sets
  and: (a) => {
    const x = setOperand(a, 1);
    const y = setOperand(a, 2);
    return new RegoSet([...x].filter((v) => y.has(v)));
  },
  or: (a) => {
    const x = setOperand(a, 1);
    const y = setOperand(a, 2);
    return new RegoSet([...x, ...y]);
  },
  intersection: (a) => {
    const outer = a.collection(1, 'set');
    const sets = outer.map((s) => {
      if (s instanceof RegoSet) return s;
      if (Array.isArray(s)) return new RegoSet(s);
      throw typeError('intersection', `operand 1 must be set of sets but got set containing ${typeName(s)}`);
    });
    const [first, ...rest] = sets;
    if (!first) return new RegoSet();
    return new RegoSet([...first].filter((v) => rest.every((s) => s.has(v))));
  },
  union: (a) => {
    const outer = a.collection(1, 'set');
    const out = new RegoSet();
    for (const s of outer) {
      if (!(s instanceof RegoSet) && !Array.isArray(s))
        throw typeError('union', `operand 1 must be set of sets but got set containing ${typeName(s)}`);
      for (const v of s) out.add(v);
    }
    return out;
  },
};
