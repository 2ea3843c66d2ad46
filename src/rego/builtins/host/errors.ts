// OPA's two kinds of built-in failure, and argument readers that raise them.
//
// eval_type_error    an operand of the wrong type at run time.
// eval_builtin_error anything else (bad regex, bad base64…).
// Both abort the evaluation in strict mode; otherwise the call is undefined
// (what OPA does, and what its conformance cases `*_nostrict` expect).
// The code leads the message text: "eval_type_error: NAME: operand N must be T but got U".

import { isNonIntegerText, RegoObject, RegoSet, type TypeName, typeName, type Value } from './value.js';

const INT64_MAX = 2n ** 63n - 1n;

export type BuiltinErrorCode = 'eval_type_error' | 'eval_builtin_error';

export class BuiltinError extends Error {
  constructor(
    readonly code: BuiltinErrorCode,
    readonly builtin: string,
    readonly detail: string,
  ) {
    super(`${code}: ${builtin}: ${detail}`);
    this.name = 'BuiltinError';
  }
}

export function typeError(name: string, detail: string): BuiltinError {
  return new BuiltinError('eval_type_error', name, detail);
}

export function builtinError(name: string, detail: string): BuiltinError {
  return new BuiltinError('eval_builtin_error', name, detail);
}

/** Reads typed operands of one call; errors name the built-in and the operand (1-based). */
export class Args {
  constructor(
    readonly name: string,
    readonly values: Value[],
    /** The operands as the wire carried them (parsed JSON), for what decoding loses: see isNonIntegerText. */
    readonly raw: readonly unknown[] = [],
  ) {}

  private fail(pos: number, want: string): never {
    throw typeError(this.name, `operand ${pos} must be ${want} but got ${typeName(this.at(pos))}`);
  }

  at(pos: number): Value {
    const v = this.values[pos - 1];
    if (v === undefined) throw typeError(this.name, `operand ${pos} missing`);
    return v;
  }

  is(pos: number, t: TypeName): boolean {
    return typeName(this.at(pos)) === t;
  }

  string(pos: number): string {
    const v = this.at(pos);
    if (typeof v !== 'string') this.fail(pos, 'string');
    return v;
  }

  number(pos: number): number | bigint {
    const v = this.at(pos);
    if (typeof v !== 'number' && typeof v !== 'bigint') this.fail(pos, 'number');
    return v;
  }

  /** A number as a double. */
  double(pos: number): number {
    return Number(this.number(pos));
  }

  /** An integer number (OPA: "operand N must be integer number but got floating-point number"). */
  integer(pos: number): number | bigint {
    const v = this.number(pos);
    if (typeof v === 'number' && !Number.isInteger(v))
      throw typeError(this.name, `operand ${pos} must be integer number but got floating-point number`);
    return v;
  }

  /**
   * An integer operand as Go's int (OPA's IntOperand): one beyond 64 bits, or one written
   * with a point or exponent (1.0: OPA parses the number's text as an integer), is refused as
   * OPA refuses it ("must be integer number but got floating-point number").
   */
  int(pos: number): number {
    const v = this.integer(pos);
    if (BigInt(v) > INT64_MAX || BigInt(v) < -INT64_MAX - 1n || isNonIntegerText(this.raw[pos - 1]))
      throw typeError(this.name, `operand ${pos} must be integer number but got floating-point number`);
    return Number(v);
  }

  boolean(pos: number): boolean {
    const v = this.at(pos);
    if (typeof v !== 'boolean') this.fail(pos, 'boolean');
    return v;
  }

  array(pos: number): Value[] {
    const v = this.at(pos);
    if (!Array.isArray(v)) this.fail(pos, 'array');
    return v;
  }

  object(pos: number): RegoObject {
    const v = this.at(pos);
    if (!(v instanceof RegoObject)) this.fail(pos, 'object');
    return v;
  }

  set(pos: number): RegoSet {
    const v = this.at(pos);
    if (!(v instanceof RegoSet)) this.fail(pos, 'set');
    return v;
  }

  /** An array or a set (sets arrive as arrays over the plain wire format). */
  collection(pos: number, want = 'one of {array, set}'): Value[] {
    const v = this.at(pos);
    if (Array.isArray(v)) return v;
    if (v instanceof RegoSet) return [...v];
    this.fail(pos, want);
  }

  /** Elements of an array or set that must all be strings. */
  strings(pos: number, want = 'one of {array, set}'): string[] {
    const v = this.at(pos);
    const items = this.collection(pos, want);
    for (const x of items) if (typeof x !== 'string') throw this.elementError(pos, v, x, 'string');
    return items as string[];
  }

  /** OPA's "operand N must be array of Ts but got array containing U". */
  elementError(pos: number, container: Value, element: Value, want: string): BuiltinError {
    const c = typeName(container);
    return typeError(
      this.name,
      `operand ${pos} must be ${c} of ${want}s but got ${c} containing ${typeName(element)}`,
    );
  }

  /** Fails with OPA's "must be T but got U" for an arbitrary expectation text. */
  wrong(pos: number, want: string): never {
    this.fail(pos, want);
  }
}
