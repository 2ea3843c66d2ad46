import t from 'tap';
import type { Module } from '../../../src/rego/ast.js';
import { parseModule } from '../../../src/rego/parse/index.js';
import {
  discoverTests,
  dynamicCoverage,
  runTests,
  staticCoverage,
} from '../../../src/rego/test-runner/index.js';

const policy = {
  file: 'p/policy.rego',
  text: `package app

import rego.v1

default allow := false

allow if input.user in data.admins

double(x) := x * 2
`,
};

const tests = {
  file: 'p/policy_test.rego',
  text: `package app_test

import rego.v1

import data.app

test_admin_allowed if app.allow with input as {"user": "alice"}

test_stranger_denied if not app.allow with input as {"user": "mallory"}

test_data_override if app.allow with input as {"user": "bob"} with data.admins as ["bob"]

test_false_value := false

test_undefined if app.allow with input as {"user": "nobody"}

test_non_boolean := 3

test_prints if {
	print("checking", 21)
	app.double(21) == 42
}

test_conflict if {
	app.f == 1 with input as {"x": 1}
}

helper_not_a_test if true

test_fn(x) if x

todo_test_later if false
`,
};

const conflict = {
  file: 'p/conflict.rego',
  text: `package app

import rego.v1

f := 1 if input.x == 1

f := 2 if true
`,
};

function modules(...sources: { file: string; text: string }[]): Module[] {
  return sources.map((s) => {
    const r = parseModule(s.text, s.file);
    if (!r.module) throw new Error(`${s.file}: ${JSON.stringify(r.errors)}`);
    return r.module;
  });
}

t.test('discovery: test_* rules only, with locations, in source order', async (t) => {
  const found = discoverTests(modules(policy, tests));
  t.same(
    found.map((x) => x.name),
    [
      'data.app_test.test_admin_allowed',
      'data.app_test.test_stranger_denied',
      'data.app_test.test_data_override',
      'data.app_test.test_false_value',
      'data.app_test.test_undefined',
      'data.app_test.test_non_boolean',
      'data.app_test.test_prints',
      'data.app_test.test_conflict',
    ],
    'functions, helpers and todo_ rules are not tests',
  );
  const first = found[0];
  t.equal(first?.file, 'p/policy_test.rego');
  t.equal(first?.line, 7);
  t.equal(first?.entrypoint, 'app_test/test_admin_allowed');
});

t.test('discovery: a test defined twice in a package is one test at its first definition', async (t) => {
  const twice = {
    file: 't.rego',
    text: 'package x\n\nimport rego.v1\n\ntest_a if true\n\ntest_a if false\n',
  };
  const found = discoverTests(modules(twice));
  t.equal(found.length, 1);
  t.equal(found[0]?.line, 5);
});

t.test('outcomes: true passes; false, undefined, other values and errors fail', async (t) => {
  const report = await runTests({
    sources: [policy, tests, conflict],
    data: { admins: ['alice'] },
  });
  t.same(report.errors, []);
  const by = Object.fromEntries(report.results.map((r) => [r.name.replace('data.app_test.', ''), r]));
  t.equal(by.test_admin_allowed?.outcome, 'pass');
  t.equal(by.test_stranger_denied?.outcome, 'pass');
  t.equal(by.test_data_override?.outcome, 'pass', 'with data.x as … replaces the tree data');
  t.equal(by.test_false_value?.outcome, 'fail');
  t.equal(by.test_false_value?.message, 'false');
  t.equal(by.test_undefined?.outcome, 'fail');
  t.equal(by.test_undefined?.message, 'undefined');
  t.equal(by.test_non_boolean?.outcome, 'fail');
  t.equal(by.test_non_boolean?.message, 'not true: 3');
  t.equal(by.test_prints?.outcome, 'pass');
  t.same(by.test_prints?.output, ['checking 21'], 'print() output is kept per test');
  t.same(by.test_admin_allowed?.output, []);
  t.equal(by.test_conflict?.outcome, 'error');
  t.match(by.test_conflict?.message, /conflict/);
  t.equal(report.passed, 4);
  t.equal(report.failed, 4);
  t.equal(report.discovered, 8);
});

t.test('the data given is what the tests see', async (t) => {
  const report = await runTests({ sources: [policy, tests, conflict], data: { admins: [] } });
  const admin = report.results.find((r) => r.name.endsWith('test_admin_allowed'));
  t.equal(admin?.outcome, 'fail');
});

t.test('filter selects by full name', async (t) => {
  const report = await runTests({
    sources: [policy, tests, conflict],
    data: { admins: ['alice'] },
    filter: /app_test\.test_(admin|stranger)/,
  });
  t.same(
    report.results.map((r) => r.name),
    ['data.app_test.test_admin_allowed', 'data.app_test.test_stranger_denied'],
  );
  t.equal(report.discovered, 8);
  t.equal(report.failed, 0);
});

t.test('strict: built-in errors become test errors', async (t) => {
  const src = {
    file: 's_test.rego',
    // `not to_number("x")`, not `not to_number("x") == 1`: as in OPA, a call nested in a
    // negated comparison is evaluated before the `not` (undefined there fails the test).
    text: 'package s\n\nimport rego.v1\n\ntest_bad_number if not to_number("x")\n\ntest_nested if not to_number("x") == 1\n',
  };
  const lax = await runTests({ sources: [src], data: {} });
  t.equal(lax.results[0]?.outcome, 'pass', 'non-strict: the call is undefined, `not` holds');
  t.equal(lax.results[1]?.outcome, 'fail', 'non-strict: the nested call is undefined before the `not`');
  const strict = await runTests({ sources: [src], data: {}, strict: true });
  t.equal(strict.results[0]?.outcome, 'error');
  t.match(strict.results[0]?.message, /to_number/);
});

t.test('compile errors are reported and no test runs', async (t) => {
  const broken = {
    file: 'b_test.rego',
    text: 'package b\n\nimport rego.v1\n\ntest_x if {\n\tundefined_fn(1)\n}\n',
  };
  const report = await runTests({ sources: [broken], data: {} });
  t.equal(report.results.length, 0);
  t.ok(report.errors.length > 0);
  t.equal(report.errors[0]?.location.file, 'b_test.rego');
  const unparsable = await runTests({
    sources: [{ file: 'u.rego', text: 'package u\n\ntest_x if {' }],
    data: {},
  });
  t.ok(unparsable.errors.length > 0);
  t.equal(unparsable.errors[0]?.code, 'rego_parse_error');
});

t.test('no tests: an empty report, still compiled', async (t) => {
  const report = await runTests({ sources: [policy], data: {} });
  t.same(report.results, []);
  t.equal(report.discovered, 0);
  t.same(report.errors, []);
});

t.test('coverage probes: same outcomes; dynamic coverage counts rules that produced a value', async (t) => {
  const sources = [policy, tests, conflict];
  const plain = await runTests({ sources, data: { admins: ['alice'] } });
  const probed = await runTests({ sources, data: { admins: ['alice'] }, coverage: true });
  t.same(
    probed.results.map((r) => [r.name, r.outcome, r.message]),
    plain.results.map((r) => [r.name, r.outcome, r.message]),
    'probes never change what the tests compute',
  );
  t.notOk(plain.probes, 'no probes unless asked');
  if (!probed.probes || !probed.compiled?.plan) throw new Error('expected probes and a plan');
  t.ok(probed.probes.probes.length > 0);
  const mods = modules(policy, conflict);
  const texts = new Map([policy, conflict].map((s) => [s.file, s.text]));
  const dyn = dynamicCoverage(probed.probes.probes, probed.probes.hits, mods, texts);
  t.equal(dyn.measure, 'dynamic');
  const policyFile = dyn.files.find((f) => f.file === 'p/policy.rego');
  // default allow, allow, double: all produce values in some test
  t.same(policyFile?.uncovered, []);
  const conflictFile = dyn.files.find((f) => f.file === 'p/conflict.rego');
  t.equal(conflictFile?.rules, 2);

  const only = await runTests({
    sources,
    data: { admins: ['alice'] },
    coverage: true,
    filter: /test_prints/,
  });
  if (!only.probes || !only.compiled?.plan) throw new Error('expected probes');
  const narrow = dynamicCoverage(only.probes.probes, only.probes.hits, mods, texts);
  t.same(
    narrow.files.find((f) => f.file === 'p/policy.rego')?.uncovered.map((u) => u.name),
    ['allow', 'allow'],
    'only double() ran',
  );
  const stat = staticCoverage(only.compiled.plan, mods, texts);
  t.equal(stat.measure, 'static');
  t.equal(
    stat.files.find((f) => f.file === 'p/policy.rego')?.covered,
    1,
    'statically, only double is referenced',
  );
});
