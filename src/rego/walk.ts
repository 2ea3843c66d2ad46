// Generic traversal of the Rego AST, shared by the checker, formatter and planner.
import type { Body, ElseClause, Every, Expr, Rule, SomeDecl, SomeIn, Term, With } from './ast.js';

export type Node = Term | Expr | SomeDecl | SomeIn | Every | With | Rule | ElseClause;

/** Visits every term under `t` (including `t`), depth-first, parents before children.
 * Return `false` from `visit` to skip a node's children. Closures (comprehension
 * bodies) are entered unless `enterClosures` is false. */
export function walkTerms(t: Term, visit: (t: Term) => boolean | undefined, enterClosures = true): void {
  if (visit(t) === false) return;
  switch (t.type) {
    case 'ref':
      for (const x of t.terms) walkTerms(x, visit, enterClosures);
      return;
    case 'array':
    case 'set':
      for (const x of t.items) walkTerms(x, visit, enterClosures);
      return;
    case 'object':
      for (const [k, v] of t.entries) {
        walkTerms(k, visit, enterClosures);
        walkTerms(v, visit, enterClosures);
      }
      return;
    case 'call':
      walkTerms(t.operator, visit, enterClosures);
      for (const x of t.args) walkTerms(x, visit, enterClosures);
      return;
    case 'arraycomp':
    case 'setcomp':
      if (!enterClosures) return;
      walkTerms(t.term, visit, enterClosures);
      walkBodyTerms(t.body, visit, enterClosures);
      return;
    case 'objectcomp':
      if (!enterClosures) return;
      walkTerms(t.key, visit, enterClosures);
      walkTerms(t.value, visit, enterClosures);
      walkBodyTerms(t.body, visit, enterClosures);
      return;
    default:
      return;
  }
}

/** Visits every term of every expression of a body (see walkTerms). */
export function walkBodyTerms(
  body: Body,
  visit: (t: Term) => boolean | undefined,
  enterClosures = true,
): void {
  for (const e of body) walkExprTerms(e, visit, enterClosures);
}

/** Visits every term of one expression, its `with` modifiers included. */
export function walkExprTerms(e: Expr, visit: (t: Term) => boolean | undefined, enterClosures = true): void {
  const n = e.node;
  switch (n.type) {
    case 'some':
      for (const v of n.vars) walkTerms(v, visit, enterClosures);
      break;
    case 'somein':
      if (n.key) walkTerms(n.key, visit, enterClosures);
      walkTerms(n.value, visit, enterClosures);
      walkTerms(n.collection, visit, enterClosures);
      break;
    case 'every':
      if (n.key) walkTerms(n.key, visit, enterClosures);
      walkTerms(n.value, visit, enterClosures);
      walkTerms(n.domain, visit, enterClosures);
      if (enterClosures) walkBodyTerms(n.body, visit, enterClosures);
      break;
    default:
      walkTerms(n, visit, enterClosures);
  }
  for (const w of e.with) {
    walkTerms(w.target, visit, enterClosures);
    walkTerms(w.value, visit, enterClosures);
  }
}

/** The names of all variables occurring in a term (closures excluded unless asked). */
export function varsOf(t: Term, enterClosures = false): Set<string> {
  const out = new Set<string>();
  walkTerms(
    t,
    (x) => {
      if (x.type === 'var') out.add(x.name);
      return undefined;
    },
    enterClosures,
  );
  return out;
}

/** A copy of any AST value without `location` fields: for structural comparison in tests and fmt checks. */
export function stripLocations<T>(value: T): T {
  return JSON.parse(JSON.stringify(value, (k, v) => (k === 'location' ? undefined : v)));
}
