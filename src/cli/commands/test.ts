import type { Command } from 'commander';
import { formatError, type Module } from '../../rego/ast.js';
import { parseModule } from '../../rego/parse/index.js';
import { runTests, staticCoverage, type TestResult } from '../../rego/test-runner/index.js';
import type { CliContext } from '../main.js';
import { loadPolicyTree } from '../policy-files.js';

interface TestOptions {
  run?: string;
  verbose?: boolean;
  coverage?: boolean;
  strict?: boolean;
}

function location(r: TestResult): string {
  return `${r.file}:${r.line}`;
}

export function registerTest(cli: Command, ctx: CliContext): void {
  cli
    .command('test')
    .description('Run Rego unit tests (rules named test_*) through the WebAssembly path production uses')
    .argument('[paths...]', 'Rego files, data files or directories (searched recursively, *_test.rego included)', [
      'policies',
    ])
    .option('-r, --run <regex>', 'only run tests whose full name (data.pkg.test_name) matches the regular expression')
    .option('-v, --verbose', "print every test's print() output, passing ones too")
    .option(
      '--coverage',
      'report, per policy file, the rules the selected tests compile in (static: referenced, not necessarily evaluated)',
    )
    .option('--strict', 'built-in errors fail the test instead of making the call undefined')
    .addHelpText(
      'after',
      '\nA test passes when its value is true; false, undefined or an evaluation error fails it.\n' +
        'Tests see the data files under the given paths; override with `with input as …` / `with data.x as …`.\n' +
        "Failing tests always show their print() output. Exit status: 0 all passed, 1 a failure, an error,\n" +
        'or no test selected, 2 usage error.\n' +
        '\nExamples:\n  airlock test policies/\n  airlock test policies/ --run revoked -v\n',
    )
    .action(async (paths: string[], opts: TestOptions) => {
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
      let tree: Awaited<ReturnType<typeof loadPolicyTree>>;
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
      });
      if (report.errors.length > 0) {
        for (const e of report.errors) ctx.out(`${formatError(e)}\n`);
        ctx.err(`${report.errors.length} error(s): no test ran\n`);
        ctx.exitCode = 1;
        return;
      }
      for (const r of report.results) {
        const pass = r.outcome === 'pass';
        const why = pass ? '' : r.outcome === 'error' ? `: error: ${r.message}` : `: ${r.message}`;
        ctx.out(`${pass ? 'PASS' : 'FAIL'} ${r.name} (${location(r)})${why}\n`);
        if (!pass || opts.verbose) for (const line of r.output) ctx.out(`  | ${line}\n`);
      }
      if (opts.coverage && report.compiled?.plan) {
        const modules: Module[] = [];
        for (const s of tree.sources) {
          const m = parseModule(s.text, s.file).module;
          if (m) modules.push(m);
        }
        const texts = new Map(tree.sources.map((s) => [s.file, s.text]));
        const cov = staticCoverage(report.compiled.plan, modules, texts);
        ctx.out('\ncoverage (rules referenced by the selected tests):\n');
        for (const f of cov.files) {
          ctx.out(`  ${f.file}: ${f.covered}/${f.rules} rules\n`);
          for (const u of f.uncovered) ctx.out(`    not covered: ${u.name} (${f.file}:${u.line})\n`);
        }
        ctx.out(`  total: ${cov.covered}/${cov.rules} rules (${cov.percent}%)\n`);
      }
      ctx.out(`${'-'.repeat(40)}\n${report.passed} passed, ${report.failed} failed\n`);
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
