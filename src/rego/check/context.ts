// Shared state of one checker run: collected errors and generated names.
import type { Location, RefTerm, RegoError, RegoErrorCode, StringTerm, Term, VarTerm } from '../ast.js';

export class CheckContext {
  readonly errors: RegoError[] = [];
  /** Generated variable name → name in the source. */
  readonly localNames = new Map<string, string>();
  private counter = 0;

  constructor(readonly maxErrors = 1000) {}

  private limitReached = false;

  error(code: RegoErrorCode, message: string, location: Location): void {
    if (this.limitReached) return;
    if (this.errors.length >= this.maxErrors) {
      this.limitReached = true;
      this.errors.push({ code: 'rego_compile_error', message: 'error limit reached', location });
      return;
    }
    // The same problem may be found twice through shared terms: report it once.
    if (
      this.errors.some(
        (e) =>
          e.code === code &&
          e.message === message &&
          e.location.file === location.file &&
          e.location.offset === location.offset,
      )
    )
      return;
    this.errors.push({ code, message, location });
  }

  /** A fresh name for a local declared in the source as `name` (`x` → `x$3`). */
  local(name: string): string {
    const g = `${name}$${++this.counter}`;
    this.localNames.set(g, name);
    return g;
  }

  /** A fresh name for a wildcard `_` (`_$4`). */
  wildcard(): string {
    return `_$${++this.counter}`;
  }
}

/** True for names the checker generated (source identifiers never contain `$`). */
export function isGenerated(name: string): boolean {
  return name.includes('$');
}

export function mkVar(name: string, location: Location): VarTerm {
  return { type: 'var', name, location };
}

export function mkString(value: string, location: Location): StringTerm {
  return { type: 'string', value, location };
}

export function mkRef(terms: Term[], location: Location): RefTerm {
  return { type: 'ref', terms, location };
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Prints a path as OPA prints refs: `data.a.b["x y"][1]`. */
export function pathName(root: string, path: readonly string[]): string {
  let s = root;
  for (const p of path) s += IDENT.test(p) ? `.${p}` : `[${JSON.stringify(p)}]`;
  return s;
}

/** The dotted name of a ref made only of a var head and string elements (`io.jwt.decode`), else undefined. */
export function dottedName(ref: RefTerm): string | undefined {
  const [head, ...rest] = ref.terms;
  if (head?.type !== 'var') return undefined;
  let s = head.name;
  for (const t of rest) {
    if (t.type !== 'string') return undefined;
    s += `.${t.value}`;
  }
  return s;
}

/** The leading string elements of a `data` ref (after `data`): `data.a.b[x]` → `["a", "b"]`. */
export function groundPrefix(ref: RefTerm): string[] {
  const out: string[] = [];
  for (const t of ref.terms.slice(1)) {
    if (t.type !== 'string') break;
    out.push(t.value);
  }
  return out;
}

/** Short description of a term's kind, as OPA names them in messages. */
export function termKind(t: Term): string {
  switch (t.type) {
    case 'arraycomp':
      return 'array comprehension';
    case 'setcomp':
      return 'set comprehension';
    case 'objectcomp':
      return 'object comprehension';
    default:
      return t.type;
  }
}

/** Prints a ref as written: `p.q[x]`, `data.a["b c"][1]`, `import input.user`. */
export function refText(r: RefTerm, names?: Map<string, string>): string {
  let s = '';
  r.terms.forEach((t, i) => {
    const v = t.type === 'var' ? (names?.get(t.name) ?? t.name) : '';
    if (t.type === 'var') s += i === 0 ? v : `[${v}]`;
    else if (t.type === 'string')
      s +=
        i === 0
          ? JSON.stringify(t.value)
          : IDENT.test(t.value)
            ? `.${t.value}`
            : `[${JSON.stringify(t.value)}]`;
    else if (t.type === 'number') s += `[${t.text}]`;
    else if (t.type === 'boolean') s += `[${t.value}]`;
    else if (t.type === 'null') s += '[null]';
    else if (t.type === 'ref') s += `[${refText(t, names)}]`;
    else if (t.type === 'array')
      s += `[[${t.items.map((x) => refText({ ...r, terms: [x] }, names)).join(', ')}]]`;
    else s += '[…]';
  });
  return s;
}

/** True when evaluating the term computes something: it holds a ref, a call or a comprehension. */
export function evaluates(t: Term): boolean {
  switch (t.type) {
    case 'ref':
    case 'call':
    case 'arraycomp':
    case 'setcomp':
    case 'objectcomp':
      return true;
    case 'array':
    case 'set':
      return t.items.some(evaluates);
    case 'object':
      return t.entries.some(([k, v]) => evaluates(k) || evaluates(v));
    default:
      return false;
  }
}
