// Dynamic coverage probes: a copy of a plan in which every statement that gives
// a rule (or function) its value is followed by a call of a host built-in of
// its own, which records that the rule produced a value. The probes always
// return true, so they never change what the policy computes.
import { codecFor } from '../builtins/host/index.js';
import type { Block, Func, Local, Policy, Stmt } from '../plan/ir.js';

/** Where a probe sits: the source position of the statement it follows. */
export interface Probe {
  file: string;
  row: number;
}

export interface InstrumentedPlan {
  plan: Policy;
  probes: Probe[];
  /** Built-in name of probe i. */
  names: string[];
}

const PROBE_PREFIX = 'airlock.test.probe_';

/** Statements that write a value into their `target`/`set`/`object`/`array` local. */
const VALUE_WRITES = new Set<Stmt['type']>([
  'assign-var',
  'assign-var-once',
  'assign-int',
  'set-add',
  'object-insert',
  'object-insert-once',
  'array-append',
]);

function writtenLocal(s: Stmt): Local | undefined {
  const r = s as unknown as Record<string, unknown>;
  for (const k of ['target', 'set', 'object', 'array']) {
    const v = r[k];
    if (typeof v === 'number') return v;
  }
  return undefined;
}

/** The largest local index a func mentions (params, return, every statement field holding a local). */
function maxLocal(f: Func): number {
  let max = Math.max(f.return, ...f.params);
  const constants = new Set(['make-number-int', 'assign-int']);
  const visit = (x: unknown, key: string, stmtType: string | undefined): void => {
    if (typeof x === 'number') {
      if (key === 'index' || key === 'capacity' || key === 'file' || key === 'row' || key === 'col') return;
      if (key === 'value' && stmtType && constants.has(stmtType)) return;
      if (x > max) max = x;
      return;
    }
    if (Array.isArray(x)) {
      for (const y of x) visit(y, key, stmtType);
      return;
    }
    if (x && typeof x === 'object') {
      const o = x as Record<string, unknown>;
      if (o.kind === 'string' || o.kind === 'bool') return;
      const type = typeof o.type === 'string' ? o.type : stmtType;
      for (const [k, v] of Object.entries(o)) if (k !== 'loc' && k !== 'func') visit(v, k, type);
    }
  };
  for (const b of f.blocks) visit(b, '', undefined);
  return max;
}

/** Adds a probe after every statement that writes a func's return local. */
export function instrumentPlan(policy: Policy): InstrumentedPlan {
  const probes: Probe[] = [];
  const names: string[] = [];
  const funcs = policy.funcs.map((f): Func => {
    const ret = f.return;
    const scratch = maxLocal(f) + 1;
    const block = (b: Block): Block => ({ stmts: b.stmts.flatMap((s) => stmt(s)) });
    const stmt = (s: Stmt): Stmt[] => {
      let out: Stmt = s;
      if ('blocks' in s) out = { ...s, blocks: s.blocks.map(block) } as Stmt;
      else if ('block' in s) out = { ...s, block: block(s.block) } as Stmt;
      if (!VALUE_WRITES.has(s.type) || writtenLocal(s) !== ret) return [out];
      const id = probes.length;
      const name = `${PROBE_PREFIX}${id}`;
      probes.push({ file: policy.static.files[s.loc.file] ?? '', row: s.loc.row });
      names.push(name);
      return [out, { type: 'call', func: name, args: [], result: scratch, loc: s.loc }];
    };
    return { ...f, blocks: f.blocks.map(block) };
  });
  const builtinFuncs = [...policy.static.builtinFuncs, ...names.map((name) => ({ name, arity: 0 }))];
  return { plan: { ...policy, static: { ...policy.static, builtinFuncs }, funcs }, probes, names };
}

/** SDK custom built-ins for the probes: each records its id in `hits` and returns true. */
export function probeBuiltins(names: readonly string[], hits: Set<number>): Record<string, () => unknown> {
  const yes = codecFor('tagged').encode(true);
  const out: Record<string, () => unknown> = {};
  names.forEach((name, id) => {
    out[name] = () => {
      hits.add(id);
      return yes;
    };
  });
  return out;
}
