// ci/policy-ci.sh orchestrates four CLI steps; these tests give it a stand-in
// CLI (AIRLOCK=…) that records its arguments and fails the steps it is told to,
// so the script's own logic is checked quickly. The real CLI steps are covered
// by test/cli/*.test.ts.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import t from 'tap';

const SCRIPT = resolve('ci/policy-ci.sh');

function fakeCli(dir: string): string {
  const path = join(dir, 'fake-airlock');
  writeFileSync(
    path,
    '#!/usr/bin/env bash\necho "$*" >> "$FAKE_LOG"\nfor s in $FAKE_FAIL; do [[ "$1" == "$s" ]] && { echo "$1 broke" >&2; exit 1; }; done\nexit 0\n',
  );
  chmodSync(path, 0o755);
  return path;
}

function runCi(args: string[], fail = '', extraEnv: Record<string, string> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'airlock-ci-'));
  const log = join(dir, 'calls.log');
  writeFileSync(log, '');
  const r = spawnSync('bash', [SCRIPT, ...args], {
    cwd: dir,
    encoding: 'utf8',
    env: {
      ...process.env,
      AIRLOCK: fakeCli(dir),
      FAKE_LOG: log,
      FAKE_FAIL: fail,
      AIRLOCK_REVISION: 'rev-1',
      ...extraEnv,
    },
  });
  return {
    code: r.status,
    out: r.stdout,
    err: r.stderr,
    calls: readFileSync(log, 'utf8').trim().split('\n'),
    dir,
  };
}

t.test('all steps pass: check, fmt --check, test, build in order, exit 0', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'airlock-ci-pol-'));
  const r = runCi([dir, join(dir, 'out.tar.gz')]);
  t.equal(r.code, 0, r.err);
  t.same(r.calls, [
    `check ${dir}`,
    `fmt --check ${dir}`,
    `test ${dir}`,
    `build ${dir} -o ${join(dir, 'out.tar.gz')} --revision rev-1`,
  ]);
  t.match(r.out, /passed: check fmt test build; failed: none/);
});

t.test('a failing step fails the run; later checks still run; build is skipped', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'airlock-ci-pol-'));
  const r = runCi([dir], 'fmt');
  t.equal(r.code, 1);
  t.same(r.calls, [`check ${dir}`, `fmt --check ${dir}`, `test ${dir}`]);
  t.match(r.err, /fmt FAILED/);
  t.match(r.err, /build skipped/);
  t.match(r.out, /failed: fmt build \(skipped\)/);
});

t.test('a failing build fails the run', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'airlock-ci-pol-'));
  const r = runCi([dir], 'build');
  t.equal(r.code, 1);
  t.equal(r.calls.length, 4);
  t.match(r.out, /failed: build$/m);
});

t.test('defaults: policies/ and bundles/airlock.tar.gz; extra test arguments', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'airlock-ci-cwd-'));
  const policies = join(dir, 'policies');
  mkdirSync(policies);
  const r = spawnSync('bash', [SCRIPT], {
    cwd: dir,
    encoding: 'utf8',
    env: {
      ...process.env,
      AIRLOCK: fakeCli(dir),
      FAKE_LOG: join(dir, 'log'),
      FAKE_FAIL: '',
      AIRLOCK_REVISION: 'r2',
      AIRLOCK_TEST_ARGS: '--coverage --run deny',
    },
  });
  t.equal(r.status, 0, r.stderr);
  t.same(readFileSync(join(dir, 'log'), 'utf8').trim().split('\n'), [
    'check policies',
    'fmt --check policies',
    'test policies --coverage --run deny',
    'build policies -o bundles/airlock.tar.gz --revision r2',
  ]);
});

t.test('usage errors: a missing directory, too many arguments', async (t) => {
  const missing = runCi(['/nonexistent/policies']);
  t.equal(missing.code, 2);
  t.match(missing.err, /is not a directory/);
  t.same(missing.calls, [''], 'no step ran');
  const many = runCi(['a', 'b', 'c']);
  t.equal(many.code, 2);
});
