// The dependency graph between rule groups, and recursion (rego_recursion_error).
import type { Body, Expr, Location, RegoError, Term } from '../ast.js';
import type { CheckedRule, RuleGroup } from './types.js';

interface TrieNode {
  children: Map<string, TrieNode>;
  groups: string[];
}

function newNode(): TrieNode {
  return { children: new Map(), groups: [] };
}

/** Finds the groups a `data` path touches: groups on the way down, and every group below its end. */
export class GroupIndex {
  private readonly root = newNode();

  constructor(groups: Map<string, RuleGroup>) {
    for (const g of groups.values()) {
      let n = this.root;
      for (const p of g.path) {
        let c = n.children.get(p);
        if (!c) n.children.set(p, (c = newNode()));
        n = c;
      }
      n.groups.push(g.name);
    }
  }

  /**
   * Adds the groups a `data` ref may read: `elements` are the ref's terms after
   * `data`. String elements follow one child; variables and other non-ground
   * elements follow every child; other constants (numbers, booleans…) match no
   * rule path. Groups met on the way (the ref reads inside them) and every
   * group below the ref's end (it reads the whole subtree) are touched.
   */
  touched(elements: Term[], out: Set<string>): void {
    let frontier: TrieNode[] = [this.root];
    for (const el of elements) {
      const next: TrieNode[] = [];
      for (const n of frontier) {
        for (const g of n.groups) out.add(g);
        if (el.type === 'string') {
          const c = n.children.get(el.value);
          if (c) next.push(c);
        } else if (!isConstant(el)) next.push(...n.children.values());
      }
      frontier = next;
      if (frontier.length === 0) return;
    }
    const stack = [...frontier];
    while (stack.length > 0) {
      const x = stack.pop() as TrieNode;
      for (const g of x.groups) out.add(g);
      for (const c of x.children.values()) stack.push(c);
    }
  }
}

/** Terms that can never equal a rule path element (those are strings). */
function isConstant(t: Term): boolean {
  return (
    t.type !== 'string' &&
    t.type !== 'var' &&
    t.type !== 'ref' &&
    t.type !== 'call' &&
    !t.type.endsWith('comp')
  );
}

/** Calls `visit` with the elements (after `data`) of every ref and call operator rooted at `data` under a term. */
function dataRefsOfTerm(t: Term, visit: (elements: Term[]) => void): void {
  switch (t.type) {
    case 'ref': {
      const h = t.terms[0];
      if (h?.type === 'var' && h.name === 'data') visit(t.terms.slice(1));
      for (const x of t.terms) dataRefsOfTerm(x, visit);
      return;
    }
    case 'array':
    case 'set':
      for (const x of t.items) dataRefsOfTerm(x, visit);
      return;
    case 'object':
      for (const [k, v] of t.entries) {
        dataRefsOfTerm(k, visit);
        dataRefsOfTerm(v, visit);
      }
      return;
    case 'call':
      dataRefsOfTerm(t.operator, visit);
      for (const x of t.args) dataRefsOfTerm(x, visit);
      return;
    case 'arraycomp':
    case 'setcomp':
      dataRefsOfTerm(t.term, visit);
      dataRefsOfBody(t.body, visit);
      return;
    case 'objectcomp':
      dataRefsOfTerm(t.key, visit);
      dataRefsOfTerm(t.value, visit);
      dataRefsOfBody(t.body, visit);
      return;
    default:
      return;
  }
}

function dataRefsOfExpr(e: Expr, visit: (elements: Term[]) => void): void {
  const n = e.node;
  if (n.type === 'every') {
    dataRefsOfTerm(n.domain, visit);
    dataRefsOfBody(n.body, visit);
  } else if (n.type === 'somein') dataRefsOfTerm(n.collection, visit);
  else if (n.type !== 'some') dataRefsOfTerm(n, visit);
  // `with` targets are replaced, not evaluated; their values are evaluated.
  for (const w of e.with) dataRefsOfTerm(w.value, visit);
}

export function dataRefsOfBody(body: Body, visit: (elements: Term[]) => void): void {
  for (const e of body) dataRefsOfExpr(e, visit);
}

function dataRefsOfRule(r: CheckedRule, visit: (elements: Term[]) => void): void {
  for (const t of [...r.suffix, ...(r.args ?? []), ...(r.key ? [r.key] : []), ...(r.value ? [r.value] : [])])
    dataRefsOfTerm(t, visit);
  dataRefsOfBody(r.body, visit);
  for (const e of r.else) {
    dataRefsOfTerm(e.value, visit);
    dataRefsOfBody(e.body, visit);
  }
}

export function dependencyGraph(groups: Map<string, RuleGroup>): Map<string, Set<string>> {
  const index = new GroupIndex(groups);
  const deps = new Map<string, Set<string>>();
  for (const g of groups.values()) {
    const out = new Set<string>();
    for (const r of [...(g.default ? [g.default] : []), ...g.rules])
      dataRefsOfRule(r, (p) => index.touched(p, out));
    deps.set(g.name, out);
  }
  return deps;
}

/** One error per group that takes part in a cycle, naming the cycle. */
export function recursionErrors(
  groups: Map<string, RuleGroup>,
  deps: Map<string, Set<string>>,
  limit = 1000,
): RegoError[] {
  // Tarjan's strongly connected components, iteratively.
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const comp = new Map<string, number>();
  let counter = 0;
  let comps = 0;
  for (const start of groups.keys()) {
    if (index.has(start)) continue;
    const work: { v: string; it: Iterator<string> }[] = [];
    const push = (v: string) => {
      index.set(v, counter);
      low.set(v, counter++);
      stack.push(v);
      onStack.add(v);
      work.push({ v, it: (deps.get(v) ?? new Set<string>()).values() });
    };
    push(start);
    while (work.length > 0) {
      const top = work[work.length - 1] as { v: string; it: Iterator<string> };
      const next = top.it.next();
      if (!next.done) {
        const w = next.value;
        if (!index.has(w)) push(w);
        else if (onStack.has(w)) low.set(top.v, Math.min(low.get(top.v) as number, index.get(w) as number));
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent) low.set(parent.v, Math.min(low.get(parent.v) as number, low.get(top.v) as number));
      if (low.get(top.v) === index.get(top.v)) {
        for (;;) {
          const x = stack.pop() as string;
          onStack.delete(x);
          comp.set(x, comps);
          if (x === top.v) break;
        }
        comps++;
      }
    }
  }

  const sizes = new Map<number, number>();
  for (const c of comp.values()) sizes.set(c, (sizes.get(c) ?? 0) + 1);
  const errors: RegoError[] = [];
  for (const g of groups.values()) {
    const c = comp.get(g.name);
    const self = deps.get(g.name)?.has(g.name) ?? false;
    const size = c === undefined ? 0 : (sizes.get(c) ?? 0);
    if (!self && size < 2) continue;
    if (errors.length >= limit) break; // each report costs a search: bound the work on hostile input
    // Shortest cycle from g back to g within its component.
    const prev = new Map<string, string>();
    const queue = [g.name];
    let found = false;
    while (queue.length > 0 && !found) {
      const v = queue.shift() as string;
      for (const w of deps.get(v) ?? []) {
        if (comp.get(w) !== c) continue;
        if (w === g.name) {
          prev.set('$end', v);
          found = true;
          break;
        }
        if (!prev.has(w)) {
          prev.set(w, v);
          queue.push(w);
        }
      }
    }
    const path = [g.name];
    for (let v = prev.get('$end'); v !== undefined && v !== g.name; v = prev.get(v)) path.unshift(v);
    path.unshift(g.name);
    const location: Location = g.location;
    errors.push({
      code: 'rego_recursion_error',
      message: `rule ${g.name} is recursive: ${path.join(' -> ')}`,
      location,
    });
  }
  return errors;
}
