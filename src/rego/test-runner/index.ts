// Rego unit tests (`airlock test`): discovery and execution of `test_*` rules.
//
//   const report = await runTests({ sources, data, filter: /deny/ });
//   for (const r of report.results) console.log(r.outcome, `${r.file}:${r.line}`, r.name);
//
// Tests run through the production path: every test rule becomes one entrypoint
// of a single WebAssembly module compiled by `compile()`, loaded by the stock
// `@open-policy-agent/opa-wasm` SDK with the host built-ins, and evaluated with
// the tree's data. A test passes when its value is `true`; `false`, undefined
// or an evaluation error is a failure. With `coverage`, the module carries
// probes (probes.ts) that record which rules produced a value (coverage.ts).

export { type CoverageReport, dynamicCoverage, type FileCoverage, staticCoverage } from './coverage.js';
export {
  discoverTests,
  isTestRuleName,
  type TestCase,
} from './discover.js';
export { type InstrumentedPlan, instrumentPlan, type Probe } from './probes.js';
export {
  runTests,
  type TestOutcome,
  type TestResult,
  type TestRunOptions,
  type TestRunReport,
} from './run.js';
