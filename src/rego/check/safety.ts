// Safety: every variable must be bound before it is used (OPA's
// rego_unsafe_var_error). Expressions are first reordered as OPA does: an
// expression is placed as soon as every variable it needs is bound, by an
// earlier expression or by the expression itself (unification, an output
// argument, iteration over a ref). Closures (comprehensions, `every`) see the
// variables bound before them.
import type { Body, Expr, Location, Term, With } from '../ast.js';
import { builtin } from '../builtins/index.js';
import { dottedName } from './context.js';

/** Tells the safety analysis how many input arguments a call takes (undefined: unknown function). */
export type ArityOf = (call: Extract<Term, { type: 'call' }>) => number | undefined;

export interface UnsafeVar {
  name: string;
  location: Location;
}

export interface SafetyResult {
  body: Body;
  /** Variables bound once the whole body succeeded (including the outer ones). */
  safe: Set<string>;
  unsafe: UnsafeVar[];
}

const ROOTS = new Set(['input', 'data']);

/** Variables of a term outside closures; call operators are names, not variables. */
export function termVars(t: Term, out: Set<string>): void {
  switch (t.type) {
    case 'var':
      if (!ROOTS.has(t.name)) out.add(t.name);
      return;
    case 'ref':
      for (const x of t.terms) termVars(x, out);
      return;
    case 'array':
    case 'set':
      for (const x of t.items) termVars(x, out);
      return;
    case 'object':
      for (const [k, v] of t.entries) {
        termVars(k, out);
        termVars(v, out);
      }
      return;
    case 'call':
      for (const x of t.args) termVars(x, out);
      return;
    default:
      return;
  }
}

/** Variables an expression needs or binds, outside closures (with values included). */
export function exprVars(e: Expr): Set<string> {
  const out = new Set<string>();
  const n = e.node;
  if (n.type === 'every') termVars(n.domain, out);
  else if (n.type !== 'some' && n.type !== 'somein') termVars(n, out);
  for (const w of e.with) if (!isFunctionMock(w)) termVars(w.value, out);
  return out;
}

/** `with count as object.union_n`: a function target replaced by a built-in, named (not a value). */
export function isFunctionMock(w: With): boolean {
  const head = w.target.terms[0];
  // `input…` and the whole of `data` are documents, never functions.
  if (
    head?.type === 'var' &&
    (head.name === 'input' || (head.name === 'data' && w.target.terms.length === 1))
  )
    return false;
  const v = w.value;
  const name = v.type === 'var' ? v.name : v.type === 'ref' ? dottedName(v) : undefined;
  return name !== undefined && builtin(name) !== undefined;
}

/** Free variables used inside the closures of a term (any depth). */
function closureVarsOfTerm(t: Term, out: Set<string>, inside: boolean): void {
  switch (t.type) {
    case 'var':
      if (inside && !ROOTS.has(t.name)) out.add(t.name);
      return;
    case 'ref':
      for (const x of t.terms) closureVarsOfTerm(x, out, inside);
      return;
    case 'array':
    case 'set':
      for (const x of t.items) closureVarsOfTerm(x, out, inside);
      return;
    case 'object':
      for (const [k, v] of t.entries) {
        closureVarsOfTerm(k, out, inside);
        closureVarsOfTerm(v, out, inside);
      }
      return;
    case 'call':
      for (const x of t.args) closureVarsOfTerm(x, out, inside);
      return;
    case 'arraycomp':
    case 'setcomp':
      closureVarsOfTerm(t.term, out, true);
      for (const e of t.body) closureVarsOfExpr(e, out, true);
      return;
    case 'objectcomp':
      closureVarsOfTerm(t.key, out, true);
      closureVarsOfTerm(t.value, out, true);
      for (const e of t.body) closureVarsOfExpr(e, out, true);
      return;
    default:
      return;
  }
}

function closureVarsOfExpr(e: Expr, out: Set<string>, inside: boolean): void {
  const n = e.node;
  if (n.type === 'every') {
    closureVarsOfTerm(n.domain, out, inside);
    if (n.key) closureVarsOfTerm(n.key, out, true);
    closureVarsOfTerm(n.value, out, true);
    for (const x of n.body) closureVarsOfExpr(x, out, true);
  } else if (n.type !== 'some' && n.type !== 'somein') closureVarsOfTerm(n, out, inside);
  for (const w of e.with) if (!isFunctionMock(w)) closureVarsOfTerm(w.value, out, inside);
}

function subset(a: Set<string>, b: Set<string>): boolean {
  for (const x of a) if (!b.has(x)) return false;
  return true;
}

function varsOfTerm(t: Term): Set<string> {
  const s = new Set<string>();
  termVars(t, s);
  return s;
}

/** Variables a pattern binds when unified with a known value (refs and calls inside it are not patterns). */
function patternBinds(t: Term, out: Set<string>): void {
  switch (t.type) {
    case 'var':
      if (!ROOTS.has(t.name)) out.add(t.name);
      return;
    case 'array':
      for (const x of t.items) patternBinds(x, out);
      return;
    case 'object':
      for (const [, v] of t.entries) patternBinds(v, out);
      return;
    default:
      return;
  }
}

/** Is this term safe to evaluate given bound variables `s`? */
function safeIn(t: Term, s: Set<string>): boolean {
  return subset(varsOfTerm(t), s);
}

/** Variables bound by iterating refs whose head is known: `data.xs[i]`, `x[k].y[j]`. */
function refOutputs(t: Term, s: Set<string>, out: Set<string>): void {
  const visit = (x: Term): void => {
    switch (x.type) {
      case 'ref': {
        const [head, ...rest] = x.terms;
        if (!head) return;
        visit(head);
        const headSafe =
          head.type === 'var'
            ? ROOTS.has(head.name) || s.has(head.name) || out.has(head.name)
            : safeIn(head, union(s, out));
        for (const r of rest) {
          if (headSafe && (r.type === 'var' || r.type === 'array' || r.type === 'object'))
            patternBinds(r, out);
          visit(r);
        }
        return;
      }
      case 'array':
      case 'set':
        for (const y of x.items) visit(y);
        return;
      case 'object':
        for (const [k, v] of x.entries) {
          visit(k);
          visit(v);
        }
        return;
      case 'call':
        for (const y of x.args) visit(y);
        return;
      default:
        return;
    }
  };
  visit(t);
}

function union(a: Set<string>, b: Set<string>): Set<string> {
  const u = new Set(a);
  for (const x of b) u.add(x);
  return u;
}

const COMPOSITE = new Set(['array', 'object']);

/** Adds to `out` the variables unification `a = b` binds, given bound variables `s`. */
function unify(a: Term, b: Term, s: Set<string>, out: Set<string>): void {
  const known = () => union(s, out);
  const step = (x: Term, y: Term): void => {
    if (x.type === 'var' && !ROOTS.has(x.name)) {
      if (!known().has(x.name) && safeIn(y, known())) out.add(x.name);
      return;
    }
    if (x.type === 'array' && y.type === 'array' && x.items.length === y.items.length) {
      x.items.forEach((xi, i) => {
        const yi = y.items[i] as Term;
        step(xi, yi);
        step(yi, xi);
      });
      return;
    }
    if (x.type === 'object' && y.type === 'object' && x.entries.length === y.entries.length) {
      for (const [xk, xv] of x.entries) {
        const key = JSON.stringify(keyOf(xk));
        const match = y.entries.find(([yk]) => JSON.stringify(keyOf(yk)) === key);
        if (match) {
          step(xv, match[1]);
          step(match[1], xv);
        }
      }
      return;
    }
    if (COMPOSITE.has(x.type) && !COMPOSITE.has(y.type) && safeIn(y, known())) patternBinds(x, out);
  };
  for (let before = -1; before !== out.size; ) {
    before = out.size;
    step(a, b);
    step(b, a);
  }
}

function keyOf(t: Term): unknown {
  return JSON.parse(JSON.stringify(t, (k, v) => (k === 'location' ? undefined : v)));
}

/** The variables expression `e` binds when evaluated with bound variables `s`. */
export function outputVars(e: Expr, s: Set<string>, arityOf: ArityOf): Set<string> {
  const out = new Set<string>();
  const n = e.node;
  if (e.negated || n.type === 'some' || n.type === 'somein') return out;
  if (n.type === 'every') {
    // The domain is evaluated before the quantifier, in the enclosing body: a ref there binds
    // its unbound variables as any ref does (OPA ast outputVarsForExpr: `case *Every`).
    for (let before = -1; before !== out.size; ) {
      before = out.size;
      refOutputs(n.domain, s, out);
    }
    return out;
  }
  for (let before = -1; before !== out.size; ) {
    before = out.size;
    refOutputs(n, s, out);
    if (n.type !== 'call') continue;
    const name = dottedName(n.operator);
    if (name === 'eq' && n.args.length === 2) {
      unify(n.args[0] as Term, n.args[1] as Term, s, out);
      continue;
    }
    const arity = arityOf(n);
    if (arity === undefined || n.args.length !== arity + 1) continue;
    const inputs = n.args.slice(0, arity);
    const known = union(s, out);
    if (inputs.every((a) => safeIn(a, known))) patternBinds(n.args[arity] as Term, out);
  }
  return out;
}

/**
 * Reorders `body` for safety given the variables bound outside it (`outer`),
 * and checks its closures. Returns the reordered body (closure bodies
 * reordered too) and every unsafe variable.
 */
export function reorderBody(body: Body, outer: Set<string>, arityOf: ArityOf): SafetyResult {
  const bodyVars = new Set<string>();
  for (const e of body) for (const v of exprVars(e)) bodyVars.add(v);
  const safe = new Set(outer);
  const placed: Expr[] = [];
  const done = new Set<number>();
  const unsafe: UnsafeVar[] = [];

  for (let progress = true; progress; ) {
    progress = false;
    body.forEach((e, i) => {
      if (done.has(i)) return;
      const cv = new Set<string>();
      closureVarsOfExpr(e, cv, false);
      const outs = outputVars(e, safe, arityOf);
      // An `every` body runs after its domain, so it sees what the domain binds.
      const before = e.node.type === 'every' ? union(safe, outs) : safe;
      for (const v of cv) if (bodyVars.has(v) && !before.has(v)) return;
      const need = exprVars(e);
      for (const v of need) if (!safe.has(v) && !outs.has(v)) return;
      for (const v of outs) safe.add(v);
      placed.push(checkClosures(e, safe, arityOf, unsafe));
      done.add(i);
      progress = true;
    });
  }

  body.forEach((e, i) => {
    if (done.has(i)) return;
    const cv = new Set<string>();
    closureVarsOfExpr(e, cv, false);
    const need = exprVars(e);
    for (const v of cv) if (bodyVars.has(v)) need.add(v);
    for (const v of need) {
      if (safe.has(v) || unsafe.some((u) => u.name === v)) continue;
      unsafe.push({ name: v, location: e.location });
    }
    placed.push(e);
  });
  return { body: placed, safe, unsafe };
}

/** Reorders the closures of a placed expression with the variables bound so far. */
function checkClosures(e: Expr, safe: Set<string>, arityOf: ArityOf, unsafe: UnsafeVar[]): Expr {
  const n = e.node;
  const term = (t: Term): Term => closuresInTerm(t, safe, arityOf, unsafe);
  const withs = e.with.map((w) => ({ ...w, value: term(w.value) }));
  if (n.type === 'every') {
    const inner = new Set(safe);
    if (n.key) patternBinds(n.key, inner);
    patternBinds(n.value, inner);
    const r = reorderBody(n.body, inner, arityOf);
    unsafe.push(...r.unsafe);
    return { ...e, node: { ...n, domain: term(n.domain), body: r.body }, with: withs };
  }
  if (n.type === 'some' || n.type === 'somein') return e;
  return { ...e, node: term(n), with: withs };
}

function closuresInTerm(t: Term, safe: Set<string>, arityOf: ArityOf, unsafe: UnsafeVar[]): Term {
  const rec = (x: Term): Term => closuresInTerm(x, safe, arityOf, unsafe);
  switch (t.type) {
    case 'ref':
      return { ...t, terms: t.terms.map(rec) };
    case 'array':
    case 'set':
      return { ...t, items: t.items.map(rec) };
    case 'object':
      return { ...t, entries: t.entries.map(([k, v]) => [rec(k), rec(v)] as [Term, Term]) };
    case 'call':
      return { ...t, args: t.args.map(rec) };
    case 'arraycomp':
    case 'setcomp': {
      const r = reorderBody(t.body, safe, arityOf);
      unsafe.push(...r.unsafe);
      const term = closuresInTerm(t.term, r.safe, arityOf, unsafe);
      headVars([term], r.safe, unsafe);
      return { ...t, body: r.body, term };
    }
    case 'objectcomp': {
      const r = reorderBody(t.body, safe, arityOf);
      unsafe.push(...r.unsafe);
      const key = closuresInTerm(t.key, r.safe, arityOf, unsafe);
      const value = closuresInTerm(t.value, r.safe, arityOf, unsafe);
      headVars([key, value], r.safe, unsafe);
      return { ...t, body: r.body, key, value };
    }
    default:
      return t;
  }
}

/** Reports the variables of head-like terms (comprehension terms, rule heads) not bound by `safe`. */
export function headVars(terms: Term[], safe: Set<string>, unsafe: UnsafeVar[], at?: Location): void {
  for (const t of terms) {
    const vs: { name: string; location: Location }[] = [];
    const visit = (x: Term): void => {
      if (x.type === 'var') {
        if (!ROOTS.has(x.name)) vs.push({ name: x.name, location: x.location });
        return;
      }
      if (x.type === 'ref') x.terms.forEach(visit);
      else if (x.type === 'array' || x.type === 'set') x.items.forEach(visit);
      else if (x.type === 'object')
        x.entries.forEach(([k, v]) => {
          visit(k);
          visit(v);
        });
      else if (x.type === 'call') x.args.forEach(visit);
    };
    visit(t);
    for (const v of vs) {
      if (safe.has(v.name) || unsafe.some((u) => u.name === v.name)) continue;
      unsafe.push({ name: v.name, location: at ?? v.location });
    }
  }
}
