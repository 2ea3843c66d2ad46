// Rewrites bodies and heads for planning: resolves names (package rules and
// import aliases become full `data…`/`input…` refs; bare `input`/`data` become
// one-element refs), renames `:=`/`some`/`every` locals and wildcards to fresh
// names, desugars `some … in …` to unification with a ref, turns `:=` into `=`,
// and reports misuse of `:=` and `some` (OPA's rego_compile_error).
import type { Body, Expr, Location, RefTerm, SomeIn, Term, With } from '../ast.js';
import { type CheckContext, dottedName, evaluates, mkRef, mkVar, termKind } from './context.js';

/** Names visible in a module: its package's rules and its imports, each with the ref it stands for. */
export type Globals = Map<string, RefTerm>;

/** A lexical scope: one body (rule body, else body, closure body, `every` body). */
export class Scope {
  /** Source name → name in the rewritten body, for locals declared here. */
  readonly declared = new Map<string, string>();
  /** How each name of `declared` came to be: OPA words a second declaration after the first. */
  readonly how = new Map<string, Occurrence>();
  /** Free variables referenced in this scope so far. */
  readonly seen = new Set<string>();
  /** Names declared anywhere at this scope's top level (they are locals, not globals, throughout). */
  readonly locals = new Set<string>();

  constructor(readonly parent?: Scope) {}

  lookup(name: string): string | undefined {
    for (let s: Scope | undefined = this; s; s = s.parent) {
      const v = s.declared.get(name);
      if (v !== undefined) return v;
    }
    return undefined;
  }

  isLocal(name: string): boolean {
    for (let s: Scope | undefined = this; s; s = s.parent)
      if (s.locals.has(name) || s.declared.has(name)) return true;
    return false;
  }
}

const ROOTS = new Set(['input', 'data']);

/** How a local was introduced in its scope: `:=`, `some`/`every`, or as a function argument. */
type Occurrence = 'assigned' | 'declared' | 'arg';

/** OPA's message for introducing `name` again in `scope`, if it was introduced or used there before. */
function reintroduced(name: string, scope: Scope): string | undefined {
  const how = scope.how.get(name);
  if (how === 'arg') return `arg ${name} redeclared`;
  if (how === 'assigned') return `var ${name} assigned above`;
  if (how === 'declared' || scope.declared.has(name)) return `var ${name} declared above`;
  if (scope.seen.has(name)) return `var ${name} referenced above`;
  return undefined;
}

/** OPA's name for the kind of a term that cannot be assigned to. */
function assignKind(t: Term): string {
  return t.type === 'arraycomp'
    ? 'arraycomprehension'
    : t.type === 'setcomp'
      ? 'setcomprehension'
      : t.type === 'objectcomp'
        ? 'objectcomprehension'
        : termKind(t);
}

function isAssign(t: Term): t is Extract<Term, { type: 'call' }> {
  return t.type === 'call' && dottedName(t.operator) === 'assign' && t.args.length === 2;
}

function patternVars(t: Term, out: Set<string>): void {
  switch (t.type) {
    case 'var':
      if (t.name !== '_') out.add(t.name);
      return;
    case 'array':
      for (const x of t.items) patternVars(x, out);
      return;
    case 'object':
      for (const [, v] of t.entries) patternVars(v, out);
      return;
    default:
      return;
  }
}

export class Rewriter {
  /**
   * `legacyNegation` (OPA's default, without `import future.keywords.not` or `rego.v2`): the
   * calls nested in a negated expression's operands are evaluated before the `not`, so
   * `not f(g(x))` fails when `g(x)` is undefined instead of holding.
   */
  constructor(
    private readonly ctx: CheckContext,
    private readonly globals: Globals,
    private readonly legacyNegation = true,
  ) {}

  /** Rewrites a body in `scope` (which the caller creates, so heads can be rewritten in it afterwards). */
  body(body: Body, scope: Scope): Body {
    for (const e of body) {
      const n = e.node;
      if (n.type === 'some') for (const v of n.vars) scope.locals.add(v.name);
      else if (n.type === 'somein') {
        if (n.key) patternVars(n.key, scope.locals);
        patternVars(n.value, scope.locals);
      } else if (n.type !== 'every' && isAssign(n) && n.args[0]) patternVars(n.args[0], scope.locals);
    }
    const out: Body = [];
    for (const e of body) {
      const r = this.expr(e, scope);
      if (r?.negated && this.legacyNegation) out.push(...this.hoistNegated(r));
      else if (r) out.push(r);
    }
    return out;
  }

  private expr(e: Expr, scope: Scope): Expr | undefined {
    const n = e.node;
    const withs = (): With[] => e.with.map((w) => this.with(w, scope));
    switch (n.type) {
      case 'some': {
        for (const v of n.vars) this.declare(v.name, v.location, scope, 'some', n.location);
        return undefined; // declarations leave nothing to evaluate
      }
      case 'somein': {
        const node = this.someIn(n, scope);
        return { node, negated: e.negated, with: withs(), location: e.location };
      }
      case 'every': {
        const domain = this.term(n.domain, scope);
        const inner = new Scope(scope);
        const key = n.key ? this.declarePattern(n.key, inner, 'every') : undefined;
        const value = this.declarePattern(n.value, inner, 'every');
        const body = this.body(n.body, inner);
        const node = key
          ? { type: 'every' as const, key, value, domain, body, location: n.location }
          : { type: 'every' as const, value, domain, body, location: n.location };
        return { node, negated: e.negated, with: withs(), location: e.location };
      }
      default: {
        if (isAssign(n) && e.negated) {
          // The binding could never escape the negation (OPA refuses it before checking safety).
          this.ctx.error('rego_compile_error', 'cannot assign vars inside negated expression', e.location);
          return undefined;
        }
        if (isAssign(n)) {
          const [lhs, rhs] = n.args as [Term, Term];
          const value = this.term(rhs, scope);
          const target = this.assignTarget(lhs, scope);
          const op = mkRef([mkVar('eq', n.operator.location)], n.operator.location);
          return {
            node: { type: 'call', operator: op, args: [target, value], location: n.location },
            negated: e.negated,
            with: withs(),
            location: e.location,
          };
        }
        return { node: this.term(n, scope), negated: e.negated, with: withs(), location: e.location };
      }
    }
  }

  private someIn(n: SomeIn, scope: Scope): Term {
    const coll = this.term(n.collection, scope);
    const key = n.key
      ? this.declarePattern(n.key, scope, 'some', n.location)
      : mkVar(this.ctx.wildcard(), n.location);
    const value = this.declarePattern(n.value, scope, 'some', n.location);
    const ref: RefTerm =
      coll.type === 'ref' ? mkRef([...coll.terms, key], coll.location) : mkRef([coll, key], coll.location);
    const op = mkRef([mkVar('eq', n.location)], n.location);
    return { type: 'call', operator: op, args: [value, ref], location: n.location };
  }

  private with(w: With, scope: Scope): With {
    return { target: this.withTarget(w.target), value: this.term(w.value, scope), location: w.location };
  }

  /** `with` targets: roots and globals are expanded; other names (built-ins) are kept. */
  private withTarget(t: RefTerm): RefTerm {
    const head = t.terms[0];
    if (head?.type === 'var') {
      const g = this.globals.get(head.name);
      if (g && !ROOTS.has(head.name)) return mkRef([...g.terms, ...t.terms.slice(1)], t.location);
    }
    return t;
  }

  /** `at`: where OPA reports a redeclaration (the `some` of a declaration). */
  private declare(
    name: string,
    location: Location,
    scope: Scope,
    how: 'some' | 'every',
    at: Location = location,
  ): string {
    if (name === '_') return this.ctx.wildcard();
    if (ROOTS.has(name)) {
      this.ctx.error(
        'rego_compile_error',
        `variables must not shadow ${name} (use a different variable name)`,
        location,
      );
      return this.ctx.wildcard(); // reported: do not cascade
    }
    const above = scope.declared.get(name);
    const again = how === 'some' ? reintroduced(name, scope) : undefined;
    if (again) {
      this.ctx.error('rego_compile_error', again, at);
      if (above !== undefined) return above;
    }
    const g = this.ctx.local(name);
    scope.declared.set(name, g);
    scope.how.set(name, 'declared');
    return g;
  }

  /** Declares the variables of a pattern (`x`, `[a, b]`, `{"k": v}`) and rewrites it. */
  private declarePattern(t: Term, scope: Scope, how: 'some' | 'every', at?: Location): Term {
    const root = rootName(t);
    if (root) {
      this.ctx.error(
        'rego_compile_error',
        `variables must not shadow ${root} (use a different variable name)`,
        t.location,
      );
      return mkVar(this.ctx.wildcard(), t.location); // reported: do not cascade
    }
    switch (t.type) {
      case 'var':
        return mkVar(this.declare(t.name, t.location, scope, how, at), t.location);
      case 'array':
        return { ...t, items: t.items.map((x) => this.declarePattern(x, scope, how, at)) };
      case 'object':
        return {
          ...t,
          entries: t.entries.map(
            ([k, v]) => [this.term(k, scope), this.declarePattern(v, scope, how, at)] as [Term, Term],
          ),
        };
      default:
        return this.term(t, scope);
    }
  }

  private assignTarget(t: Term, scope: Scope): Term {
    switch (t.type) {
      case 'var': {
        if (t.name === '_') return mkVar(this.ctx.wildcard(), t.location);
        if (ROOTS.has(t.name)) {
          this.ctx.error(
            'rego_compile_error',
            `variables must not shadow ${t.name} (use a different variable name)`,
            t.location,
          );
          return mkVar(this.ctx.wildcard(), t.location); // reported: do not cascade
        }
        // Only this scope counts: a closure may declare a name again (it shadows the outer one).
        const above = scope.declared.get(t.name);
        const again = reintroduced(t.name, scope);
        if (again) {
          this.ctx.error('rego_compile_error', again, t.location);
          return above !== undefined ? mkVar(above, t.location) : t;
        }
        const g = this.ctx.local(t.name);
        scope.declared.set(t.name, g);
        scope.how.set(t.name, 'assigned');
        return mkVar(g, t.location);
      }
      case 'array':
        return { ...t, items: t.items.map((x) => this.assignTarget(x, scope)) };
      case 'object':
        return {
          ...t,
          entries: t.entries.map(
            ([k, v]) => [this.term(k, scope), this.assignTarget(v, scope)] as [Term, Term],
          ),
        };
      case 'ref': {
        const h = t.terms[0];
        if (t.terms.length === 1 && h?.type === 'var' && ROOTS.has(h.name)) {
          this.ctx.error(
            'rego_compile_error',
            `variables must not shadow ${h.name} (use a different variable name)`,
            t.location,
          );
          return mkVar(this.ctx.wildcard(), t.location); // reported: do not cascade
        }
        this.ctx.error('rego_compile_error', 'cannot assign to ref', t.location);
        return this.term(t, scope);
      }
      default:
        // Calls, sets, comprehensions and scalars: only variables, arrays and objects of them.
        this.ctx.error('rego_compile_error', `cannot assign to ${assignKind(t)}`, t.location);
        return this.term(t, scope);
    }
  }

  /** Resolves a variable occurrence: local, wildcard, global (rule/import), root, or free. */
  private varUse(name: string, location: Location, scope: Scope): Term {
    if (name === '_') return mkVar(this.ctx.wildcard(), location);
    const local = scope.lookup(name);
    if (local !== undefined) return mkVar(local, location);
    if (!scope.isLocal(name)) {
      const g = this.globals.get(name);
      if (g)
        return mkRef(
          g.terms.map((x) => ({ ...x, location })),
          location,
        );
      if (ROOTS.has(name)) return mkRef([mkVar(name, location)], location);
    }
    scope.seen.add(name);
    return mkVar(name, location);
  }

  term(t: Term, scope: Scope): Term {
    switch (t.type) {
      case 'var':
        return this.varUse(t.name, t.location, scope);
      case 'ref': {
        const [head, ...rest] = t.terms;
        if (!head) return t;
        const h = this.term(head, scope);
        const tail = rest.map((x) => this.term(x, scope));
        if (h.type === 'ref') return mkRef([...h.terms, ...tail], t.location);
        return mkRef([h, ...tail], t.location);
      }
      case 'array':
        return { ...t, items: t.items.map((x) => this.term(x, scope)) };
      case 'set':
        return { ...t, items: t.items.map((x) => this.term(x, scope)) };
      case 'object':
        return {
          ...t,
          entries: t.entries.map(([k, v]) => [this.term(k, scope), this.term(v, scope)] as [Term, Term]),
        };
      case 'call': {
        const operator = this.operator(t.operator, scope);
        return { ...t, operator, args: t.args.map((x) => this.term(x, scope)) };
      }
      case 'arraycomp':
      case 'setcomp': {
        const inner = new Scope(scope);
        const body = this.body(t.body, inner);
        return { ...t, body, term: this.lift(this.term(t.term, inner), body) };
      }
      case 'objectcomp': {
        const inner = new Scope(scope);
        const body = this.body(t.body, inner);
        const key = this.lift(this.term(t.key, inner), body);
        return { ...t, body, key, value: this.lift(this.term(t.value, inner), body) };
      }
      default:
        return t;
    }
  }

  /**
   * A comprehension's head term that computes something (a ref, a call) becomes the last
   * expression of its body, `_$N = term`, as OPA rewrites it: so `{xs[_]: 1 | true}` iterates.
   */
  private lift(t: Term, body: Body): Term {
    if (!evaluates(t)) return t;
    const v = mkVar(this.ctx.wildcard(), t.location);
    const eq = mkRef([mkVar('eq', t.location)], t.location);
    body.push({
      node: { type: 'call', operator: eq, args: [v, t], location: t.location },
      negated: false,
      with: [],
      location: t.location,
    });
    return v;
  }

  /** `not f(g(x), h(y) + 1)` → `_$1 = g(x); _$2 = h(y); _$3 = _$2 + 1; not f(_$1, _$3)`. */
  private hoistNegated(e: Expr): Expr[] {
    const support: Expr[] = [];
    const n = e.node;
    const hoist = (t: Term): Term => {
      switch (t.type) {
        case 'call': {
          const call = { ...t, args: t.args.map(hoist) };
          const v = mkVar(this.ctx.wildcard(), t.location);
          const eq = mkRef([mkVar('eq', t.location)], t.location);
          support.push({
            node: { type: 'call', operator: eq, args: [v, call], location: t.location },
            negated: false,
            with: e.with,
            location: t.location,
          });
          return v;
        }
        case 'ref':
          return { ...t, terms: t.terms.map(hoist) };
        case 'array':
        case 'set':
          return { ...t, items: t.items.map(hoist) };
        case 'object':
          return { ...t, entries: t.entries.map(([k, v]) => [hoist(k), hoist(v)] as [Term, Term]) };
        default:
          return t; // scalars, variables; comprehensions keep their bodies
      }
    };
    let node: Expr['node'] = n;
    if (n.type === 'call') {
      if (dottedName(n.operator) === 'print') return [e];
      node = { ...n, args: n.args.map(hoist) };
    } else if (n.type === 'ref' || n.type === 'array' || n.type === 'set' || n.type === 'object') {
      node = hoist(n);
    }
    return support.length === 0 ? [e] : [...support, { ...e, node }];
  }

  /** Function names: package functions and import aliases become `data…` refs; built-in names stay. */
  private operator(op: RefTerm, scope: Scope): RefTerm {
    const head = op.terms[0];
    if (head?.type === 'var' && !ROOTS.has(head.name) && !scope.isLocal(head.name)) {
      const g = this.globals.get(head.name);
      if (g)
        return mkRef(
          [...g.terms.map((x) => ({ ...x, location: op.location })), ...op.terms.slice(1)],
          op.location,
        );
    }
    if (head?.type === 'var' && ROOTS.has(head.name)) {
      return mkRef([head, ...op.terms.slice(1).map((x) => this.term(x, scope))], op.location);
    }
    return op;
  }

  /** Declares function arguments in the rule's scope (names kept; wildcards renamed). */
  args(args: Term[], scope: Scope): Term[] {
    for (const a of args) {
      const root = rootName(a);
      if (root)
        this.ctx.error(
          'rego_compile_error',
          `args must not shadow ${root} (use a different variable name)`,
          a.location,
        );
    }
    const vars = new Set<string>();
    for (const a of args) patternVarsDeep(a, vars);
    for (const v of vars) {
      if (ROOTS.has(v)) continue;
      scope.declared.set(v, v);
      scope.how.set(v, 'arg');
    }
    return args.map((a) => this.term(a, scope));
  }
}

/** All variables of a term outside closures (refs and calls included). */
function patternVarsDeep(t: Term, out: Set<string>): void {
  switch (t.type) {
    case 'var':
      if (t.name !== '_') out.add(t.name);
      return;
    case 'array':
    case 'set':
      for (const x of t.items) patternVarsDeep(x, out);
      return;
    case 'object':
      for (const [k, v] of t.entries) {
        patternVarsDeep(k, out);
        patternVarsDeep(v, out);
      }
      return;
    case 'ref':
      for (const x of t.terms) patternVarsDeep(x, out);
      return;
    default:
      return;
  }
}

/** `input` or `data` when the term is that root document alone (a var, or a one-element ref). */
function rootName(t: Term): string | undefined {
  const v = t.type === 'ref' && t.terms.length === 1 ? t.terms[0] : t;
  return v?.type === 'var' && ROOTS.has(v.name) ? v.name : undefined;
}
