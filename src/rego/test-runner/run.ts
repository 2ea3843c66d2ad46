// Running discovered tests: one module, one entrypoint per test, evaluated one by one.
import { loadPolicy } from '@open-policy-agent/opa-wasm';
import type { RegoError } from '../ast.js';
import { evaluate, hostBuiltins } from '../builtins/host/index.js';
import { type CompileResult, compile, type Source } from '../compile.js';
import { parseModule } from '../parse/index.js';
import { compileToWasm } from '../wasm/index.js';
import { discoverTests, type TestCase } from './discover.js';
import { instrumentPlan, type Probe, probeBuiltins } from './probes.js';

export type TestOutcome = 'pass' | 'fail' | 'error';

export interface TestResult extends TestCase {
  outcome: TestOutcome;
  /** Why a test failed: `undefined`, `false`, the value it had, or the evaluation error. */
  message?: string;
  /** The test's print() output, one entry per call. */
  output: string[];
  /** Wall time of the evaluation, for display only. */
  durationMs: number;
}

export interface TestRunOptions {
  /** Rego sources, policies and tests alike. */
  sources: Source[];
  /** Base documents (merged data files). */
  data: Record<string, unknown>;
  /** Only tests whose full name (`data.pkg.test_x`) matches run. */
  filter?: RegExp;
  /** Built-in errors abort the test (an error) instead of making the call undefined. Default false, as in production. */
  strict?: boolean;
  /** Run the WebAssembly optimiser on the test module (default false: compiling is the larger cost). */
  optimize?: boolean;
  /** Instrument the module with coverage probes (see probes.ts) and report which ones fired. */
  coverage?: boolean;
}

export interface TestRunReport {
  /** Parse, check or compile errors: when present, no test ran. */
  errors: RegoError[];
  results: TestResult[];
  passed: number;
  failed: number;
  /** Tests found before --run filtering. */
  discovered: number;
  /** The compilation, for coverage (absent when nothing compiled). */
  compiled?: CompileResult;
  timings: { compileMs: number; evalMs: number };
  /** With `coverage`: the probes compiled in and the ids of those the selected tests fired. */
  probes?: { probes: Probe[]; hits: Set<number> };
}

function describeFailure(rows: unknown): string {
  const row = Array.isArray(rows) ? (rows[0] as Record<string, unknown> | undefined) : undefined;
  if (!row || !('result' in row)) return 'undefined';
  if (row.result === false) return 'false';
  return `not true: ${JSON.stringify(row.result)}`;
}

/** Discovers, compiles and runs the tests; never throws for bad policy input. */
export async function runTests(opts: TestRunOptions): Promise<TestRunReport> {
  const parseErrors: RegoError[] = [];
  const modules = [];
  for (const s of opts.sources) {
    const r = parseModule(s.text, s.file);
    parseErrors.push(...r.errors);
    if (r.module) modules.push(r.module);
  }
  const empty = (errors: RegoError[], discovered: number): TestRunReport => ({
    errors,
    results: [],
    passed: 0,
    failed: 0,
    discovered,
    timings: { compileMs: 0, evalMs: 0 },
  });
  if (parseErrors.length > 0) return empty(parseErrors, 0);
  const all = discoverTests(modules);
  const selected = opts.filter ? all.filter((t) => opts.filter?.test(t.name)) : all;

  const t0 = performance.now();
  const compiled = compile({
    sources: opts.sources,
    entrypoints: selected.map((t) => t.entrypoint),
    annotatedEntrypoints: false,
    optimize: opts.optimize ?? false,
  });
  const compileMs = performance.now() - t0;
  if (compiled.errors.length > 0 || !compiled.wasm) {
    return { ...empty(compiled.errors, all.length), timings: { compileMs, evalMs: 0 } };
  }
  if (selected.length === 0) {
    return { ...empty([], all.length), compiled, timings: { compileMs, evalMs: 0 } };
  }

  let output: string[] = [];
  let wasm = compiled.wasm;
  let extra: Record<string, () => unknown> = {};
  let probes: TestRunReport['probes'];
  if (opts.coverage && compiled.plan) {
    const inst = instrumentPlan(compiled.plan);
    wasm = compileToWasm(inst.plan, { optimize: opts.optimize ?? false });
    probes = { probes: inst.probes, hits: new Set() };
    extra = probeBuiltins(inst.names, probes.hits);
  }
  const builtins = hostBuiltins({ strict: !!opts.strict, print: (m) => output.push(m) });
  const policy = await loadPolicy(wasm, undefined, { ...builtins, ...extra });
  policy.setData(opts.data);
  const results: TestResult[] = [];
  const t1 = performance.now();
  for (const test of selected) {
    output = [];
    const start = performance.now();
    let outcome: TestOutcome;
    let message: string | undefined;
    try {
      const rows = evaluate(policy, builtins, undefined, test.entrypoint);
      const row = Array.isArray(rows) ? (rows[0] as Record<string, unknown> | undefined) : undefined;
      if (row?.result === true) outcome = 'pass';
      else {
        outcome = 'fail';
        message = describeFailure(rows);
      }
    } catch (err) {
      outcome = 'error';
      message = err instanceof Error ? err.message : String(err);
    }
    results.push({
      ...test,
      outcome,
      ...(message !== undefined ? { message } : {}),
      output,
      durationMs: performance.now() - start,
    });
  }
  const evalMs = performance.now() - t1;
  const passed = results.filter((r) => r.outcome === 'pass').length;
  return {
    errors: [],
    results,
    passed,
    failed: results.length - passed,
    discovered: all.length,
    compiled,
    timings: { compileMs, evalMs },
    ...(probes ? { probes } : {}),
  };
}
