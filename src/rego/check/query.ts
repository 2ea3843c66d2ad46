// checkQuery: an ad-hoc query (`data.test.p = x`) checked against a program.
import type { Body, RegoError } from '../ast.js';
import { CallChecker, calleeOf, type FunctionLookup } from './calls.js';
import { CheckContext, isGenerated } from './context.js';
import { dataRefsOfBody, GroupIndex } from './graph.js';
import { Rewriter, Scope } from './rewrite.js';
import { type ArityOf, reorderBody, termVars } from './safety.js';
import type { CheckedProgram, CheckedQuery, CheckOptions } from './types.js';

export function checkQuery(
  query: Body,
  program: CheckedProgram,
  _file = 'query',
  options: CheckOptions = {},
): { query?: CheckedQuery; errors: RegoError[] } {
  const ctx = new CheckContext(options.maxErrors ?? 1000);
  const functions: FunctionLookup = (name) => {
    const g = program.groups.get(name);
    return g ? { arity: g.arity ?? 0, isFunction: g.kind === 'function' } : undefined;
  };
  const arityOf: ArityOf = (call) => {
    const c = calleeOf(call, functions);
    if (c.kind === 'builtin')
      return c.builtin.hasResult && !c.builtin.signature.variadic ? c.builtin.arity : undefined;
    if (c.kind === 'function') return c.arity;
    return undefined;
  };
  const rw = new Rewriter(ctx, new Map());
  const scope = new Scope();
  const body = rw.body(query, scope);
  new CallChecker(ctx, functions, options.allowNetworked === true).body(body);
  const r = reorderBody(body, new Set(), arityOf);
  const named = r.unsafe.filter((u) => !isGenerated(ctx.localNames.get(u.name) ?? u.name));
  for (const u of named.length > 0 ? named : r.unsafe.slice(0, 1)) {
    const name = ctx.localNames.get(u.name) ?? u.name;
    ctx.error(
      'rego_unsafe_var_error',
      isGenerated(name) ? 'expression is unsafe' : `var ${name} is unsafe`,
      u.location,
    );
  }
  if (ctx.errors.length > 0) return { errors: ctx.errors };

  // Result variables: every non-generated variable outside closures, in source order.
  const bindings: { name: string; var: string }[] = [];
  const seen = new Set<string>();
  for (const e of body) {
    const vs = new Set<string>();
    const n = e.node;
    if (n.type === 'every') termVars(n.domain, vs);
    else if (n.type !== 'some' && n.type !== 'somein') termVars(n, vs);
    for (const v of vs) {
      if (seen.has(v)) continue;
      seen.add(v);
      const name = ctx.localNames.get(v) ?? v;
      if (name === '_' || isGenerated(name)) continue;
      bindings.push({ name, var: v });
    }
  }
  for (const [g, n] of ctx.localNames) program.localNames.set(g, n);
  const index = new GroupIndex(program.groups);
  const dependencies = new Set<string>();
  dataRefsOfBody(r.body, (p) => index.touched(p, dependencies));
  return { query: { body: r.body, bindings, dependencies }, errors: [] };
}
