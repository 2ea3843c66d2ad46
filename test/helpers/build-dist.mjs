// tap's `before` step (.taprc): compiles src/ into dist/ (incrementally; about 2.5 s when nothing
// changed) so that the tests which start `airlock` as a child process run the compiled CLI, as
// users do (bin/airlock.js), and not src/ through a TypeScript loader (about 6 s of start-up each).
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const started = Date.now();
const run = spawnSync(
  process.execPath,
  [tsc, '-p', 'tsconfig.build.json', '--incremental', '--tsBuildInfoFile', 'dist/.tsbuildinfo'],
  { cwd: root, stdio: 'inherit' },
);
if (run.status !== 0) {
  process.stderr.write(`build of dist/ for the child-process tests failed (tsc exit ${run.status})\n`);
  process.exit(1);
}
process.stderr.write(`dist/ compiled for the child-process tests in ${Date.now() - started} ms\n`);
