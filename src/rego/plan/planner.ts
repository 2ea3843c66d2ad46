// The planner: checked Rego (src/rego/check) → plan IR (./ir.ts).
//
// Shape of the output
// - One func per rule group (document or function) and mock context, named
//   `g<N>.data.<path>`; its params are the current input and data locals, then
//   the function's arguments. It returns the document's value, or undefined.
// - One plan per entrypoint: it evaluates a document (or an ad-hoc query) and
//   adds `{"result": value}` (or, for a query, one object of bindings per
//   solution) to the result set.
//
// How terms are planned
// Planning is in continuation-passing style: planning a term emits the
// statements that compute it into the current block and then calls the
// continuation with an operand holding its value. A term that iterates (a ref
// with an unbound variable, `some … in`) emits a scan and calls the
// continuation inside the scan's block, so everything after it in the body is
// planned once per element. A statement that fails ends the innermost block,
// which is exactly Rego's "this solution is undefined".
//
// References into `data` consult the rule tree: a prefix that names a rule
// group calls the group's func; a prefix above rule groups builds the virtual
// document (base data merged with the values of the rules below); anything
// else is a lookup in base data.
//
// `with`: replacing (part of) `input` or `data` is a `with` statement around
// the expression, and the funcs called inside see the replaced local because
// input and data are passed to every func. Replacing a function or a rule
// (a "mock") is resolved here: the funcs reachable from the expression are
// planned again in a context where calls to the mocked function or reads of
// the mocked rule go to the replacement.
import type { Location as AstLocation, Body, Every, Expr, RefTerm, Term } from '../ast.js';
import { builtin } from '../builtins/index.js';
import type { CheckedProgram, CheckedQuery, CheckedRule, RuleGroup } from '../check/index.js';
import * as ir from './ir.js';

/** What to plan: a document of the program, or an ad-hoc query. */
export type PlanTarget = { name: string; path: string[] } | { name: string; query: CheckedQuery };

/** A problem the planner cannot express; carries the source location. */
export class PlanError extends Error {
  constructor(
    /** The message without its location (which `message` leads with). */
    readonly detail: string,
    readonly location?: AstLocation,
  ) {
    super(location ? `${location.file}:${location.line}:${location.col}: ${detail}` : detail);
    this.name = 'PlanError';
  }
}

type Stmt = ir.Stmt;
type Cont = () => void;
type ValueCont = (op: ir.Operand) => void;

interface TrieNode {
  key: string;
  children: Map<string, TrieNode>;
  group?: RuleGroup;
  /** A module declares this package: its document exists (`{}` without rules). */
  package?: boolean;
}

/** A replacement in force under `with`. */
type Mock =
  | {
      kind: 'function';
      target: string;
      replacement: { func: string } | { builtin: string } | { value: Term };
    }
  | { kind: 'data'; path: string[] };

interface Context {
  key: string;
  mocks: Mock[];
}

const ROOT_CONTEXT: Context = { key: '', mocks: [] };

export interface PlanOptions {
  /** Index rules keyed on `input.… == "constant"` (default true; off only to measure the baseline). */
  ruleIndexing?: boolean;
}

/** Plans the given entrypoints of a checked program into one IR policy. */
export function planPolicy(
  program: CheckedProgram,
  targets: PlanTarget[],
  options: PlanOptions = {},
): ir.Policy {
  return new Planner(program, options.ruleIndexing !== false).policy(targets);
}

class Planner {
  private readonly strings: string[] = [];
  private readonly stringIndex = new Map<string, number>();
  private readonly files: string[] = [];
  private readonly fileIndex = new Map<string, number>();
  private readonly builtinFuncs = new Map<string, number>();
  private readonly funcs: ir.Func[] = [];
  private readonly funcNames = new Map<string, string>();
  private readonly groupIds = new Map<string, number>();
  private readonly trie: TrieNode = { key: '', children: new Map() };

  // State of the func or plan being planned.
  private nextLocal = 2;
  private curr: Stmt[] = [];
  private vars = new Map<string, ir.Local>();
  private input: ir.Local = ir.INPUT;
  private data: ir.Local = ir.DATA;
  private ctx: Context = ROOT_CONTEXT;
  private loc: ir.Location = { file: 0, row: 0, col: 0 };
  private mockValues = 0;
  private readonly contextIds = new Map<string, number>();

  constructor(
    private readonly program: CheckedProgram,
    private readonly ruleIndexing: boolean,
  ) {
    const nodeAt = (path: string[]): TrieNode => {
      let node = this.trie;
      for (const k of path) {
        let next = node.children.get(k);
        if (!next) {
          next = { key: k, children: new Map() };
          node.children.set(k, next);
        }
        node = next;
      }
      return node;
    };
    let id = 0;
    for (const g of program.groups.values()) {
      this.groupIds.set(g.name, id++);
      nodeAt(g.path).group = g;
    }
    for (const p of program.packages) nodeAt(p).package = true;
  }

  policy(targets: PlanTarget[]): ir.Policy {
    const plans: ir.Plan[] = [];
    for (const t of targets) plans.push(this.plan(t));
    return {
      static: {
        strings: this.strings,
        builtinFuncs: [...this.builtinFuncs].map(([name, arity]) => ({ name, arity })),
        files: this.files,
      },
      plans,
      funcs: this.funcs,
    };
  }

  // ------------------------------------------------------------ plans

  private plan(t: PlanTarget): ir.Plan {
    this.reset(ROOT_CONTEXT);
    this.input = ir.INPUT;
    this.data = ir.DATA;
    const blocks: ir.Block[] = [];
    if ('query' in t) {
      const q = t.query;
      this.setLoc(q.body[0]?.location);
      blocks.push(
        this.block(() =>
          this.planBody(q.body, () => {
            const row = this.newLocal();
            this.emit({ type: 'make-object', target: row });
            for (const b of q.bindings) {
              const l = this.vars.get(b.var);
              if (l === undefined) continue;
              this.emit({ type: 'object-insert', key: this.str(b.name), value: ir.local(l), object: row });
            }
            this.emit({ type: 'result-set-add', value: row });
          }),
        ),
      );
    } else {
      blocks.push(
        this.block(() =>
          this.planDataPath(t.path, (op) => {
            const row = this.newLocal();
            this.emit({ type: 'make-object', target: row });
            this.emit({ type: 'object-insert', key: this.str('result'), value: op, object: row });
            this.emit({ type: 'result-set-add', value: row });
          }),
        ),
      );
    }
    return { name: t.name, blocks };
  }

  private reset(ctx: Context): void {
    this.nextLocal = 2;
    this.curr = [];
    this.vars = new Map();
    this.ctx = ctx;
  }

  // ------------------------------------------------------------ emission helpers

  private newLocal(): ir.Local {
    return this.nextLocal++;
  }

  private emit(s: DistributiveOmit<Stmt, 'loc'>): void {
    this.curr.push({ ...s, loc: this.loc } as Stmt);
  }

  /** Plans `fn` into a fresh block and returns it (the current statement list is restored). */
  private block(fn: () => void): ir.Block {
    const saved = this.curr;
    this.curr = [];
    try {
      fn();
      return { stmts: this.curr };
    } finally {
      this.curr = saved;
    }
  }

  private setLoc(l: AstLocation | undefined): void {
    if (!l) return;
    let f = this.fileIndex.get(l.file);
    if (f === undefined) {
      f = this.files.length;
      this.files.push(l.file);
      this.fileIndex.set(l.file, f);
    }
    this.loc = { file: f, row: l.line, col: l.col };
  }

  private str(s: string): ir.Operand {
    return ir.str(this.strIndex(s));
  }

  private strIndex(s: string): number {
    let i = this.stringIndex.get(s);
    if (i === undefined) {
      i = this.strings.length;
      this.strings.push(s);
      this.stringIndex.set(s, i);
    }
    return i;
  }

  /** Runs `k` with `name` bound to `l`, restoring the previous binding afterwards. */
  private bind(name: string, l: ir.Local, k: Cont): void {
    const prev = this.vars.get(name);
    this.vars.set(name, l);
    try {
      k();
    } finally {
      if (prev === undefined) this.vars.delete(name);
      else this.vars.set(name, prev);
    }
  }

  // ------------------------------------------------------------ rule groups → funcs

  /** The func computing `group` in the current context (planned on first use). */
  private funcFor(group: RuleGroup): string {
    const key = `${group.name}#${this.ctx.key}`;
    const existing = this.funcNames.get(key);
    if (existing) return existing;
    const id = this.groupIds.get(group.name) ?? 0;
    const name = this.ctx.key ? `g${id}.${group.name}#${this.funcNames.size}` : `g${id}.${group.name}`;
    this.funcNames.set(key, name);
    this.planGroup(group, name);
    return name;
  }

  private planGroup(group: RuleGroup, name: string, path?: string[], indexing = true): void {
    // Save the caller's state: funcs are planned on demand, in the middle of another.
    const saved = {
      nextLocal: this.nextLocal,
      curr: this.curr,
      vars: this.vars,
      input: this.input,
      data: this.data,
      loc: this.loc,
    };
    const ctx = this.ctx;
    this.reset(ctx);
    this.input = 0;
    this.data = 1;
    const arity = group.kind === 'function' ? (group.arity ?? 0) : 0;
    const params: ir.Local[] = [0, 1];
    for (let i = 0; i < arity; i++) params.push(this.newLocal());
    const ret = this.newLocal();
    this.setLoc(group.location);
    const blocks: ir.Block[] = [];
    const init = this.block(() => {
      if (group.kind === 'multi-value' && !hasSuffix(group)) this.emit({ type: 'make-set', target: ret });
      else if (group.kind === 'partial-object' || group.kind === 'multi-value')
        this.emit({ type: 'make-object', target: ret });
    });
    if (init.stmts.length > 0) blocks.push(init);
    const index = indexing && this.ruleIndexing ? ruleIndex(group) : undefined;
    for (const rule of index ? index.rest : group.rules) {
      this.setLoc(rule.location);
      blocks.push(this.block(() => this.planRule(group, rule, params.slice(2), ret)));
    }
    if (index) blocks.push(this.block(() => this.planIndexed(group, index, ret)));
    if (group.default) {
      const d = group.default;
      this.setLoc(d.location);
      blocks.push(
        this.block(() => {
          this.emit({ type: 'is-undefined', source: ret });
          this.planTerm(d.value ?? trueTerm(d.location), (op) =>
            this.emit({ type: 'assign-var', source: op, target: ret }),
          );
        }),
      );
    }
    blocks.push({ stmts: [{ type: 'return-local', source: ret, loc: this.loc }] });
    this.funcs.push({ name, params, return: ret, blocks, path: path ?? ['g0', 'data', ...group.path] });
    this.nextLocal = saved.nextLocal;
    this.curr = saved.curr;
    this.vars = saved.vars;
    this.input = saved.input;
    this.data = saved.data;
    this.loc = saved.loc;
    this.ctx = ctx;
  }

  /**
   * Rule indexing: the rules of `index.byValue` all test `ref == "constant"`. Each set of
   * rules sharing a constant becomes its own func, reached through call-dynamic with the
   * ref's value as the last path element (a hashed lookup in the module), so only the
   * rules whose constant matches are evaluated.
   */
  private planIndexed(group: RuleGroup, index: RuleIndex, ret: ir.Local): void {
    const id = String(this.groupIds.get(group.name) ?? 0);
    let ctxNumber = this.contextIds.get(this.ctx.key);
    if (ctxNumber === undefined) {
      ctxNumber = this.contextIds.size;
      this.contextIds.set(this.ctx.key, ctxNumber);
    }
    const ctxId = String(ctxNumber);
    for (const [value, rules] of index.byValue) {
      const path = ['airlock_index', id, ctxId, value];
      const sub: RuleGroup = { ...group, rules, default: undefined };
      this.planGroup(sub, `${this.funcFor(group)}$index$${this.funcs.length}`, path, false);
    }
    this.planTerm(index.ref, (v) => {
      const r = this.newLocal();
      this.emit({
        type: 'call-dynamic',
        func: [this.str('airlock_index'), this.str(id), this.str(ctxId), v],
        args: [this.input, this.data],
        result: r,
      });
      if (group.kind === 'complete') {
        this.emit({
          type: 'assign-var-once',
          source: ir.local(r),
          target: ret,
          message: conflictMessage(group),
        });
        return;
      }
      const key = this.newLocal();
      const value = this.newLocal();
      const body = this.block(() => {
        if (group.kind === 'multi-value') this.emit({ type: 'set-add', value: ir.local(value), set: ret });
        else
          this.emit({ type: 'object-insert-once', key: ir.local(key), value: ir.local(value), object: ret });
      });
      this.emit({ type: 'scan', source: r, key, value, block: body });
    });
  }

  private planRule(group: RuleGroup, rule: CheckedRule, argLocals: ir.Local[], ret: ir.Local): void {
    const message = conflictMessage(group);
    const bindArgs = (k: Cont) => {
      const args = rule.args ?? [];
      const step = (i: number): void => {
        if (i >= args.length) return k();
        const a = args[i]!;
        const p = argLocals[i];
        if (p === undefined) throw new PlanError('function argument count mismatch', rule.location);
        this.unifyLocal(a, p, () => step(i + 1));
      };
      step(0);
    };
    if (group.kind === 'complete' || group.kind === 'function') {
      if (rule.else.length === 0) {
        bindArgs(() =>
          this.planBody(rule.body, () =>
            this.planTerm(rule.value ?? trueTerm(rule.location), (op) =>
              this.emit({ type: 'assign-var-once', source: op, target: ret, message }),
            ),
          ),
        );
        return;
      }
      // An else chain: the first link whose body holds gives the rule's value.
      const tmp = this.newLocal();
      this.emit({ type: 'reset-local', target: tmp });
      const links = [{ body: rule.body, value: rule.value, location: rule.location }, ...rule.else];
      links.forEach((link, i) => {
        this.setLoc(link.location);
        this.emit({
          type: 'block',
          blocks: [
            this.block(() => {
              if (i > 0) this.emit({ type: 'is-undefined', source: tmp });
              bindArgs(() =>
                this.planBody(link.body, () =>
                  this.planTerm(link.value ?? trueTerm(link.location), (op) =>
                    this.emit({ type: 'assign-var-once', source: op, target: tmp, message }),
                  ),
                ),
              );
            }),
          ],
        });
      });
      this.emit({ type: 'assign-var-once', source: ir.local(tmp), target: ret, message });
      return;
    }
    // Partial documents: a set, an object, or nested objects for ref heads.
    this.planBody(rule.body, () => this.planPartialHead(group, rule, ret));
  }

  private planPartialHead(group: RuleGroup, rule: CheckedRule, ret: ir.Local): void {
    const suffix = rule.suffix;
    const multi = group.kind === 'multi-value';
    const keys = multi ? suffix : suffix.slice(0, -1);
    const last = multi ? undefined : suffix[suffix.length - 1];
    this.planTerms(keys, (keyOps) => {
      let obj = ret;
      keyOps.forEach((k, i) => {
        const isLastLevel = i === keyOps.length - 1;
        const child = this.newLocal();
        this.emit({ type: 'reset-local', target: child });
        this.emit({
          type: 'block',
          blocks: [{ stmts: [{ type: 'dot', source: ir.local(obj), key: k, target: child, loc: this.loc }] }],
        });
        const create = this.block(() => {
          this.emit({ type: 'is-undefined', source: child });
          if (multi && isLastLevel) this.emit({ type: 'make-set', target: child });
          else this.emit({ type: 'make-object', target: child });
          this.emit({ type: 'object-insert', key: k, value: ir.local(child), object: obj });
        });
        this.emit({ type: 'block', blocks: [create] });
        obj = child;
      });
      if (multi) {
        this.planTerm(rule.key ?? trueTerm(rule.location), (v) =>
          this.emit({ type: 'set-add', value: v, set: obj }),
        );
      } else if (last) {
        this.planTerm(last, (k) =>
          this.planTerm(rule.value ?? trueTerm(rule.location), (v) =>
            this.emit({ type: 'object-insert-once', key: k, value: v, object: obj }),
          ),
        );
      } else {
        throw new PlanError(`partial rule ${group.name} without a key`, rule.location);
      }
    });
  }

  // ------------------------------------------------------------ bodies and expressions

  private planBody(body: Body, k: Cont): void {
    const step = (i: number): void => {
      if (i >= body.length) return k();
      this.planExpr(body[i]!, () => step(i + 1));
    };
    step(0);
  }

  private planExpr(e: Expr, k: Cont): void {
    this.setLoc(e.location);
    if (e.with.length > 0) return this.planWith(e, 0, k);
    this.planExprInner(e, k);
  }

  private planExprInner(e: Expr, k: Cont): void {
    this.setLoc(e.location);
    if (e.negated) {
      const saved = this.loc;
      const inner = this.block(() => this.planExprNode(e, () => {}));
      this.loc = saved;
      this.emit({ type: 'not', block: inner });
      return k();
    }
    this.planExprNode(e, k);
  }

  private planExprNode(e: Expr, k: Cont): void {
    const n = e.node;
    switch (n.type) {
      case 'some':
        return k();
      case 'somein':
        throw new PlanError('`some … in` must be rewritten by the checker', n.location);
      case 'every':
        return this.planEvery(n, k);
      case 'call':
        return this.planCallExpr(n, k);
      default:
        return this.planTerm(n, (op) => {
          this.emit({ type: 'not-equal', a: op, b: ir.bool(false) });
          k();
        });
    }
  }

  private planEvery(n: Every, k: Cont): void {
    this.planTerm(n.domain, (domain) => {
      const src = this.toLocal(domain);
      const found = this.newLocal();
      const key = this.newLocal();
      const value = this.newLocal();
      this.emit({ type: 'reset-local', target: found });
      const body = this.block(() => {
        const afterBind = () => {
          const holds = this.block(() => this.planBody(n.body, () => {}));
          this.emit({ type: 'not', block: holds });
          this.emit({ type: 'assign-var', source: ir.bool(true), target: found });
        };
        const bindValue = () => this.unifyLocal(n.value, value, afterBind);
        if (n.key) this.unifyLocal(n.key, key, bindValue);
        else bindValue();
      });
      this.emit({ type: 'scan', source: src, key, value, block: body });
      this.emit({ type: 'is-undefined', source: found });
      k();
    });
  }

  /** `with` modifiers: data/input replacements become `with` statements, function and rule replacements mocks. */
  /**
   * `with` modifiers apply to their expression only. A replaced document is built into a
   * fresh local by a `with` statement (whose block just copies the replaced local out), and
   * the expression is planned reading that local; function and rule replacements are planned
   * as a mock context. The rest of the body (the continuation) sees the originals again.
   */
  private planWith(e: Expr, i: number, k: Cont): void {
    if (i >= e.with.length) return this.planExprInner(e, k);
    const w = e.with[i]!;
    this.setLoc(w.location);
    const target = w.target;
    const head = target.terms[0];
    const path = target.terms.slice(1);
    const headName = head?.type === 'var' ? head.name : undefined;
    const constPath = path.every((t) => t.type === 'string')
      ? path.map((t) => (t as { value: string }).value)
      : undefined;
    const outer = { input: this.input, data: this.data, ctx: this.ctx };
    /** The continuation, planned with the state from before this modifier. */
    const restoring: Cont = () => {
      const inner = { input: this.input, data: this.data, ctx: this.ctx };
      Object.assign(this, outer);
      try {
        k();
      } finally {
        Object.assign(this, inner);
      }
    };
    /** Plans the rest of the expression with `local` (input or data) replaced at `path` by `value`. */
    const replaced = (which: 'input' | 'data', pathIdx: number[], value: ir.Operand, rest: Cont) => {
      const source = which === 'input' ? this.input : this.data;
      const copy = this.newLocal();
      const copyOut: ir.Block = {
        stmts: [{ type: 'assign-var', source: ir.local(source), target: copy, loc: this.loc }],
      };
      this.emit({ type: 'with', local: source, path: pathIdx, value, block: copyOut });
      const saved = this[which];
      this[which] = copy;
      try {
        rest();
      } finally {
        this[which] = saved;
      }
    };

    // Function mocks: a built-in or a data function as target.
    const fnName = refName(target);
    const targetGroup = headName === 'data' && constPath ? this.groupAt(constPath) : undefined;
    const isFunctionTarget =
      (headName !== 'input' &&
        headName !== 'data' &&
        fnName !== undefined &&
        builtin(fnName) !== undefined) ||
      targetGroup?.kind === 'function';
    if (isFunctionTarget && fnName) {
      const replacement = this.mockReplacement(w.value);
      if ('value' in replacement && !isGround(replacement.value)) {
        // A value computed here must reach the funcs planned under the mock: it travels in
        // `data` under a key no policy can name, and the mock reads it back from there.
        const key = `$mock${this.mockValues++}`;
        const ref: RefTerm = {
          type: 'ref',
          terms: [
            { type: 'var', name: 'data', location: w.location },
            { type: 'string', value: key, location: w.location },
          ],
          location: w.location,
        };
        return this.planTerm(replacement.value, (value) =>
          replaced('data', [this.strIndex(key)], value, () =>
            this.withContext({ kind: 'function', target: fnName, replacement: { value: ref } }, () =>
              this.planWith(e, i + 1, restoring),
            ),
          ),
        );
      }
      return this.withContext({ kind: 'function', target: fnName, replacement }, () =>
        this.planWith(e, i + 1, restoring),
      );
    }
    if ((headName !== 'input' && headName !== 'data') || !constPath) {
      throw new PlanError(`unsupported with target ${fnName ?? 'ref'}`, w.location);
    }
    this.planTerm(w.value, (value) => {
      const pathIdx = constPath.map((s) => this.strIndex(s));
      const run = () => replaced(headName, pathIdx, value, () => this.planWith(e, i + 1, restoring));
      // Replacing data where rules live: the rules at or under the path read base data instead.
      if (headName === 'data' && this.rulesAtOrUnder(constPath)) {
        this.withContext({ kind: 'data', path: constPath }, run);
      } else run();
    });
  }

  private mockReplacement(value: Term): { func: string } | { builtin: string } | { value: Term } {
    if (value.type === 'ref' || value.type === 'var') {
      const name = value.type === 'var' ? value.name : refName(value);
      if (name !== undefined) {
        const r = value.type === 'ref' ? value : undefined;
        if (r && r.terms[0]?.type === 'var' && r.terms[0].name === 'data') {
          const p = r.terms.slice(1).map((t) => (t.type === 'string' ? t.value : undefined));
          if (p.every((x) => x !== undefined)) {
            const g = this.groupAt(p as string[]);
            if (g?.kind === 'function') return { func: g.name };
          }
        } else if (builtin(name)) return { builtin: name };
      }
    }
    return { value };
  }

  private withContext(mock: Mock, fn: () => void): void {
    const saved = this.ctx;
    const mocks = [...saved.mocks.filter((m) => mockKey(m) !== mockKey(mock)), mock];
    this.ctx = { mocks, key: mocks.map(mockKey).join(';') };
    try {
      fn();
    } finally {
      this.ctx = saved;
    }
  }

  private functionMock(name: string): Extract<Mock, { kind: 'function' }> | undefined {
    for (let i = this.ctx.mocks.length - 1; i >= 0; i--) {
      const m = this.ctx.mocks[i]!;
      if (m.kind === 'function' && m.target === name) return m;
    }
    return undefined;
  }

  private dataOverridden(path: string[]): boolean {
    return this.ctx.mocks.some((m) => m.kind === 'data' && isPrefix(m.path, path));
  }

  // ------------------------------------------------------------ calls

  private planCallExpr(n: Extract<Term, { type: 'call' }>, k: Cont): void {
    const name = refName(n.operator) ?? '';
    const args = n.args;
    if ((name === 'eq' || name === 'assign') && args.length === 2) return this.unify(args[0]!, args[1]!, k);
    if (!this.functionMock(name)) {
      if ((name === 'equal' || name === 'neq') && args.length === 2)
        return this.planTerms(args, ([a, b]) => {
          this.emit({ type: name === 'equal' ? 'equal' : 'not-equal', a: a!, b: b! });
          k();
        });
      if (name === 'print') return this.planPrint(args, k);
    }
    const arity = this.arityOf(name, n.operator);
    if (args.length === arity + 1) {
      return this.planCall(n, args.slice(0, arity), (result) => {
        if (builtin(name)?.relation) {
          // A relation yields each of its results: iterate.
          const key = this.newLocal();
          const value = this.newLocal();
          const body = this.block(() => this.unifyLocal(args[arity]!, value, k));
          this.emit({ type: 'scan', source: result, key, value, block: body });
          return;
        }
        this.unifyLocal(args[arity]!, result, k);
      });
    }
    this.planCall(n, args, (result) => {
      this.emit({ type: 'not-equal', a: ir.local(result), b: ir.bool(false) });
      k();
    });
  }

  /** `print(a, b)`: the host prints the values, `<undefined>` for an undefined one; never fails the body. */
  private planPrint(args: Term[], k: Cont): void {
    const arr = this.newLocal();
    this.emit({ type: 'make-array', capacity: args.length, target: arr });
    for (const a of args) {
      const v = this.newLocal();
      this.emit({ type: 'reset-local', target: v });
      const value = this.block(() =>
        this.planTerm(a, (op) => this.emit({ type: 'assign-var', source: op, target: v })),
      );
      const append = this.block(() => {
        this.emit({ type: 'is-defined', source: v });
        this.emit({ type: 'array-append', value: ir.local(v), array: arr });
      });
      const undefinedMark = this.block(() => {
        this.emit({ type: 'is-undefined', source: v });
        this.emit({ type: 'array-append', value: this.str('<undefined>'), array: arr });
      });
      this.emit({ type: 'block', blocks: [value, append, undefinedMark] });
    }
    const out = this.newLocal();
    this.useBuiltin('internal.print', 1);
    const call = this.block(() =>
      this.emit({ type: 'call', func: 'internal.print', args: [ir.local(arr)], result: out }),
    );
    this.emit({ type: 'block', blocks: [call] });
    k();
  }

  private arityOf(name: string, operator: RefTerm): number {
    const mock = this.functionMock(name);
    if (mock && 'builtin' in mock.replacement) return builtin(mock.replacement.builtin)?.arity ?? 0;
    const b = builtin(name);
    if (b) return b.arity;
    const g = this.groupForRef(operator);
    if (g?.kind === 'function') return g.arity ?? 0;
    throw new PlanError(`undefined function ${name}`, operator.location);
  }

  /** Calls a function (built-in, rule function, or its mock) with the given args; the continuation gets the result local. */
  private planCall(n: Extract<Term, { type: 'call' }>, args: Term[], k: (result: ir.Local) => void): void {
    const name = refName(n.operator) ?? '';
    this.planTerms(args, (ops) => {
      const result = this.newLocal();
      const mock = this.functionMock(name);
      if (mock) {
        const r = mock.replacement;
        if ('value' in r) {
          // The replaced call still needs its arguments to be defined.
          for (const op of ops) if (op.kind === 'local') this.emit({ type: 'is-defined', source: op.local });
          return this.planTerm(r.value, (v) => {
            this.emit({ type: 'assign-var', source: v, target: result });
            k(result);
          });
        }
        if ('builtin' in r) {
          this.useBuiltin(r.builtin, ops.length);
          this.emit({ type: 'call', func: r.builtin, args: ops, result });
          return k(result);
        }
        const g = this.program.groups.get(r.func);
        if (!g) throw new PlanError(`undefined function ${r.func}`, n.location);
        // The replacement function runs without function mocks (it may call the original,
        // and one mock never calls another); replaced data stays replaced.
        const saved = this.ctx;
        const mocks = saved.mocks.filter((m) => m.kind === 'data');
        this.ctx = { mocks, key: mocks.map(mockKey).join(';') };
        const fname = this.funcFor(g);
        this.ctx = saved;
        this.emit({
          type: 'call',
          func: fname,
          args: [ir.local(this.input), ir.local(this.data), ...ops],
          result,
        });
        return k(result);
      }
      const b = builtin(name);
      if (b) {
        this.useBuiltin(name, ops.length);
        this.emit({ type: 'call', func: name, args: ops, result });
        return k(result);
      }
      const g = this.groupForRef(n.operator);
      if (g?.kind !== 'function') throw new PlanError(`undefined function ${name}`, n.location);
      const fname = this.funcFor(g);
      this.emit({
        type: 'call',
        func: fname,
        args: [ir.local(this.input), ir.local(this.data), ...ops],
        result,
      });
      k(result);
    });
  }

  private useBuiltin(name: string, arity: number): void {
    if (!this.builtinFuncs.has(name)) this.builtinFuncs.set(name, arity);
  }

  // ------------------------------------------------------------ unification

  private unify(a: Term, b: Term, k: Cont): void {
    if (a.type === 'var' && !this.vars.has(a.name)) {
      return this.planTerm(b, (op) => this.bindOperand(a.name, op, k));
    }
    if (b.type === 'var' && !this.vars.has(b.name)) {
      return this.planTerm(a, (op) => this.bindOperand(b.name, op, k));
    }
    if (a.type === 'array' && b.type === 'array') {
      if (a.items.length !== b.items.length) return this.emitFail();
      const step = (i: number): void =>
        i >= a.items.length ? k() : this.unify(a.items[i]!, b.items[i]!, () => step(i + 1));
      return step(0);
    }
    if (a.type === 'object' && b.type === 'object' && sameGroundKeys(a, b)) {
      const step = (i: number): void => {
        if (i >= a.entries.length) return k();
        const [ka, va] = a.entries[i]!;
        const vb = b.entries.find(([kb]) => groundKey(kb) === groundKey(ka))![1];
        this.unify(va, vb, () => step(i + 1));
      };
      return step(0);
    }
    if (isPattern(a) && this.hasUnbound(a)) {
      return this.planTerm(b, (op) => this.unifyLocal(a, this.toLocal(op), k));
    }
    if (isPattern(b) && this.hasUnbound(b)) {
      return this.planTerm(a, (op) => this.unifyLocal(b, this.toLocal(op), k));
    }
    this.planTerm(a, (x) =>
      this.planTerm(b, (y) => {
        this.emit({ type: 'equal', a: x, b: y });
        k();
      }),
    );
  }

  /** Unifies a term (possibly a pattern with unbound vars) with a value held in a local. */
  private unifyLocal(t: Term, l: ir.Local, k: Cont): void {
    if (t.type === 'var') {
      const bound = this.vars.get(t.name);
      if (bound === undefined) return this.bind(t.name, l, k);
      this.emit({ type: 'equal', a: ir.local(bound), b: ir.local(l) });
      return k();
    }
    if (t.type === 'array' && this.hasUnbound(t)) {
      this.emit({ type: 'is-array', source: ir.local(l) });
      const n = this.newLocal();
      this.emit({ type: 'len', source: ir.local(l), target: n });
      const len = this.newLocal();
      this.emit({ type: 'make-number-int', value: t.items.length, target: len });
      this.emit({ type: 'equal', a: ir.local(n), b: ir.local(len) });
      const step = (i: number): void => {
        if (i >= t.items.length) return k();
        const el = this.newLocal();
        const idx = this.newLocal();
        this.emit({ type: 'make-number-int', value: i, target: idx });
        this.emit({ type: 'dot', source: ir.local(l), key: ir.local(idx), target: el });
        this.unifyLocal(t.items[i]!, el, () => step(i + 1));
      };
      return step(0);
    }
    if (t.type === 'object' && this.hasUnbound(t)) {
      this.emit({ type: 'is-object', source: ir.local(l) });
      const n = this.newLocal();
      this.emit({ type: 'len', source: ir.local(l), target: n });
      const len = this.newLocal();
      this.emit({ type: 'make-number-int', value: t.entries.length, target: len });
      this.emit({ type: 'equal', a: ir.local(n), b: ir.local(len) });
      const step = (i: number): void => {
        if (i >= t.entries.length) return k();
        const [key, value] = t.entries[i]!;
        this.planTerm(key, (kop) => {
          const el = this.newLocal();
          this.emit({ type: 'dot', source: ir.local(l), key: kop, target: el });
          this.unifyLocal(value, el, () => step(i + 1));
        });
      };
      return step(0);
    }
    this.planTerm(t, (op) => {
      this.emit({ type: 'equal', a: op, b: ir.local(l) });
      k();
    });
  }

  /** A statement that always fails: the rest of the block is unreachable. */
  private emitFail(): void {
    this.emit({ type: 'not-equal', a: ir.bool(true), b: ir.bool(true) });
  }

  private bindOperand(name: string, op: ir.Operand, k: Cont): void {
    this.bind(name, this.toLocal(op), k);
  }

  private toLocal(op: ir.Operand): ir.Local {
    if (op.kind === 'local') return op.local;
    const l = this.newLocal();
    this.emit({ type: 'assign-var', source: op, target: l });
    return l;
  }

  private hasUnbound(t: Term): boolean {
    switch (t.type) {
      case 'var':
        return !this.vars.has(t.name);
      case 'array':
        return t.items.some((x) => this.hasUnbound(x));
      case 'object':
        return t.entries.some(([, v]) => this.hasUnbound(v));
      default:
        return false;
    }
  }

  // ------------------------------------------------------------ terms

  /** Plans several terms; bare vars not yet bound go last, so that refs among the others can bind them. */
  private planTerms(ts: Term[], k: (ops: ir.Operand[]) => void): void {
    const order = ts.map((_, i) => i);
    const late = (t: Term) => t.type === 'var' && !this.vars.has(t.name);
    order.sort((x, y) => Number(late(ts[x]!)) - Number(late(ts[y]!)));
    const ops: ir.Operand[] = new Array(ts.length);
    const step = (j: number): void => {
      if (j >= order.length) return k([...ops]);
      const i = order[j]!;
      this.planTerm(ts[i]!, (op) => {
        ops[i] = op;
        step(j + 1);
      });
    };
    step(0);
  }

  private planTerm(t: Term, k: ValueCont): void {
    switch (t.type) {
      case 'null': {
        const l = this.newLocal();
        this.emit({ type: 'make-null', target: l });
        return k(ir.local(l));
      }
      case 'boolean':
        return k(ir.bool(t.value));
      case 'string':
        return k(this.str(t.value));
      case 'number': {
        const l = this.newLocal();
        const text = t.text.startsWith('+') ? t.text.slice(1) : t.text;
        if (/^-?(0|[1-9][0-9]*)$/.test(text) && Number.isSafeInteger(Number(text))) {
          this.emit({ type: 'make-number-int', value: Number(text), target: l });
        } else {
          this.emit({ type: 'make-number-ref', index: this.strIndex(text), target: l });
        }
        return k(ir.local(l));
      }
      case 'var': {
        const l = this.vars.get(t.name);
        if (l !== undefined) return k(ir.local(l));
        if (t.name === 'input') return k(ir.local(this.input));
        if (t.name === 'data') return this.planDataPath([], k);
        throw new PlanError(`var ${t.name} is unbound`, t.location);
      }
      case 'ref':
        return this.planRef(t, k);
      case 'array': {
        return this.planTerms(t.items, (ops) => {
          const l = this.newLocal();
          this.emit({ type: 'make-array', capacity: ops.length, target: l });
          for (const op of ops) this.emit({ type: 'array-append', value: op, array: l });
          k(ir.local(l));
        });
      }
      case 'set': {
        return this.planTerms(t.items, (ops) => {
          const l = this.newLocal();
          this.emit({ type: 'make-set', target: l });
          for (const op of ops) this.emit({ type: 'set-add', value: op, set: l });
          k(ir.local(l));
        });
      }
      case 'object': {
        const flat = t.entries.flat();
        return this.planTerms(flat, (ops) => {
          const l = this.newLocal();
          this.emit({ type: 'make-object', target: l });
          for (let i = 0; i < ops.length; i += 2) {
            this.emit({ type: 'object-insert-once', key: ops[i]!, value: ops[i + 1]!, object: l });
          }
          k(ir.local(l));
        });
      }
      case 'arraycomp':
      case 'setcomp':
      case 'objectcomp': {
        const l = this.newLocal();
        if (t.type === 'arraycomp') this.emit({ type: 'make-array', capacity: 0, target: l });
        else if (t.type === 'setcomp') this.emit({ type: 'make-set', target: l });
        else this.emit({ type: 'make-object', target: l });
        const saved = this.loc;
        const body = this.block(() =>
          this.planBody(t.body, () => {
            if (t.type === 'arraycomp')
              this.planTerm(t.term, (v) => this.emit({ type: 'array-append', value: v, array: l }));
            else if (t.type === 'setcomp')
              this.planTerm(t.term, (v) => this.emit({ type: 'set-add', value: v, set: l }));
            else
              this.planTerm(t.key, (kk) =>
                this.planTerm(t.value, (v) =>
                  this.emit({ type: 'object-insert-once', key: kk, value: v, object: l }),
                ),
              );
          }),
        );
        this.loc = saved;
        this.emit({ type: 'block', blocks: [body] });
        return k(ir.local(l));
      }
      case 'call': {
        const name = refName(t.operator) ?? '';
        const arity = this.arityOf(name, t.operator);
        if (t.args.length !== arity) throw new PlanError(`${name}: wrong number of arguments`, t.location);
        return this.planCall(t, t.args, (result) => k(ir.local(result)));
      }
    }
  }

  // ------------------------------------------------------------ references

  private planRef(t: RefTerm, k: ValueCont): void {
    const head = t.terms[0];
    if (!head) throw new PlanError('empty reference', t.location);
    if (head.type === 'var') {
      if (head.name === 'data' && !this.vars.has('data')) return this.planDataRef(t, k);
      const base = this.vars.get(head.name) ?? (head.name === 'input' ? this.input : undefined);
      if (base === undefined) throw new PlanError(`var ${head.name} is unbound`, head.location);
      return this.planPath(ir.local(base), t.terms, 1, k);
    }
    this.planTerm(head, (op) => this.planPath(op, t.terms, 1, k));
  }

  /** Walks `terms[i…]` from `source`: constant keys are lookups, unbound vars iterate. */
  private planPath(source: ir.Operand, terms: Term[], i: number, k: ValueCont, baseData = false): void {
    if (i >= terms.length) return k(source);
    const el = terms[i]!;
    if (baseData && (el.type === 'number' || el.type === 'string')) {
      // Base documents are read as OPA's storage reads them: every key is its text (a number as
      // written, `1.2` is the key "1.2"), and an array takes a key that is a decimal integer.
      const text = el.type === 'number' ? el.text : el.value;
      const index = /^[0-9]+$/.test(text) ? Number(text) : undefined;
      if (el.type === 'number' || index !== undefined) {
        const target = this.newLocal();
        this.emit({ type: 'reset-local', target });
        const attempts: ir.Operand[] = [this.str(text)];
        if (index !== undefined && Number.isSafeInteger(index)) {
          const n = this.newLocal();
          this.emit({ type: 'make-number-int', value: index, target: n });
          attempts.push(ir.local(n));
        }
        for (const key of attempts) {
          const lookup = this.block(() => {
            this.emit({ type: 'is-undefined', source: target });
            this.emit({ type: 'dot', source, key, target });
          });
          this.emit({ type: 'block', blocks: [lookup] });
        }
        this.emit({ type: 'is-defined', source: target });
        return this.planPath(ir.local(target), terms, i + 1, k, true);
      }
    }
    if (el.type !== 'var' && isPattern(el) && this.hasUnbound(el)) {
      // A composite key with unbound vars: iterate and unify each key with the pattern.
      const key = this.newLocal();
      const value = this.newLocal();
      const src = this.toLocal(source);
      const body = this.block(() =>
        this.unifyLocal(el, key, () => this.planPath(ir.local(value), terms, i + 1, k)),
      );
      this.emit({ type: 'scan', source: src, key, value, block: body });
      return;
    }
    if (el.type === 'var' && !this.vars.has(el.name)) {
      const key = this.newLocal();
      const value = this.newLocal();
      const src = this.toLocal(source);
      const body = this.block(() =>
        this.bind(el.name, key, () => this.planPath(ir.local(value), terms, i + 1, k, baseData)),
      );
      this.emit({ type: 'scan', source: src, key, value, block: body });
      return;
    }
    this.planTerm(el, (keyOp) => {
      const target = this.newLocal();
      if (baseData) {
        // A key known only at run time is converted as the constant keys above, by the runtime.
        this.useBuiltin('internal.storage_get', 2);
        this.emit({ type: 'call', func: 'internal.storage_get', args: [source, keyOp], result: target });
      } else {
        this.emit({ type: 'dot', source, key: keyOp, target });
      }
      this.planPath(ir.local(target), terms, i + 1, k, baseData);
    });
  }

  private planDataRef(t: RefTerm, k: ValueCont): void {
    this.planDataNode(this.trie, [], t.terms.slice(1), 0, k);
  }

  /** The rule group whose value is (part of) the document at `node`, unless mocked away by `with`. */
  private liveGroup(node: TrieNode): RuleGroup | undefined {
    const g = node.group;
    return g && g.kind !== 'function' && !this.dataOverridden(g.path) ? g : undefined;
  }

  private callGroup(g: RuleGroup): ir.Local {
    const result = this.newLocal();
    this.emit({
      type: 'call',
      func: this.funcFor(g),
      args: [ir.local(this.input), ir.local(this.data)],
      result,
    });
    return result;
  }

  /** Looks up `path[i…]` in the document at trie `node` (reached by the constant keys `consts`). */
  private planDataNode(node: TrieNode, consts: string[], path: Term[], i: number, k: ValueCont): void {
    // Replaced by `with data.…`: the document here, rules below included, is the replacement.
    if (node !== this.trie && this.dataOverridden(consts))
      return this.planPath(ir.local(this.baseAt(consts)), path, i, k, true);
    const group = this.liveGroup(node);
    const children = [...node.children.values()].filter((c) => includeInDoc(c));
    if (i >= path.length) return k(ir.local(this.virtualDoc(node, consts)));
    if (group && children.length === 0) return this.planPath(ir.local(this.callGroup(group)), path, i, k);
    if (node !== this.trie && children.length === 0 && !group) {
      return this.planPath(ir.local(this.baseAt(consts)), path, i, k, true);
    }
    const el = path[i]!;
    const constKey = el.type === 'string' ? el.value : el.type === 'number' ? el.text : undefined;
    if (constKey !== undefined) {
      const child = node.children.get(constKey);
      if (child && includeInDoc(child)) {
        if (group) {
          // The partial object's own value under this key must agree with the rules below.
          const holder = this.newLocal();
          this.emit({ type: 'make-object', target: holder });
          const fill = this.block(() => {
            const v = this.virtualDoc(child, [...consts, constKey]);
            this.emit({ type: 'object-insert', key: this.str(constKey), value: ir.local(v), object: holder });
          });
          this.emit({ type: 'block', blocks: [fill] });
          this.checkOverlap(this.callGroup(group), constKey, holder, firstRuleAt(child));
        }
        return this.planDataNode(child, [...consts, constKey], path, i + 1, k);
      }
      if (group) return this.planPath(ir.local(this.callGroup(group)), path, i, k);
      return this.planPath(ir.local(this.baseAt(consts)), path, i, k, true);
    }
    // A key computed at run time, or iteration: one alternative per rule subtree, one for
    // the group's own value, one for base data. Each runs in its own block.
    const iterate = el.type === 'var' && !this.vars.has(el.name);
    const alternatives = (keyOp?: ir.Operand): ir.Block[] => {
      const blocks: ir.Block[] = [];
      for (const child of children.sort((x, y) => (x.key < y.key ? -1 : x.key > y.key ? 1 : 0))) {
        blocks.push(
          this.block(() => {
            const keyLocal = this.newLocal();
            this.emit({ type: 'assign-var', source: this.str(child.key), target: keyLocal });
            const rest = () => this.planDataNode(child, [...consts, child.key], path, i + 1, k);
            if (iterate) this.bind((el as { name: string }).name, keyLocal, rest);
            else {
              this.emit({ type: 'equal', a: keyOp!, b: ir.local(keyLocal) });
              rest();
            }
          }),
        );
      }
      const skipChildren = (key: ir.Local) => {
        for (const child of children) {
          this.emit({ type: 'not-equal', a: ir.local(key), b: this.str(child.key) });
        }
      };
      const fromValue = (value: ir.Local, base: boolean) =>
        this.block(() => {
          if (iterate) {
            const key = this.newLocal();
            const v = this.newLocal();
            const body = this.block(() => {
              skipChildren(key);
              this.bind((el as { name: string }).name, key, () =>
                this.planPath(ir.local(v), path, i + 1, k, base),
              );
            });
            this.emit({ type: 'scan', source: value, key, value: v, block: body });
          } else {
            this.planPath(ir.local(value), [el, ...path.slice(i + 1)], 0, k, base);
          }
        });
      if (group) {
        blocks.push(
          this.block(() => this.emit({ type: 'block', blocks: [fromValue(this.callGroup(group), false)] })),
        );
      }
      blocks.push(
        this.block(() => this.emit({ type: 'block', blocks: [fromValue(this.baseAt(consts), true)] })),
      );
      return blocks;
    };
    if (iterate) {
      this.emit({ type: 'block', blocks: alternatives() });
      return;
    }
    this.planTerm(el, (keyOp) => this.emit({ type: 'block', blocks: alternatives(keyOp) }));
  }

  /** A local holding base data at `path` (undefined when absent). */
  private baseAt(path: string[]): ir.Local {
    if (path.length === 0) return this.data;
    const out = this.newLocal();
    this.emit({ type: 'reset-local', target: out });
    const lookup = this.block(() => {
      let src: ir.Operand = ir.local(this.data);
      for (const p of path) {
        const t = this.newLocal();
        this.emit({ type: 'dot', source: src, key: this.str(p), target: t });
        src = ir.local(t);
      }
      this.emit({ type: 'assign-var', source: src, target: out });
    });
    this.emit({ type: 'block', blocks: [lookup] });
    return out;
  }

  /** Plans `data.<path>` for an entrypoint (a rule group, a virtual document or base data). */
  private planDataPath(path: string[], k: ValueCont): void {
    const ref: RefTerm = {
      type: 'ref',
      terms: [
        { type: 'var', name: 'data', location: dummyLoc },
        ...path.map((value) => ({ type: 'string' as const, value, location: dummyLoc })),
      ],
      location: dummyLoc,
    };
    this.planDataRef(ref, k);
  }

  /** Builds the document at a rule-tree node: base data merged with the values of the rules below. */
  private virtualDoc(node: TrieNode, path: string[]): ir.Local {
    if (node !== this.trie && this.dataOverridden(path)) return this.baseAt(path);
    const group = this.liveGroup(node);
    const children = [...node.children.values()].filter((c) => includeInDoc(c));
    if (group && children.length === 0) return this.callGroup(group);
    const base = this.baseAt(path);
    const obj = this.newLocal();
    this.emit({ type: 'make-object', target: obj });
    for (const child of children.sort((x, y) => (x.key < y.key ? -1 : x.key > y.key ? 1 : 0))) {
      const fill = this.block(() => {
        const v = this.virtualDoc(child, [...path, child.key]);
        this.emit({ type: 'object-insert', key: this.str(child.key), value: ir.local(v), object: obj });
      });
      this.emit({ type: 'block', blocks: [fill] });
    }
    let merged = this.newLocal();
    this.emit({ type: 'object-merge', a: base, b: obj, target: merged });
    if (group) {
      const value = this.callGroup(group);
      for (const child of children) this.checkOverlap(value, child.key, obj, firstRuleAt(child));
      const out = this.newLocal();
      this.emit({ type: 'object-merge', a: merged, b: value, target: out });
      merged = out;
    }
    return merged;
  }

  /**
   * A rule below a partial object's path (`p.a := 2` beside `p[k] := v`) may not give a key the
   * object also has a different value for: OPA reports it at evaluation, "object keys must be
   * unique" (topdown evalVirtualPartial, open-policy-agent/opa#6211). `children` holds the
   * rules' document under `key` (when defined), `value` the partial object's.
   */
  private checkOverlap(value: ir.Local, key: string, children: ir.Local, at?: AstLocation): void {
    const saved = this.loc;
    this.setLoc(at);
    const check = this.block(() => {
      const mine = this.newLocal();
      const theirs = this.newLocal();
      this.emit({ type: 'dot', source: ir.local(value), key: this.str(key), target: mine });
      this.emit({ type: 'dot', source: ir.local(children), key: this.str(key), target: theirs });
      this.emit({
        type: 'assign-var-once',
        source: ir.local(theirs),
        target: mine,
        message: 'object keys must be unique',
      });
    });
    this.emit({ type: 'block', blocks: [check] });
    this.loc = saved;
  }

  private groupAt(path: string[]): RuleGroup | undefined {
    let node: TrieNode | undefined = this.trie;
    for (const p of path) {
      node = node.children.get(p);
      if (!node) return undefined;
    }
    return node.group;
  }

  private groupForRef(ref: RefTerm): RuleGroup | undefined {
    const head = ref.terms[0];
    if (head?.type !== 'var' || head.name !== 'data') return undefined;
    const path: string[] = [];
    for (const t of ref.terms.slice(1)) {
      if (t.type !== 'string') return undefined;
      path.push(t.value);
    }
    return this.groupAt(path);
  }

  private rulesAtOrUnder(path: string[]): boolean {
    let node: TrieNode | undefined = this.trie;
    for (const p of path) {
      if (node.group && node.group.kind !== 'function') return true;
      node = node.children.get(p);
      if (!node) return false;
    }
    return hasDocuments(node);
  }
}

// ------------------------------------------------------------ helpers

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

const dummyLoc: AstLocation = { file: '', line: 0, col: 0, offset: 0, end: 0 };

function trueTerm(location: AstLocation): Term {
  return { type: 'boolean', value: true, location };
}

function hasSuffix(g: RuleGroup): boolean {
  return g.rules.some((r) => r.suffix.length > 0);
}

function hasDocuments(node: TrieNode): boolean {
  if (node.group && node.group.kind !== 'function') return true;
  for (const c of node.children.values()) if (hasDocuments(c)) return true;
  return false;
}

/** Nodes that appear in a virtual document: rules, packages (`{}` when they hold no rules), and
 * paths leading to rules or functions (OPA shows `p.q.r` as `{}` when only a function lives
 * below it); function leaves do not. */
function includeInDoc(node: TrieNode): boolean {
  return (
    node.children.size > 0 ||
    node.package === true ||
    (node.group !== undefined && node.group.kind !== 'function')
  );
}

function isPrefix(prefix: string[], path: string[]): boolean {
  if (prefix.length > path.length) return false;
  return prefix.every((p, i) => path[i] === p);
}

function isPattern(t: Term): boolean {
  return t.type === 'array' || t.type === 'object';
}

/** `count`, `io.jwt.decode`, `data.a.f` — a ref of a var followed by strings, as a dotted name. */
function refName(ref: RefTerm): string | undefined {
  const parts: string[] = [];
  for (const [i, t] of ref.terms.entries()) {
    if (i === 0 && t.type === 'var') parts.push(t.name);
    else if (i > 0 && t.type === 'string') parts.push(t.value);
    else return undefined;
  }
  return parts.join('.');
}

function mockKey(m: Mock): string {
  if (m.kind === 'data') return `data:${m.path.join('.')}`;
  const r = m.replacement;
  const what =
    'func' in r
      ? `f:${r.func}`
      : 'builtin' in r
        ? `b:${r.builtin}`
        : `v:${JSON.stringify(stripLoc(r.value))}`;
  return `fn:${m.target}=${what}`;
}

function stripLoc(t: Term): unknown {
  return JSON.parse(JSON.stringify(t, (k, v) => (k === 'location' ? undefined : v)));
}

/** The text of a ground scalar key, for matching object patterns by key. */
function groundKey(t: Term): string | undefined {
  switch (t.type) {
    case 'string':
      return JSON.stringify(t.value);
    case 'number':
      return `n:${t.text}`;
    case 'boolean':
      return String(t.value);
    case 'null':
      return 'null';
    default:
      return undefined;
  }
}

function sameGroundKeys(a: Extract<Term, { type: 'object' }>, b: Extract<Term, { type: 'object' }>): boolean {
  if (a.entries.length !== b.entries.length) return false;
  const ka = a.entries.map(([k]) => groundKey(k));
  const kb = new Set(b.entries.map(([k]) => groundKey(k)));
  return ka.every((k) => k !== undefined && kb.has(k)) && kb.size === ka.length;
}

/** True for terms without variables, refs or calls: constants that can be planned anywhere. */
function isGround(t: Term): boolean {
  switch (t.type) {
    case 'null':
    case 'boolean':
    case 'number':
    case 'string':
      return true;
    case 'array':
    case 'set':
      return t.items.every(isGround);
    case 'object':
      return t.entries.every(([k, v]) => isGround(k) && isGround(v));
    default:
      return false;
  }
}

// ------------------------------------------------------------ rule indexing

/** Below this many rules keyed on one ref, a linear scan is as quick as a lookup. */
const INDEX_THRESHOLD = 8;

interface RuleIndex {
  /** The ground ref the rules test, e.g. `input.tool.name`. */
  ref: RefTerm;
  /** Rules by the string constant they require the ref to equal. */
  byValue: Map<string, CheckedRule[]>;
  /** Rules that do not test the ref: always evaluated. */
  rest: CheckedRule[];
}

/** The key a rule is indexed by: a top-level `ref == "constant"` (or `=`) in its body. */
function ruleKeys(rule: CheckedRule): Map<string, { ref: RefTerm; value: string }> {
  const out = new Map<string, { ref: RefTerm; value: string }>();
  for (const e of rule.body) {
    if (e.negated || e.with.length > 0 || e.node.type !== 'call') continue;
    const op = refName(e.node.operator);
    if ((op !== 'eq' && op !== 'equal') || e.node.args.length !== 2) continue;
    const [a, b] = e.node.args as [Term, Term];
    const [ref, lit] = a.type === 'ref' ? [a, b] : [b, a];
    if (ref.type !== 'ref' || lit.type !== 'string' || !isGroundInputRef(ref)) continue;
    const key = JSON.stringify(stripLoc(ref));
    if (!out.has(key)) out.set(key, { ref, value: lit.value });
  }
  return out;
}

function isGroundInputRef(ref: RefTerm): boolean {
  const [head, ...path] = ref.terms;
  return head?.type === 'var' && head.name === 'input' && path.every((t) => t.type === 'string');
}

function ruleIndex(group: RuleGroup): RuleIndex | undefined {
  const indexable =
    group.kind === 'complete' ||
    (group.kind === 'multi-value' && !hasSuffix(group)) ||
    (group.kind === 'partial-object' && group.rules.every((r) => r.suffix.length === 1));
  if (!indexable || group.rules.length < INDEX_THRESHOLD) return undefined;
  const keysByRule = group.rules.map((r) => (r.else.length === 0 ? ruleKeys(r) : new Map()));
  const counts = new Map<string, number>();
  for (const keys of keysByRule) for (const k of keys.keys()) counts.set(k, (counts.get(k) ?? 0) + 1);
  let best: string | undefined;
  for (const [k, n] of counts) if (n >= INDEX_THRESHOLD && (!best || n > counts.get(best)!)) best = k;
  if (!best) return undefined;
  const byValue = new Map<string, CheckedRule[]>();
  const rest: CheckedRule[] = [];
  let ref: RefTerm | undefined;
  group.rules.forEach((rule, i) => {
    const key = keysByRule[i]!.get(best!);
    if (!key) {
      rest.push(rule);
      return;
    }
    ref = key.ref;
    byValue.set(key.value, [...(byValue.get(key.value) ?? []), rule]);
  });
  return ref ? { ref, byValue, rest } : undefined;
}

/**
 * The conflict message of a complete rule or function with two values: names the rule and reads
 * as OPA's ("complete rules must not produce multiple outputs", "functions must not produce
 * multiple outputs for same inputs").
 */
/** Where the first rule at or below a rule-tree node is written. */
function firstRuleAt(node: TrieNode): AstLocation | undefined {
  const own = node.group?.rules[0]?.location;
  if (own) return own;
  for (const c of node.children.values()) {
    const l = firstRuleAt(c);
    if (l) return l;
  }
  return undefined;
}

function conflictMessage(group: RuleGroup): string {
  return group.kind === 'function'
    ? `function ${group.name} produced conflicting values for the same inputs (functions must not produce multiple outputs for same inputs)`
    : `rule ${group.name} produced conflicting values (complete rules must not produce multiple outputs)`;
}
