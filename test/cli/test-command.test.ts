import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadPolicy } from '@open-policy-agent/opa-wasm';
import t from 'tap';
import { main } from '../../src/cli/main.js';
import { hostBuiltins } from '../../src/rego/builtins/host/index.js';
import { readBundle } from '../../src/rego/bundle.js';

async function run(argv: string[]) {
  let out = '';
  let err = '';
  const code = await main(argv, { out: (s) => (out += s), err: (s) => (err += s) });
  return { code, out, err };
}

function tree(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'airlock-test-'));
  for (const [name, text] of Object.entries(files)) {
    const path = join(dir, name);
    mkdirSync(join(path, '..'), { recursive: true });
    writeFileSync(path, text);
  }
  return dir;
}

const POLICY = `package shop

import rego.v1

default allow := false

allow if input.user in data.shop.staff

discount := 10 if input.member

unused_rule if input.never
`;

const TESTS = `package shop_test

import rego.v1

import data.shop

test_staff_allowed if shop.allow with input as {"user": "sam"}

test_guest_denied if not shop.allow with input as {"user": "guest"}

test_wrong_expectation if {
	print("user is", "guest")
	shop.allow with input as {"user": "guest"}
}

test_member_discount if shop.discount == 10 with input as {"member": true}
`;

function shopTree(tests = TESTS): string {
  return tree({
    'shop/policy.rego': POLICY,
    'shop/policy_test.rego': tests,
    'shop/data.json': '{"staff": ["sam"]}',
  });
}

t.test('PASS and FAIL lines with file:line, summary, exit 1 on failure', async (t) => {
  const dir = shopTree();
  const r = await run(['test', dir]);
  t.equal(r.code, 1);
  const file = join(dir, 'shop', 'policy_test.rego');
  t.match(r.out, `PASS data.shop_test.test_staff_allowed (${file}:7)\n`);
  t.match(r.out, `PASS data.shop_test.test_guest_denied (${file}:9)\n`);
  t.match(r.out, `FAIL data.shop_test.test_wrong_expectation (${file}:11): undefined\n`);
  t.match(r.out, `PASS data.shop_test.test_member_discount (${file}:16)\n`);
  t.match(r.out, /\n3 passed, 1 failed\n$/);
  t.match(r.out, '  | user is guest\n', "a failing test's print() output is shown");
});

t.test('all passing: exit 0; --verbose shows print() output of passing tests', async (t) => {
  const passing = TESTS.replace(
    'shop.allow with input as {"user": "guest"}\n}',
    'not shop.allow with input as {"user": "guest"}\n}',
  );
  const dir = shopTree(passing);
  const quiet = await run(['test', dir]);
  t.equal(quiet.code, 0, quiet.out);
  t.match(quiet.out, /4 passed, 0 failed/);
  t.notMatch(quiet.out, 'user is guest');
  const verbose = await run(['test', '--verbose', dir]);
  t.equal(verbose.code, 0);
  t.match(verbose.out, '  | user is guest\n');
});

t.test('--run filters by full name; a filter matching nothing fails', async (t) => {
  const dir = shopTree();
  const r = await run(['test', dir, '--run', 'staff|discount']);
  t.equal(r.code, 0, 'the failing test is filtered out');
  t.match(r.out, 'test_staff_allowed');
  t.match(r.out, 'test_member_discount');
  t.notMatch(r.out, 'test_guest_denied');
  t.notMatch(r.out, 'test_wrong_expectation');
  t.match(r.out, /2 passed, 0 failed/);
  const none = await run(['test', dir, '--run', 'no_such_test']);
  t.equal(none.code, 1);
  t.match(none.err, /matches none of the 4 test\(s\)/);
  const bad = await run(['test', dir, '--run', '(']);
  t.equal(bad.code, 2);
  t.match(bad.err, /--run/);
});

t.test('a test that errors is a failure carrying the error', async (t) => {
  const dir = tree({
    'p.rego': 'package p\n\nimport rego.v1\n\nlevel := "low" if input.a\n\nlevel := "high" if input.b\n',
    'p_test.rego':
      'package p_test\n\nimport rego.v1\n\nimport data.p\n\ntest_both if p.level == "low" with input as {"a": true, "b": true}\n\ntest_one if p.level == "low" with input as {"a": true}\n',
  });
  const r = await run(['test', dir]);
  t.equal(r.code, 1);
  t.match(r.out, /FAIL data\.p_test\.test_both \(.*p_test\.rego:7\): error: .*conflict/);
  t.match(r.out, /PASS data\.p_test\.test_one/);
  t.match(r.out, /1 passed, 1 failed/);
});

t.test('--strict turns built-in errors into test errors', async (t) => {
  const dir = tree({
    'n_test.rego': 'package n\n\nimport rego.v1\n\ntest_lenient if not to_number("abc")\n',
  });
  t.equal((await run(['test', dir])).code, 0);
  const strict = await run(['test', '--strict', dir]);
  t.equal(strict.code, 1);
  t.match(strict.out, /FAIL data\.n\.test_lenient .*: error: .*to_number/);
});

t.test('compile errors: located, no test runs, exit 1', async (t) => {
  const dir = tree({ 'x_test.rego': 'package x\n\nimport rego.v1\n\ntest_a if {\n\tnot_a_function(1)\n}\n' });
  const r = await run(['test', dir]);
  t.equal(r.code, 1);
  t.match(r.out, /x_test\.rego:6:\d+: rego_\w+_error/);
  t.match(r.err, /no test ran/);
  t.notMatch(r.out, /passed/);
});

t.test('no tests found, or a missing path: failures with a reason', async (t) => {
  const dir = tree({ 'p.rego': 'package p\n\nimport rego.v1\n\nallow := true\n' });
  const none = await run(['test', dir]);
  t.equal(none.code, 1);
  t.match(none.err, /no test_\* rules/);
  const missing = await run(['test', join(dir, 'nope')]);
  t.equal(missing.code, 2);
  t.match(missing.err, /no such file or directory/);
});

t.test('--coverage lists the rules that never produced a value', async (t) => {
  const dir = shopTree();
  const r = await run(['test', dir, '--coverage']);
  const file = join(dir, 'shop', 'policy.rego');
  t.match(r.out, `${file}: 3/4 rules`);
  t.match(r.out, `not covered: unused_rule (${file}:11)`);
  t.match(r.out, 'total: 3/4 rules (75%)');
  const narrowed = await run(['test', dir, '--coverage', '--run', 'discount']);
  t.match(narrowed.out, `${file}: 1/4 rules`);
  t.match(narrowed.out, `not covered: allow (${file}:5)`);
});

t.test(
  '--coverage is dynamic: a rule a test evaluates but whose body never succeeds is not covered',
  async (t) => {
    const dir = tree({
      'p.rego':
        'package p\n\nimport rego.v1\n\nnever if {\n\tinput.x == 1\n\tinput.y == 2\n}\n\nsome_value := 1\n',
      'p_test.rego':
        'package p_test\n\nimport rego.v1\n\nimport data.p\n\ntest_never if not p.never with input as {"x": 1}\n\ntest_value if p.some_value == 1\n',
    });
    const r = await run(['test', dir, '--coverage']);
    t.equal(r.code, 0, r.out);
    t.match(r.out, `${join(dir, 'p.rego')}: 1/2 rules`);
    t.match(r.out, `not covered: never (${join(dir, 'p.rego')}:5)`);
  },
);

t.test(
  '--format json: results with locations, outcomes and output; --optimize gives the same outcomes',
  async (t) => {
    const dir = shopTree();
    const r = await run(['test', dir, '--format', 'json']);
    t.equal(r.code, 1);
    const doc = JSON.parse(r.out);
    t.equal(doc.passed, 3);
    t.equal(doc.failed, 1);
    t.same(doc.errors, []);
    const failing = doc.results.find(
      (x: { name: string }) => x.name === 'data.shop_test.test_wrong_expectation',
    );
    t.match(failing, {
      location: { file: join(dir, 'shop', 'policy_test.rego'), row: 11, col: 1 },
      outcome: 'fail',
      message: 'undefined',
      output: ['user is guest'],
    });
    const optimized = JSON.parse((await run(['test', dir, '--format', 'json', '--optimize'])).out);
    t.same(
      optimized.results.map((x: { name: string; outcome: string }) => [x.name, x.outcome]),
      doc.results.map((x: { name: string; outcome: string }) => [x.name, x.outcome]),
    );
    const bad = await run(['test', dir, '--format', 'yaml']);
    t.equal(bad.code, 2);
    const broken = tree({ 'x_test.rego': 'package x\n\ntest_a if {' });
    const errs = JSON.parse((await run(['test', broken, '--format', 'json'])).out);
    t.equal(errs.errors[0].code, 'rego_parse_error');
    t.same(errs.results, []);
  },
);

t.test('the reference policies: every test passes and the bundle builds and decides', async (t) => {
  const r = await run(['test', 'policies']);
  t.equal(
    r.code,
    0,
    r.out
      .split('\n')
      .filter((l) => l.startsWith('FAIL'))
      .join('\n'),
  );
  const summary = /(\d+) passed, 0 failed/.exec(r.out);
  t.ok(summary && Number(summary[1]) >= 100, `${summary?.[1]} reference tests`);
  for (const suite of [
    'decision_test',
    'admin_test',
    'approve_test',
    'system_authz_test',
    'http_test',
    'identity_test',
    'access_test',
    'pii_test',
    'sql_test',
    'models_test',
    'approval_test',
    'match_test',
    'console_test',
  ])
    t.match(r.out, `PASS data.airlock.${suite}.`, `${suite} ran`);

  const out = join(mkdtempSync(join(tmpdir(), 'airlock-ref-')), 'airlock.tar.gz');
  const built = await run(['build', 'policies', '-o', out]);
  t.equal(built.code, 0, built.out + built.err);
  const bundle = await readBundle(readFileSync(out));
  t.same((bundle.manifest.wasm ?? []).map((w) => w.entrypoint).sort(), [
    'airlock/admin',
    'airlock/approve',
    'airlock/console',
    'airlock/decision',
    'airlock/http',
    'airlock/system/authz',
  ]);
  t.notOk(bundle.manifest.roots?.includes('revocations'), 'revocations stay writable through the Data API');
  t.ok(bundle.wasm, 'the bundle carries policy.wasm');

  const policy = await loadPolicy(bundle.wasm as Uint8Array, undefined, hostBuiltins({ strict: false }));
  policy.setData(bundle.data);
  const input = JSON.parse(readFileSync('test/fixtures/decision-input.json', 'utf8'));
  const decide = (i: unknown) =>
    (policy.evaluate(i, 'airlock/decision') as { result: Record<string, unknown> }[])[0]?.result;
  const allowed = decide(input);
  t.equal(allowed?.effect, 'allow', JSON.stringify(allowed));
  t.same(allowed?.credentials, {
    mode: 'on_behalf_of',
    audience: 'https://api.github.example',
    scopes: ['repo:read', 'issues:write'],
  });
  policy.setData({ ...bundle.data, revocations: { users: ['alice'] } });
  t.same(
    decide(input),
    { effect: 'deny', reasons: ['user alice is revoked'] },
    'a revocation in data denies',
  );
});
