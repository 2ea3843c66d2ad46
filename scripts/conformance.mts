// npm run conformance -- [DIR…] [--json FILE] [--filter REGEX] [--verbose]
// Compiles and evaluates OPA's evaluation test cases (default ../shared/conformance/opa)
// through Airlock's compiler and the stock opa-wasm SDK; prints a per-category table
// and ends with `N passed, M failed, K skipped`.
import { writeFileSync } from 'node:fs';
import { corpusDir, loadCases } from './conformance/corpus.js';
import { type CaseResult, caseIds, runCase, summarise } from './conformance/runner.js';

const args = process.argv.slice(2);
const dirs: string[] = [];
let jsonFile: string | undefined;
let filter: RegExp | undefined;
let verbose = false;
let writeKnown = false;
for (let i = 0; i < args.length; i++) {
  const a = args[i]!;
  if (a === '--json') jsonFile = args[++i];
  else if (a === '--filter') filter = new RegExp(args[++i] ?? '');
  else if (a === '--verbose' || a === '-v') verbose = true;
  else if (a === '--write-known-failures') writeKnown = true;
  else if (a === '--help' || a === '-h') {
    process.stdout.write(
      'usage: npm run conformance -- [DIR…] [--json FILE] [--filter REGEX] [--verbose] [--write-known-failures]\n' +
        'Runs OPA-format evaluation test cases (YAML) through Airlock; default DIR ../shared/conformance/opa.\n',
    );
    process.exit(0);
  } else dirs.push(a);
}
if (dirs.length === 0) {
  const d = corpusDir();
  if (!d) {
    process.stdout.write('conformance corpus not found (../shared/conformance/opa); pass a directory\n');
    process.exit(2);
  }
  dirs.push(d);
}
const results: CaseResult[] = [];
for (const dir of dirs) {
  const cases = loadCases(dir);
  const ids = caseIds(cases);
  for (const [i, c] of cases.entries()) {
    const id = ids[i]!;
    if (filter && !filter.test(id) && !filter.test(c.note)) continue;
    const r = await runCase(c, id);
    results.push(r);
    if (verbose || r.outcome === 'fail') {
      if (verbose || process.env.CONFORMANCE_SHOW_FAILURES)
        process.stdout.write(
          `${r.outcome.toUpperCase()} ${id} ${c.note}${r.reason ? `: ${r.reason}` : ''}\n`,
        );
    }
  }
}
const s = summarise(results);
const rows = [...s.byCategory].sort(([a], [b]) => a.localeCompare(b));
process.stdout.write(
  `${'category'.padEnd(36)} ${'pass'.padStart(5)} ${'fail'.padStart(5)} ${'skip'.padStart(5)}\n`,
);
for (const [cat, c] of rows) {
  process.stdout.write(
    `${cat.padEnd(36)} ${String(c.passed).padStart(5)} ${String(c.failed).padStart(5)} ${String(c.skipped).padStart(5)}\n`,
  );
}
for (const r of results.filter((x) => x.outcome === 'skip'))
  process.stdout.write(`skipped ${r.id}: ${r.reason}\n`);
if (writeKnown) {
  const lines = results
    .filter((r) => r.outcome === 'fail')
    .map((r) => `${r.id}  # ${r.note}: ${(r.reason ?? '').replace(/\s+/g, ' ').slice(0, 160)}`);
  const header =
    '# Conformance cases (../shared/conformance/opa) that do not pass yet, one id per line.\n' +
    '# test/conformance/corpus.test.ts fails when a case not listed here fails, or a listed one passes.\n' +
    '# Regenerate: npm run conformance -- --write-known-failures\n';
  writeFileSync(
    new URL('../test/conformance/known-failures.txt', import.meta.url),
    `${header}${lines.join('\n')}\n`,
  );
}
if (jsonFile) writeFileSync(jsonFile, `${JSON.stringify(results, null, 2)}\n`);
process.stdout.write(`${s.passed} passed, ${s.failed} failed, ${s.skipped} skipped\n`);
