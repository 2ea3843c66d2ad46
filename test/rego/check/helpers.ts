// Shared helpers of the checker tests: parse sources with the project's parser, then check.
import type { Body, Module, RegoError, Term } from '../../../src/rego/ast.js';
import { type CheckedProgram, checkModules, checkQuery } from '../../../src/rego/check/index.js';
import { formatBody } from '../../../src/rego/format/index.js';
import { parseModule, parseQuery } from '../../../src/rego/parse/index.js';

export function parse(...sources: string[]): Module[] {
  return sources.map((src, i) => {
    const r = parseModule(src, `test-${i}.rego`);
    if (r.errors.length > 0 || !r.module) {
      throw new Error(
        `parse failed: ${r.errors.map((e) => `${e.location.line}:${e.location.col} ${e.message}`).join('; ')}`,
      );
    }
    return r.module;
  });
}

export function check(...sources: string[]) {
  return checkModules(parse(...sources));
}

/** `code line:col message` for each error, for compact assertions. */
export function errs(errors: RegoError[]): string[] {
  return errors.map((e) => `${e.code} ${e.location.file}:${e.location.line}:${e.location.col} ${e.message}`);
}

export function programOf(...sources: string[]): CheckedProgram {
  const r = check(...sources);
  if (!r.program) throw new Error(`unexpected errors:\n${errs(r.errors).join('\n')}`);
  return r.program;
}

/** The checked body of the first rule of group `name`, printed one expression per line. */
export function bodyOf(program: CheckedProgram, name: string, index = 0): string {
  const g = program.groups.get(name);
  const r = g?.rules[index] ?? g?.default;
  if (!r) throw new Error(`no rule ${name}`);
  return formatBody(r.body);
}

export function query(src: string, program: CheckedProgram) {
  const q = parseQuery(src, 'query');
  if (q.errors.length > 0 || !q.body)
    throw new Error(`query parse failed: ${q.errors.map((e) => e.message).join('; ')}`);
  return checkQuery(q.body as Body, program, 'query');
}

/**
 * Structural promises of checked output, for the planner: no wildcard left, no
 * `:=`, no `some` declarations or `some … in` forms, no evaluation in rule heads (except default rules' constants).
 * Returns a list of violations (empty when all hold).
 */
export function violations(bodies: Body[], heads: Term[]): string[] {
  const out: string[] = [];
  const term = (t: Term, where: string): void => {
    switch (t.type) {
      case 'var':
        if (t.name === '_') out.push(`${where}: wildcard left`);
        return;
      case 'ref':
        for (const x of t.terms) term(x, where);
        return;
      case 'array':
      case 'set':
        for (const x of t.items) term(x, where);
        return;
      case 'object':
        t.entries.forEach(([k, v]) => {
          term(k, where);
          term(v, where);
        });
        return;
      case 'call': {
        const name = t.operator.terms
          .map((x) => (x.type === 'var' ? x.name : x.type === 'string' ? x.value : '?'))
          .join('.');
        if (name === 'assign') out.push(`${where}: ${name} left`);
        for (const x of t.args) term(x, where);
        return;
      }
      case 'arraycomp':
      case 'setcomp':
        term(t.term, where);
        body(t.body, where);
        return;
      case 'objectcomp':
        term(t.key, where);
        term(t.value, where);
        body(t.body, where);
        return;
      default:
        return;
    }
  };
  const body = (b: Body, where: string): void => {
    for (const e of b) {
      const n = e.node;
      if (n.type === 'some' || n.type === 'somein') out.push(`${where}: ${n.type} left`);
      else if (n.type === 'every') {
        term(n.domain, where);
        body(n.body, where);
      } else term(n, where);
      for (const w of e.with) term(w.value, where);
    }
  };
  bodies.forEach((b, i) => {
    body(b, `body ${i}`);
  });
  for (const h of heads) {
    term(h, 'head');
    if (['ref', 'call', 'arraycomp', 'setcomp', 'objectcomp'].includes(h.type))
      out.push(`head: ${h.type} left`);
  }
  return out;
}

/** Every body and non-default head term of a checked program. */
export function partsOf(p: CheckedProgram): { bodies: Body[]; heads: Term[] } {
  const bodies: Body[] = [];
  const heads: Term[] = [];
  for (const g of p.groups.values()) {
    for (const r of g.rules) {
      bodies.push(r.body, ...r.else.map((e) => e.body));
      heads.push(
        ...r.suffix,
        ...(r.key ? [r.key] : []),
        ...(r.value ? [r.value] : []),
        ...r.else.map((e) => e.value),
      );
    }
  }
  return { bodies, heads };
}
