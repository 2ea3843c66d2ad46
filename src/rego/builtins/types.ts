// OPA's type language for built-in signatures, and a small notation to write it.
//
// Notation (used by the catalogue, parsed once at load):
//   any | boolean | number | string | null
//   array[T]          array of T
//   [T1, T2, …]       array of fixed length (a tuple)
//   set[T]            set of T
//   object[K: V]      object with keys K and values V
//   T1 | T2 | …       one of (printed as OPA prints it: any<T1, T2>, also accepted)
// A signature is `(T1, T2, …) => R`; `void` as R means "no result" (print);
// `T...` as the last argument means "any number of T" (variadic).

export type RegoType =
  | { kind: 'any' }
  | { kind: 'boolean' }
  | { kind: 'number' }
  | { kind: 'string' }
  | { kind: 'null' }
  | { kind: 'array'; of: RegoType }
  | { kind: 'tuple'; items: RegoType[] }
  | { kind: 'set'; of: RegoType }
  | { kind: 'object'; key: RegoType; value: RegoType }
  | { kind: 'oneOf'; of: RegoType[] };

export interface Signature {
  args: RegoType[];
  /** Type of the extra arguments of a variadic built-in (print). */
  variadic?: RegoType;
  /** `void` for built-ins that produce no value. */
  result: RegoType | 'void';
}

const SCALARS = new Set(['any', 'boolean', 'number', 'string', 'null']);

class SigReader {
  private i = 0;
  constructor(private readonly src: string) {}

  private ws(): void {
    while (this.i < this.src.length && /\s/.test(this.src[this.i] ?? '')) this.i++;
  }
  private fail(what: string): never {
    throw new Error(`bad signature ${JSON.stringify(this.src)} at ${this.i}: expected ${what}`);
  }
  private eat(s: string): boolean {
    this.ws();
    if (this.src.startsWith(s, this.i)) {
      this.i += s.length;
      return true;
    }
    return false;
  }
  private expect(s: string): void {
    if (!this.eat(s)) this.fail(`'${s}'`);
  }

  signature(): Signature {
    this.expect('(');
    const args: RegoType[] = [];
    let variadic: RegoType | undefined;
    if (!this.eat(')')) {
      for (;;) {
        const t = this.type();
        if (this.eat('...')) {
          variadic = t;
          this.expect(')');
          break;
        }
        args.push(t);
        if (this.eat(')')) break;
        this.expect(',');
      }
    }
    this.expect('=>');
    let result: RegoType | 'void';
    if (this.eat('void')) result = 'void';
    else result = this.type();
    this.ws();
    if (this.i !== this.src.length) this.fail('end of signature');
    return variadic ? { args, variadic, result } : { args, result };
  }

  type(): RegoType {
    const first = this.single();
    const alts = [first];
    while (this.eat('|')) alts.push(this.single());
    return alts.length === 1 ? first : { kind: 'oneOf', of: alts };
  }

  private single(): RegoType {
    this.ws();
    if (this.eat('[')) {
      const items: RegoType[] = [];
      if (!this.eat(']')) {
        for (;;) {
          items.push(this.type());
          if (this.eat(']')) break;
          this.expect(',');
        }
      }
      return { kind: 'tuple', items };
    }
    const m = /^[a-z]+/.exec(this.src.slice(this.i));
    if (!m) this.fail('a type');
    const word = m[0];
    this.i += word.length;
    // OPA's printed forms are accepted too: any<T1, T2> (one of) and array<T1, T2> (tuple).
    if ((word === 'any' || word === 'array') && this.eat('<')) {
      const items: RegoType[] = [];
      for (;;) {
        items.push(this.type());
        if (this.eat('>')) break;
        this.expect(',');
      }
      return word === 'any' ? { kind: 'oneOf', of: items } : { kind: 'tuple', items };
    }
    if (SCALARS.has(word)) return { kind: word } as RegoType;
    if (word === 'array' || word === 'set') {
      this.expect('[');
      const of = this.type();
      this.expect(']');
      return { kind: word, of };
    }
    if (word === 'object') {
      this.expect('[');
      const key = this.type();
      this.expect(':');
      const value = this.type();
      this.expect(']');
      return { kind: 'object', key, value };
    }
    return this.fail(`a type name, got '${word}'`);
  }
}

/** Parses the catalogue's signature notation; throws on a malformed signature (a programming error). */
export function parseSignature(src: string): Signature {
  return new SigReader(src).signature();
}

/** Parses one type in the catalogue's notation. */
export function parseType(src: string): RegoType {
  return new SigReader(`(${src}) => any`).signature().args[0] as RegoType;
}

/** Prints a type as OPA does in its messages (`any<number, string>`, `object[string: any]`). */
export function typeToString(t: RegoType): string {
  switch (t.kind) {
    case 'array':
      return `array[${typeToString(t.of)}]`;
    case 'tuple':
      return `array<${t.items.map(typeToString).join(', ')}>`;
    case 'set':
      return `set[${typeToString(t.of)}]`;
    case 'object':
      return `object[${typeToString(t.key)}: ${typeToString(t.value)}]`;
    case 'oneOf':
      return `any<${t.of.map(typeToString).join(', ')}>`;
    default:
      return t.kind;
  }
}

export function signatureToString(s: Signature): string {
  const args = s.args.map(typeToString);
  if (s.variadic) args.push(`${typeToString(s.variadic)}...`);
  return `(${args.join(', ')}) => ${s.result === 'void' ? 'void' : typeToString(s.result)}`;
}

/** The type of a JSON-like constant kind, used by the checker for literal arguments. */
export type ValueKind = 'null' | 'boolean' | 'number' | 'string' | 'array' | 'set' | 'object';

/**
 * Whether a value of kind `k` may be accepted by type `t`. Only the outer kind is
 * compared (element types are not inferred), so this never rejects a valid call
 * whose elements the checker did not look at.
 */
export function acceptsKind(t: RegoType, k: ValueKind): boolean {
  switch (t.kind) {
    case 'any':
      return true;
    case 'oneOf':
      return t.of.some((x) => acceptsKind(x, k));
    case 'tuple':
      return k === 'array';
    default:
      return t.kind === k;
  }
}
