// The toolchain end to end: Rego sources → parse → check → plan → WebAssembly.
// Every stage's problems come back as located RegoErrors; nothing here throws
// for bad policy input.
import type { Body, Module, RegoError } from './ast.js';
import { runsWhere } from './builtins/host/index.js';
import { type CheckedProgram, checkModules, checkQuery } from './check/index.js';
import { parseModule, parseQuery } from './parse/index.js';
import type * as ir from './plan/ir.js';
import { PlanError, type PlanTarget, planPolicy } from './plan/planner.js';
import { compileToWasm, WasmCompileError } from './wasm/index.js';

export interface Source {
  file: string;
  text: string;
}

/** What to compile into the module: documents by path (`a/b/p`) and ad-hoc queries. */
export interface CompileRequest {
  sources: Source[];
  /** Entrypoints as OPA names them: `airlock/decision` is `data.airlock.decision`. */
  entrypoints?: string[];
  /** Ad-hoc queries, each exposed as an entrypoint named `name`; its result set holds the bindings. */
  queries?: { name: string; query: string | Body }[];
  /** Also expose every `# METADATA` `entrypoint: true` rule (default true). */
  annotatedEntrypoints?: boolean;
  /** Run the WebAssembly optimiser (default true; tests that compile many small policies turn it off). */
  optimize?: boolean;
  /** Rule indexing in the planner (default true). */
  ruleIndexing?: boolean;
}

export interface CompileResult {
  wasm?: Uint8Array;
  plan?: ir.Policy;
  program?: CheckedProgram;
  modules: Module[];
  /** Entrypoint names in the module, in id order. */
  entrypoints: string[];
  errors: RegoError[];
}

/** Parses, checks, plans and compiles; returns all errors of the first stage that had any. */
export function compile(req: CompileRequest): CompileResult {
  const modules: Module[] = [];
  const errors: RegoError[] = [];
  for (const s of req.sources) {
    const r = parseModule(s.text, s.file);
    errors.push(...r.errors);
    if (r.module) modules.push(r.module);
  }
  const fail = (): CompileResult => ({ modules, entrypoints: [], errors });
  if (errors.length > 0) return fail();
  const checked = checkModules(modules);
  errors.push(...checked.errors);
  const program = checked.program;
  if (!program || errors.length > 0) return fail();

  const targets: PlanTarget[] = [];
  const names = new Set<string>();
  const add = (t: PlanTarget) => {
    if (names.has(t.name)) return;
    names.add(t.name);
    targets.push(t);
  };
  for (const e of req.entrypoints ?? []) add({ name: e, path: entrypointPath(e) });
  if (req.annotatedEntrypoints !== false)
    for (const e of program.entrypoints) add({ name: e.name, path: e.path });
  for (const q of req.queries ?? []) {
    let body: Body | undefined;
    if (typeof q.query === 'string') {
      const parsed = parseQuery(q.query, `query:${q.name}`);
      errors.push(...parsed.errors);
      body = parsed.body;
    } else body = q.query;
    if (!body) continue;
    const cq = checkQuery(body, program, `query:${q.name}`);
    errors.push(...cq.errors);
    if (cq.query) add({ name: q.name, query: cq.query });
  }
  if (errors.length > 0) return { ...fail(), program };
  const zero = { file: '', line: 1, col: 1, offset: 0, end: 0 };
  try {
    const plan = planPolicy(program, targets, { ruleIndexing: req.ruleIndexing !== false });
    errors.push(...unsupportedBuiltins(plan));
    if (errors.length > 0) return { ...fail(), program };
    const wasm = compileToWasm(plan, { optimize: req.optimize !== false });
    return { wasm, plan, program, modules, entrypoints: targets.map((t) => t.name), errors };
  } catch (err) {
    if (err instanceof PlanError) {
      // The error's location is its own field: the message does not repeat it.
      const message = err.location ? err.detail : err.message;
      errors.push({ code: 'rego_compile_error', message, location: err.location ?? zero });
    } else if (err instanceof WasmCompileError) {
      errors.push({ code: 'rego_compile_error', message: err.message, location: zero });
    } else throw err;
    return { ...fail(), program };
  }
}

/** `a/b/p` → `["a", "b", "p"]`; also accepts `data.a.b.p`. */
export function entrypointPath(name: string): string[] {
  const trimmed = name.replace(/^data\./, '').replace(/^\//, '');
  if (trimmed === '' || trimmed === 'data') return [];
  return trimmed.includes('/') ? trimmed.split('/') : trimmed.split('.');
}

/** A call of a built-in that neither the module nor the host implements is a compile error, at each call site. */
function unsupportedBuiltins(plan: ir.Policy): RegoError[] {
  const missing = new Set(
    plan.static.builtinFuncs.map((b) => b.name).filter((n) => runsWhere(n) === undefined),
  );
  if (missing.size === 0) return [];
  const errors: RegoError[] = [];
  const visit = (stmts: readonly ir.Stmt[]): void => {
    for (const s of stmts) {
      if (s.type === 'call' && missing.has(s.func)) {
        const file = plan.static.files[s.loc.file] ?? '';
        errors.push({
          code: 'rego_type_error',
          message: `${s.func}: built-in function not supported by Airlock (see \`airlock builtins --all\`)`,
          location: { file, line: s.loc.row, col: s.loc.col, offset: 0, end: 0 },
        });
      }
      if (s.type === 'block') for (const b of s.blocks) visit(b.stmts);
      if (s.type === 'not' || s.type === 'scan' || s.type === 'with') visit(s.block.stmts);
    }
  };
  for (const p of plan.plans) for (const b of p.blocks) visit(b.stmts);
  for (const f of plan.funcs) for (const b of f.blocks) visit(b.stmts);
  return errors;
}
