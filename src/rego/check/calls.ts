// Calls: every called function must exist (a built-in of the catalogue or a
// function rule), be called with its arity (plus one optional output argument
// when it returns a value, at the top of an expression), take constant
// arguments of the right kind, and not be networked. `with` targets must name
// input, data or a function. Deprecated built-ins are refused as in Rego v1.
import type { Body, Expr, Term, With } from '../ast.js';
import { acceptsKind, type Builtin, builtin, typeToString, type ValueKind } from '../builtins/index.js';
import { type CheckContext, dottedName, groundPrefix, isGenerated, pathName, refText } from './context.js';

/** What a call's operator names. */
export type Callee =
  | { kind: 'builtin'; builtin: Builtin }
  | { kind: 'function'; name: string; arity: number }
  | { kind: 'undefined'; name: string };

/** Looks up user functions by printable name (`data.a.f`). */
export type FunctionLookup = (name: string) => { arity: number; isFunction: boolean } | undefined;

export function calleeOf(
  call: Extract<Term, { type: 'call' }>,
  functions: FunctionLookup,
  names?: Map<string, string>,
): Callee {
  const head = call.operator.terms[0];
  if (head?.type === 'var' && head.name === 'data') {
    const prefix = groundPrefix(call.operator);
    const name = pathName('data', prefix);
    const f = prefix.length === call.operator.terms.length - 1 ? functions(name) : undefined;
    if (f?.isFunction) return { kind: 'function', name, arity: f.arity };
    return { kind: 'undefined', name: refText(call.operator, names) };
  }
  const name = dottedName(call.operator) ?? '<call>';
  const b = builtin(name);
  return b ? { kind: 'builtin', builtin: b } : { kind: 'undefined', name };
}

/** The kind of a literal or comprehension term, or of a local whose kind was learnt. */
function kindOf(t: Term, known?: Map<string, ValueKind>): ValueKind | undefined {
  switch (t.type) {
    case 'null':
    case 'boolean':
    case 'number':
    case 'string':
    case 'array':
    case 'set':
    case 'object':
      return t.type;
    case 'arraycomp':
      return 'array';
    case 'setcomp':
      return 'set';
    case 'objectcomp':
      return 'object';
    case 'var':
      return known?.get(t.name);
    default:
      return undefined;
  }
}

/** The kind a built-in's result always has, when its declared type is a single kind. */
function resultKind(b: Builtin): ValueKind | undefined {
  const r = b.signature.result;
  if (r === 'void') return undefined;
  switch (r.kind) {
    case 'any':
    case 'oneOf':
      return undefined;
    case 'tuple':
      return 'array';
    default:
      return r.kind;
  }
}

function describeArg(t: Term, known?: Map<string, ValueKind>): string {
  const k = kindOf(t, known);
  if (!k) return 'any';
  return k === 'array' || k === 'set' ? `${k}[any]` : k === 'object' ? 'object[any: any]' : k;
}

export class CallChecker {
  constructor(
    private readonly ctx: CheckContext,
    private readonly functions: FunctionLookup,
    private readonly allowNetworked: boolean,
  ) {}

  /** Kinds of locals declared once (`x := 1`, `n := count(xs)`), for checking their uses. */
  private readonly known = new Map<string, ValueKind>();

  body(body: Body): void {
    this.learn(body);
    for (const e of body) this.expr(e);
  }

  private learn(body: Body): void {
    for (const e of body) {
      const n = e.node;
      if (n.type !== 'call' || e.negated || dottedName(n.operator) !== 'eq') continue;
      const [lhs, rhs] = n.args;
      // Only generated names: each is declared exactly once (`:=`), so its kind is its value's.
      if (lhs?.type !== 'var' || !isGenerated(lhs.name) || !rhs) continue;
      let k = kindOf(rhs, this.known);
      if (!k && rhs.type === 'call') {
        const c = calleeOf(rhs, this.functions);
        if (c.kind === 'builtin') k = resultKind(c.builtin);
      }
      if (k) this.known.set(lhs.name, k);
    }
  }

  expr(e: Expr): void {
    const n = e.node;
    if (n.type === 'every') {
      if (n.key) this.term(n.key, false);
      this.term(n.value, false);
      this.term(n.domain, false);
      this.body(n.body);
    } else if (n.type === 'somein') {
      if (n.key) this.term(n.key, false);
      this.term(n.value, false);
      this.term(n.collection, false);
    } else if (n.type !== 'some') this.term(n, true);
    for (const w of e.with) this.with(w);
  }

  private with(w: With): void {
    this.term(w.value, false);
    const head = w.target.terms[0];
    if (head?.type === 'var' && (head.name === 'input' || head.name === 'data')) {
      if (head.name === 'data' && w.target.terms.length > 1) {
        // A rule's value is replaced whole or not at all: no target strictly below a rule.
        const prefix = groundPrefix(w.target);
        const last = Math.min(prefix.length, w.target.terms.length - 2);
        for (let j = 1; j <= last; j++) {
          if (!this.functions(pathName('data', prefix.slice(0, j)))) continue;
          this.ctx.error(
            'rego_compile_error',
            'with keyword cannot partially replace virtual document(s)',
            w.target.location,
          );
          return;
        }
        const name = pathName('data', prefix);
        const f = this.functions(name);
        if (f?.isFunction && groundPrefix(w.target).length !== w.target.terms.length - 1)
          this.ctx.error(
            'rego_type_error',
            'with keyword target must reference existing input, data, or a function',
            w.location,
          );
      }
      return;
    }
    const name = dottedName(w.target);
    const b = name ? builtin(name) : undefined;
    if (!b) {
      this.ctx.error(
        'rego_type_error',
        'with keyword target must reference existing input, data, or a function',
        w.location,
      );
      return;
    }
    const refused =
      b.infix === '=' ||
      b.infix === ':=' ||
      b.name === 'rego.metadata.chain' ||
      b.name === 'rego.metadata.rule'
        ? `replacement of ${JSON.stringify(b.name)} invalid`
        : b.name.startsWith('internal.')
          ? `replacement of internal function ${JSON.stringify(b.name)} invalid`
          : b.relation
            ? 'target must not be a relation'
            : !b.hasResult
              ? 'target must not be a void function'
              : undefined;
    if (refused)
      this.ctx.error(
        'rego_compile_error',
        `with keyword replacing built-in function: ${refused}`,
        w.location,
      );
  }

  /** `top`: the term is a whole expression, so one extra output argument is allowed. */
  term(t: Term, top: boolean): void {
    switch (t.type) {
      case 'ref':
        for (const x of t.terms) this.term(x, false);
        return;
      case 'array':
      case 'set':
        for (const x of t.items) this.term(x, false);
        return;
      case 'object':
        for (const [k, v] of t.entries) {
          this.term(k, false);
          this.term(v, false);
        }
        return;
      case 'arraycomp':
      case 'setcomp':
        this.term(t.term, false);
        this.body(t.body);
        return;
      case 'objectcomp':
        this.term(t.key, false);
        this.term(t.value, false);
        this.body(t.body);
        return;
      case 'call':
        this.call(t, top);
        for (const x of t.args) this.term(x, false);
        return;
      default:
        return;
    }
  }

  private call(t: Extract<Term, { type: 'call' }>, top: boolean): void {
    const c = calleeOf(t, this.functions, this.ctx.localNames);
    const n = t.args.length;
    const haveTypes = `(${t.args.map((a) => describeArg(a, this.known)).join(', ')})`;
    if (c.kind === 'undefined') {
      this.ctx.error('rego_type_error', `undefined function ${c.name}`, t.location);
      return;
    }
    if (c.kind === 'function') {
      const max = top ? c.arity + 1 : c.arity;
      if (n < c.arity || n > max) {
        this.ctx.error(
          'rego_type_error',
          `function ${c.name} has arity ${c.arity}, got ${n} argument${n === 1 ? '' : 's'}`,
          t.location,
        );
      }
      return;
    }
    const b = c.builtin;
    if (b.networked && !this.allowNetworked) {
      this.ctx.error(
        'rego_compile_error',
        `${b.name} is not supported: networked built-ins are refused by Airlock's compiler`,
        t.location,
      );
      return;
    }
    if (b.deprecated) {
      this.ctx.error(
        'rego_type_error',
        `deprecated built-in function calls in expression: ${b.name}`,
        t.location,
      );
      return;
    }
    const sig = b.signature;
    const want = `(${sig.args.map(typeToString).join(', ')}${sig.variadic ? `${sig.args.length ? ', ' : ''}${typeToString(sig.variadic)}...` : ''})`;
    if (!top && !b.hasResult) {
      this.ctx.error('rego_type_error', `${b.name} used as value: it has no result`, t.location);
      return;
    }
    const max = sig.variadic ? Number.POSITIVE_INFINITY : top && b.hasResult ? b.arity + 1 : b.arity;
    if (n < b.arity || n > max) {
      this.ctx.error(
        'rego_type_error',
        `${b.name}: arity mismatch\n\thave: ${haveTypes}\n\twant: ${want}`,
        t.location,
      );
      return;
    }
    // Constant arguments must be of an accepted kind.
    const bad = t.args.some((a, i) => {
      const type = i < sig.args.length ? sig.args[i] : undefined;
      const k = kindOf(a, this.known);
      return type !== undefined && k !== undefined && !acceptsKind(type, k);
    });
    if (bad)
      this.ctx.error(
        'rego_type_error',
        `${b.name}: invalid argument(s)\n\thave: ${haveTypes}\n\twant: ${want}`,
        t.location,
      );
  }
}
