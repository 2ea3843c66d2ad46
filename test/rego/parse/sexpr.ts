// Compact S-expressions of Rego AST nodes, so parser tests can state the tree
// they expect in one line: `x + 1 * 2` is `(plus x (mul 1 2))`.
import type { Body, ElseClause, Expr, Rule, Term } from '../../../src/rego/ast.js';

export function sx(t: Term): string {
  switch (t.type) {
    case 'null':
      return 'null';
    case 'boolean':
      return String(t.value);
    case 'number':
      return t.text;
    case 'string':
      return JSON.stringify(t.value);
    case 'var':
      return t.name;
    case 'ref':
      return t.terms
        .map((x, i) =>
          i === 0 ? (x.type === 'var' ? x.name : sx(x)) : x.type === 'string' ? `.${x.value}` : `[${sx(x)}]`,
        )
        .join('');
    case 'array':
      return `[${t.items.map(sx).join(' ')}]`;
    case 'set':
      return `#{${t.items.map(sx).join(' ')}}`;
    case 'object':
      return `{${t.entries.map(([k, v]) => `${sx(k)}:${sx(v)}`).join(' ')}}`;
    case 'arraycomp':
      return `[${sx(t.term)} | ${sxBody(t.body)}]`;
    case 'setcomp':
      return `#{${sx(t.term)} | ${sxBody(t.body)}}`;
    case 'objectcomp':
      return `{${sx(t.key)}:${sx(t.value)} | ${sxBody(t.body)}}`;
    case 'call':
      return `(${sx(t.operator)}${t.args.map((a) => ` ${sx(a)}`).join('')})`;
  }
}

export function sxExpr(e: Expr): string {
  const n = e.node;
  let s: string;
  switch (n.type) {
    case 'some':
      s = `(some ${n.vars.map(sx).join(' ')})`;
      break;
    case 'somein':
      s = `(some-in ${n.key ? `${sx(n.key)} ` : ''}${sx(n.value)} ${sx(n.collection)})`;
      break;
    case 'every':
      s = `(every ${n.key ? `${sx(n.key)} ` : ''}${sx(n.value)} ${sx(n.domain)} {${sxBody(n.body)}})`;
      break;
    default:
      s = sx(n);
  }
  if (e.negated) s = `(not ${s})`;
  for (const w of e.with) s += ` with ${sx(w.target)} as ${sx(w.value)}`;
  return s;
}

export function sxBody(b: Body): string {
  return b.map(sxExpr).join('; ');
}

function sxElse(e: ElseClause): string {
  let s = ` else${e.value ? ` ${e.assign ? ':=' : '='} ${sx(e.value)}` : ''}`;
  if (e.body.length > 0) s += ` if {${sxBody(e.body)}}`;
  return e.else ? s + sxElse(e.else) : s;
}

export function sxRule(r: Rule): string {
  const h = r.head;
  let s = r.default ? 'default ' : '';
  s += sx(h.ref);
  if (h.args) s += `(${h.args.map(sx).join(', ')})`;
  if (h.contains && h.key) s += ` contains ${sx(h.key)}`;
  if (h.value) s += ` ${h.assign ? ':=' : '='} ${sx(h.value)}`;
  if (r.hasIf) s += ` if {${sxBody(r.body)}}`;
  else if (r.body.length > 0) s += ` {${sxBody(r.body)}}`;
  if (r.else) s += sxElse(r.else);
  return s;
}
