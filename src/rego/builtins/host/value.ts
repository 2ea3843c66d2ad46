// How host code sees Rego values, and the codecs between that model and the
// wire format the Wasm module and the SDK exchange.
//
// Model:
//   null, boolean, string   → JS primitives
//   number                  → JS number; an integer beyond 2^53 → bigint
//   array                   → Value[]
//   object                  → RegoObject (keys of any type)
//   set                     → RegoSet
//
// Wire formats (the active one is a parameter):
//   'plain'  today's JSON bridge: objects are JSON objects (string keys), sets
//            arrive as arrays and numbers as doubles. Lossy, but what the stock
//            SDK speaks.
//   'tagged' lossless: every object {"o": [[k, v], …]}, every set {"s": […]},
//            a number beyond double precision {"n": "text"}, an integral number
//            written with a point or exponent {"n": "1.0"}; other values plain.
// Encoding returns JSON text as an ArrayBuffer: the SDK hands it to
// opa_json_parse unchanged, so big integers keep every digit.

export type Value = null | boolean | number | bigint | string | Value[] | RegoObject | RegoSet;

export type TypeName = 'null' | 'boolean' | 'number' | 'string' | 'array' | 'object' | 'set';

/** A short text that identifies a value up to Rego equality (1 and 1.0 are equal). */
export function keyOf(v: Value): string {
  switch (typeof v) {
    case 'string':
      return `s${v}`;
    case 'number':
      return `n${v}`;
    case 'bigint':
      return `n${v}`;
    case 'boolean':
      return v ? 'T' : 'F';
    default:
      if (v === null) return 'z';
      return `c${toJSONText(v, 'tagged')}`;
  }
}

export class RegoSet {
  private readonly items = new Map<string, Value>();
  constructor(values?: Iterable<Value>) {
    if (values) for (const v of values) this.add(v);
  }
  get size(): number {
    return this.items.size;
  }
  add(v: Value): this {
    const k = keyOf(v);
    if (!this.items.has(k)) this.items.set(k, v);
    return this;
  }
  has(v: Value): boolean {
    return this.items.has(keyOf(v));
  }
  delete(v: Value): boolean {
    return this.items.delete(keyOf(v));
  }
  values(): IterableIterator<Value> {
    return this.items.values();
  }
  [Symbol.iterator](): IterableIterator<Value> {
    return this.items.values();
  }
  /** Members in OPA's order. */
  sorted(): Value[] {
    return [...this.items.values()].sort(compare);
  }
}

export class RegoObject {
  private readonly items = new Map<string, [Value, Value]>();
  constructor(entries?: Iterable<readonly [Value, Value]>) {
    if (entries) for (const [k, v] of entries) this.set(k, v);
  }
  static fromRecord(r: Record<string, Value>): RegoObject {
    const o = new RegoObject();
    for (const k of Object.keys(r)) o.set(k, r[k] as Value);
    return o;
  }
  get size(): number {
    return this.items.size;
  }
  get(k: Value): Value | undefined {
    return this.items.get(keyOf(k))?.[1];
  }
  has(k: Value): boolean {
    return this.items.has(keyOf(k));
  }
  set(k: Value, v: Value): this {
    this.items.set(keyOf(k), [k, v]);
    return this;
  }
  delete(k: Value): boolean {
    return this.items.delete(keyOf(k));
  }
  keys(): Value[] {
    return [...this.items.values()].map((e) => e[0]);
  }
  values(): Value[] {
    return [...this.items.values()].map((e) => e[1]);
  }
  entries(): IterableIterator<[Value, Value]> {
    return this.items.values();
  }
  [Symbol.iterator](): IterableIterator<[Value, Value]> {
    return this.items.values();
  }
  /** Entries sorted by key in OPA's order. */
  sorted(): [Value, Value][] {
    return [...this.items.values()].sort((a, b) => compare(a[0], b[0]));
  }
}

export function typeName(v: Value): TypeName {
  if (v === null) return 'null';
  switch (typeof v) {
    case 'boolean':
      return 'boolean';
    case 'number':
    case 'bigint':
      return 'number';
    case 'string':
      return 'string';
    default:
      if (Array.isArray(v)) return 'array';
      return v instanceof RegoSet ? 'set' : 'object';
  }
}

const RANK: Record<TypeName, number> = {
  null: 0,
  boolean: 1,
  number: 2,
  string: 3,
  array: 4,
  object: 5,
  set: 6,
};

function compareNumbers(a: number | bigint, b: number | bigint): number {
  if (typeof a === 'number' && typeof b === 'number') return a < b ? -1 : a > b ? 1 : 0;
  // Mixed or big: compare exactly when both are integers, else through doubles.
  if (typeof a === 'bigint' && typeof b === 'bigint') return a < b ? -1 : a > b ? 1 : 0;
  return a < b ? -1 : a > b ? 1 : 0;
}

function compareStrings(a: string, b: string): number {
  // Go compares strings byte-wise in UTF-8; code point order equals that order.
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.codePointAt(i) ?? 0;
    const y = b.codePointAt(i) ?? 0;
    if (x !== y) return x < y ? -1 : 1;
    if (x > 0xffff) i++;
  }
  return a.length < b.length ? -1 : a.length > b.length ? 1 : 0;
}

/** OPA's total order: null < boolean < number < string < array < object < set. */
export function compare(a: Value, b: Value): number {
  const ta = typeName(a);
  const tb = typeName(b);
  if (ta !== tb) return RANK[ta] < RANK[tb] ? -1 : 1;
  switch (ta) {
    case 'null':
      return 0;
    case 'boolean':
      return a === b ? 0 : a ? 1 : -1;
    case 'number':
      return compareNumbers(a as number | bigint, b as number | bigint);
    case 'string':
      return compareStrings(a as string, b as string);
    case 'array': {
      const x = a as Value[];
      const y = b as Value[];
      const n = Math.min(x.length, y.length);
      for (let i = 0; i < n; i++) {
        const c = compare(x[i] as Value, y[i] as Value);
        if (c !== 0) return c;
      }
      return x.length - y.length < 0 ? -1 : x.length > y.length ? 1 : 0;
    }
    case 'object': {
      // Sorted keys first, then values, then size (OPA's object comparison).
      const x = (a as RegoObject).sorted();
      const y = (b as RegoObject).sorted();
      const n = Math.min(x.length, y.length);
      for (let i = 0; i < n; i++) {
        const [xk, xv] = x[i] as [Value, Value];
        const [yk, yv] = y[i] as [Value, Value];
        const c = compare(xk, yk);
        if (c !== 0) return c;
        const d = compare(xv, yv);
        if (d !== 0) return d;
      }
      return x.length < y.length ? -1 : x.length > y.length ? 1 : 0;
    }
    default: {
      const x = (a as RegoSet).sorted();
      const y = (b as RegoSet).sorted();
      const n = Math.min(x.length, y.length);
      for (let i = 0; i < n; i++) {
        const c = compare(x[i] as Value, y[i] as Value);
        if (c !== 0) return c;
      }
      return x.length < y.length ? -1 : x.length > y.length ? 1 : 0;
    }
  }
}

export function equal(a: Value, b: Value): boolean {
  return keyOf(a) === keyOf(b);
}

/** A number in its canonical form: bigint only beyond the safe integer range. */
export function num(n: number | bigint): number | bigint {
  if (typeof n === 'bigint') {
    if (n <= BigInt(Number.MAX_SAFE_INTEGER) && n >= BigInt(Number.MIN_SAFE_INTEGER)) return Number(n);
    return n;
  }
  return Object.is(n, -0) ? 0 : n;
}

function numberFromText(text: string): number | bigint {
  if (/^-?\d+$/.test(text)) return num(BigInt(text));
  const n = Number(text);
  if (!Number.isFinite(n)) throw new Error(`number out of range: ${text}`);
  return n;
}

function numberText(n: number | bigint): string {
  if (typeof n === 'bigint') return n.toString();
  if (!Number.isFinite(n)) throw new Error('cannot encode a non-finite number');
  if (Number.isInteger(n) && Math.abs(n) >= 1e21) return BigInt(n).toString();
  return JSON.stringify(n);
}

export type WireMode = 'plain' | 'tagged';

/** JSON text of a value in the given wire format (sets as sorted arrays in 'plain'). */
export function toJSONText(v: Value, mode: WireMode): string {
  if (v === null) return 'null';
  switch (typeof v) {
    case 'boolean':
      return v ? 'true' : 'false';
    case 'number':
      return numberText(v);
    case 'bigint':
      return mode === 'tagged' ? `{"n":"${v}"}` : v.toString();
    case 'string':
      return JSON.stringify(v);
  }
  if (Array.isArray(v)) return `[${v.map((x) => toJSONText(x, mode)).join(',')}]`;
  if (v instanceof RegoSet) {
    const items = v
      .sorted()
      .map((x) => toJSONText(x, mode))
      .join(',');
    return mode === 'tagged' ? `{"s":[${items}]}` : `[${items}]`;
  }
  const entries = v.sorted();
  if (mode === 'tagged') {
    return `{"o":[${entries.map(([k, x]) => `[${toJSONText(k, mode)},${toJSONText(x, mode)}]`).join(',')}]}`;
  }
  // Plain JSON: a non-string key is written as its own JSON text.
  return `{${entries.map(([k, x]) => `${JSON.stringify(typeof k === 'string' ? k : toJSONText(k, mode))}:${toJSONText(x, mode)}`).join(',')}}`;
}

/** Converts a value to plain JS data (objects as records, sets as sorted arrays, bigints as numbers). */
export function toJS(v: Value): unknown {
  return JSON.parse(toJSONText(v, 'plain'));
}

/** Converts parsed JSON (plain) to a value. */
export function fromJS(x: unknown): Value {
  if (x === null || typeof x === 'boolean' || typeof x === 'string') return x;
  if (typeof x === 'number') return num(x);
  if (typeof x === 'bigint') return num(x);
  if (Array.isArray(x)) return x.map(fromJS);
  if (typeof x === 'object') {
    const o = new RegoObject();
    for (const k of Object.keys(x)) o.set(k, fromJS((x as Record<string, unknown>)[k]));
    return o;
  }
  throw new Error(`not a JSON value: ${typeof x}`);
}

function fromTagged(x: unknown): Value {
  if (x === null || typeof x === 'boolean' || typeof x === 'string') return x;
  if (typeof x === 'number') return num(x);
  if (Array.isArray(x)) return x.map(fromTagged);
  if (typeof x === 'object') {
    const r = x as Record<string, unknown>;
    const keys = Object.keys(r);
    const only = keys.length === 1 ? keys[0] : undefined;
    if (only === 'o' && Array.isArray(r.o)) {
      const o = new RegoObject();
      for (const e of r.o as unknown[]) {
        if (!Array.isArray(e) || e.length !== 2) throw new Error('tagged object entry must be [key, value]');
        o.set(fromTagged(e[0]), fromTagged(e[1]));
      }
      return o;
    }
    if (only === 's' && Array.isArray(r.s)) return new RegoSet((r.s as unknown[]).map(fromTagged));
    if (only === 'n' && typeof r.n === 'string') return numberFromText(r.n);
    throw new Error(`tagged value: unknown form with keys ${JSON.stringify(keys)}`);
  }
  throw new Error(`not a JSON value: ${typeof x}`);
}

/**
 * Whether a wire value is an integral number written with a point or an exponent (`1.0`,
 * `1e0`). The tagged wire carries such a number as {"n": "1.0"}; decoded it is the host
 * number 1, but OPA keeps a number's text and does not take it as an integer operand or an
 * array index (ast.Number.Int parses the text as an integer). Plain JSON cannot tell.
 */
export function isNonIntegerText(wire: unknown): boolean {
  if (wire === null || typeof wire !== 'object' || Array.isArray(wire)) return false;
  const n = (wire as Record<string, unknown>).n;
  return typeof n === 'string' && !/^-?\d+$/.test(n);
}

/** One decode/encode step between the wire and the host model. */
export interface Codec {
  readonly mode: WireMode;
  /** A wire value (as the SDK passes it: parsed JSON) to a host value. */
  decode(wire: unknown): Value;
  /** A host value to what the SDK hands back to the module (JSON text bytes). */
  encode(v: Value): ArrayBuffer;
}

const encoder = new TextEncoder();

function textBytes(text: string): ArrayBuffer {
  const bytes = encoder.encode(text);
  const buf = bytes.buffer as ArrayBuffer;
  return bytes.byteOffset === 0 && bytes.byteLength === buf.byteLength
    ? buf
    : buf.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
}

export const plainCodec: Codec = {
  mode: 'plain',
  decode: fromJS,
  encode: (v) => textBytes(toJSONText(v, 'plain')),
};

export const taggedCodec: Codec = {
  mode: 'tagged',
  decode: fromTagged,
  encode: (v) => textBytes(toJSONText(v, 'tagged')),
};

export function codecFor(mode: WireMode): Codec {
  return mode === 'tagged' ? taggedCodec : plainCodec;
}

/** Reads back what a codec encoded (for tests and tools). */
export function decodeBytes(codec: Codec, bytes: ArrayBuffer): Value {
  return codec.decode(JSON.parse(new TextDecoder().decode(bytes)));
}
