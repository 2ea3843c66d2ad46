import type { Command } from 'commander';
import { formatError, type Module } from '../../rego/ast.js';
import { parseModule } from '../../rego/parse/index.js';
import {
  type CoverageReport,
  dynamicCoverage,
  runTests,
  type TestResult,
  type TestRunReport,
} from '../../rego/test-runner/index.js';
import type { CliContext } from '../main.js';
import { loadPolicyTree, type PolicyTree } from '../policy-files.js';

interface TestOptions {
  run?: string;
  verbose?: boolean;
  coverage?: boolean;
  strict?: boolean;
  optimize?: boolean;
  format: string;
}

function coverageOf(tree: PolicyTree, report: TestRunReport): CoverageReport | undefined {
  if (!report.probes) return undefined;
  const modules: Module[] = [];
  for (const s of tree.sources) {
    const m = parseModule(s.text, s.file).module;
    if (m) modules.push(m);
  }
  const texts = new Map(tree.sources.map((s) => [s.file, s.text]));
  return dynamicCoverage(report.probes.probes, report.probes.hits, modules, texts);
}

function printText(ctx: CliContext, report: TestRunReport, opts: TestOptions, cov?: CoverageReport): void {
  for (const r of report.results) {
    const pass = r.outcome === 'pass';
    const why = pass ? '' : r.outcome === 'error' ? `: error: ${r.message}` : `: ${r.message}`;
    ctx.out(`${pass ? 'PASS' : 'FAIL'} ${r.name} (${r.file}:${r.line})${why}\n`);
    if (!pass || opts.verbose) for (const line of r.output) ctx.out(`  | ${line}\n`);
  }
  if (cov) {
    ctx.out('\ncoverage (rules that produced a value in at least one selected test):\n');
    for (const f of cov.files) {
      ctx.out(`  ${f.file}: ${f.covered}/${f.rules} rules\n`);
      for (const u of f.uncovered) ctx.out(`    not covered: ${u.name} (${f.file}:${u.line})\n`);
    }
    ctx.out(`  total: ${cov.covered}/${cov.rules} rules (${cov.percent}%)\n`);
  }
  ctx.out(`${'-'.repeat(40)}\n${report.passed} passed, ${report.failed} failed\n`);
}

function jsonResult(r: TestResult) {
  return {
    name: r.name,
    location: { file: r.file, row: r.line, col: r.col },
    outcome: r.outcome,
    ...(r.message !== undefined ? { message: r.message } : {}),
    output: r.output,
    duration_ms: Math.round(r.durationMs * 1000) / 1000,
  };
}

export function registerTest(cli: Command, ctx: CliContext): void {
  cli
    .command('test')
    .description('Run Rego unit tests (rules named test_*) through the WebAssembly path production uses')
    .argument(
      '[paths...]',
      'Rego files, data files or directories (searched recursively, *_test.rego included)',
      ['policies'],
    )
    .option(
      '-r, --run <regex>',
      'only run tests whose full name (data.pkg.test_name) matches the regular expression',
    )
    .option('-v, --verbose', "print every test's print() output, passing ones too")
    .option(
      '--coverage',
      'report, per policy file, the rules that produced a value in at least one selected test, and those that never did',
    )
    .option('--strict', 'built-in errors fail the test instead of making the call undefined')
    .option('--optimize', 'run the WebAssembly optimiser on the test module, as airlock build does (slower)')
    .option('--format <format>', 'text (PASS/FAIL lines and a summary) or json', 'text')
    .addHelpText(
      'after',
      '\nA test passes when its value is true; false, undefined or an evaluation error fails it.\n' +
        'Tests see the data files under the given paths; override with `with input as …` / `with data.x as …`.\n' +
        'Failing tests always show their print() output. Exit status: 0 all passed, 1 a failure, an error,\n' +
        'or no test selected, 2 usage error.\n' +
        '\nExamples:\n  airlock test policies/\n  airlock test policies/ --run revoked -v\n',
    )
    .action(async (paths: string[], opts: TestOptions) => {
      if (opts.format !== 'text' && opts.format !== 'json') {
        ctx.err(`airlock test: --format must be text or json, not ${JSON.stringify(opts.format)}\n`);
        ctx.exitCode = 2;
        return;
      }
      let filter: RegExp | undefined;
      if (opts.run !== undefined) {
        try {
          filter = new RegExp(opts.run);
        } catch (err) {
          ctx.err(`airlock test: --run: ${(err as Error).message}\n`);
          ctx.exitCode = 2;
          return;
        }
      }
      let tree: PolicyTree;
      try {
        tree = await loadPolicyTree(paths, { includeTests: true });
      } catch (err) {
        ctx.err(`airlock test: ${(err as Error).message}\n`);
        ctx.exitCode = 2;
        return;
      }
      const report = await runTests({
        sources: tree.sources,
        data: tree.data,
        ...(filter ? { filter } : {}),
        strict: !!opts.strict,
        optimize: !!opts.optimize,
        coverage: !!opts.coverage,
      });
      const cov = opts.coverage ? coverageOf(tree, report) : undefined;
      if (opts.format === 'json') {
        const errors = report.errors.map((e) => ({
          code: e.code,
          message: e.message,
          location: { file: e.location.file, row: e.location.line, col: e.location.col },
        }));
        ctx.out(
          `${JSON.stringify(
            {
              passed: report.passed,
              failed: report.failed,
              discovered: report.discovered,
              errors,
              results: report.results.map(jsonResult),
              ...(cov ? { coverage: cov } : {}),
            },
            null,
            2,
          )}\n`,
        );
      } else if (report.errors.length > 0) {
        for (const e of report.errors) ctx.out(`${formatError(e)}\n`);
      } else {
        printText(ctx, report, opts, cov);
      }
      if (report.errors.length > 0) {
        ctx.err(`${report.errors.length} error(s): no test ran\n`);
        ctx.exitCode = 1;
        return;
      }
      if (report.results.length === 0) {
        ctx.err(
          report.discovered === 0
            ? `airlock test: no test_* rules under ${paths.join(', ')}\n`
            : `airlock test: --run ${JSON.stringify(opts.run)} matches none of the ${report.discovered} test(s)\n`,
        );
        ctx.exitCode = 1;
        return;
      }
      ctx.exitCode = report.failed > 0 ? 1 : 0;
    });
}
