import t from 'tap';
import type { Term } from '../../../src/rego/ast.js';
import { formatBody, formatTerm } from '../../../src/rego/format/index.js';
import { bodyOf, check, errs, partsOf, programOf, query, violations } from './helpers.js';

t.test('rules of the package and import aliases become full refs', async (t) => {
  const p = programOf(
    'package app.authz\n\nimport data.lib.helpers as h\nimport input.user\n\nallow if {\n  h.is_admin(user)\n  q[input.tool]\n  x := input\n}\n\nq contains "read"\n',
    'package lib.helpers\n\nis_admin(u) if u.role == "admin"\n',
  );
  t.equal(
    bodyOf(p, 'data.app.authz.allow'),
    'data.lib.helpers.is_admin(input.user)\ndata.app.authz.q[input.tool]\nx$1 = input',
  );
  t.same([...(p.dependencies.get('data.app.authz.allow') ?? [])].sort(), [
    'data.app.authz.q',
    'data.lib.helpers.is_admin',
  ]);
});

t.test('locals shadow rules; wildcards and locals get unique names', async (t) => {
  const p = programOf('package x\n\nq := 1\n\np if {\n  q := 2\n  _ = input.a\n  _ = input.b\n  q > 1\n}\n');
  const lines = bodyOf(p, 'data.x.p').split('\n');
  t.equal(lines[0], 'q$1 = 2');
  const w1 = /^(_\$\d+) = input\.a$/.exec(lines[1] ?? '')?.[1];
  const w2 = /^(_\$\d+) = input\.b$/.exec(lines[2] ?? '')?.[1];
  t.ok(w1 && w2 && w1 !== w2, 'two distinct wildcards');
  t.equal(lines[3], 'q$1 > 1');
  t.equal(p.localNames.get('q$1'), 'q');
  t.same(p.dependencies.get('data.x.p'), new Set());
});

t.test('some-in becomes unification with a ref', async (t) => {
  const p = programOf(
    'package x\n\np contains [k, v] if {\n  some k, v in input.m\n}\n\nq contains v if {\n  some v in [1, 2]\n}\n',
  );
  t.equal(bodyOf(p, 'data.x.p'), 'v$2 = input.m[k$1]');
  t.match(bodyOf(p, 'data.x.q'), /^v\$\d+ = \[1, 2\]\[_\$\d+\]$/);
  const g = p.groups.get('data.x.p');
  t.equal(formatTerm(g?.rules[0]?.key as Term), '[k$1, v$2]');
});

t.test('groups: kinds, ref heads, defaults, else chains', async (t) => {
  const p = programOf(
    [
      'package x',
      '',
      'default allow := false',
      'allow if input.ok',
      'tools.read contains t if some t in input.tools',
      'ms[m.z] := m if m := input.xs[_]',
      'f(a) := 1 if a > 1',
      'else := 2 if a > 0',
      'else := 3',
      'f(a) := 4 if a < 0',
      '',
    ].join('\n'),
  );
  const g = (n: string) => p.groups.get(n);
  t.equal(g('data.x.allow')?.kind, 'complete');
  t.ok(g('data.x.allow')?.default);
  t.equal(formatTerm(g('data.x.allow')?.default?.value as Term), 'false');
  t.equal(formatTerm(g('data.x.allow')?.rules[0]?.value as Term), 'true');
  t.equal(g('data.x.tools.read')?.kind, 'multi-value');
  t.same(g('data.x.tools.read')?.path, ['x', 'tools', 'read']);
  t.equal(g('data.x.ms')?.kind, 'partial-object');
  // Head terms that evaluate something are computed in the body.
  const ms = g('data.x.ms')?.rules[0];
  const key = formatTerm(ms?.suffix[0] as Term);
  t.match(key, /^_\$\d+$/);
  t.ok(
    ms?.body.some(
      (e) =>
        /^(_\$\d+) = m\$\d+\.z$/.test(formatTerm(e.node as Term)) &&
        formatTerm(e.node as Term).startsWith(key),
    ),
  );
  t.equal(g('data.x.f')?.kind, 'function');
  t.equal(g('data.x.f')?.arity, 1);
  t.equal(g('data.x.f')?.rules.length, 2);
  t.same(
    g('data.x.f')?.rules[0]?.else.map((e) => formatTerm(e.value)),
    ['2', '3'],
  );
  t.same([...p.groups.keys()], ['data.x.allow', 'data.x.tools.read', 'data.x.ms', 'data.x.f']);
});

t.test('entrypoints from METADATA', async (t) => {
  const p = programOf(
    [
      'package airlock',
      '',
      '# METADATA',
      '# entrypoint: true',
      'decision := {"effect": "allow"}',
      '',
      'helper := 1',
      '',
    ].join('\n'),
  );
  t.same(
    p.entrypoints.map((e) => e.name),
    ['airlock/decision'],
  );
});

t.test('queries: bindings keep their names; unsafe queries are errors', async (t) => {
  const p = programOf('package test\n\np := 7\n\nf(x) := x + 1\n');
  const q = query('data.test.p = x; y := data.test.f(x); z = [a | a := 1]', p);
  t.same(errs(q.errors), []);
  t.same(
    q.query?.bindings.map((b) => b.name),
    ['x', 'y', 'z'],
  );
  const y = q.query?.bindings.find((b) => b.name === 'y');
  t.match(y?.var, /^y\$\d+$/);
  t.same([...(q.query?.dependencies ?? [])].sort(), ['data.test.f', 'data.test.p']);
  const bad = query('x > 1', p);
  t.same(errs(bad.errors), ['rego_unsafe_var_error query:1:1 var x is unsafe']);
  const undef = query('data.test.g(1)', p);
  t.same(errs(undef.errors), ['rego_type_error query:1:1 undefined function data.test.g']);
});

t.test('print keeps its arguments (the planner prints undefined ones); they must be bound', async (t) => {
  const p = programOf('package x\n\np if {\n  print("x is", x)\n  x = 1\n}\n');
  t.equal(bodyOf(p, 'data.x.p'), 'x = 1\nprint("x is", x)');
  const r = check('package x\n\np if print(y)\n');
  t.same(errs(r.errors), ['rego_unsafe_var_error test-0.rego:3:6 var y is unsafe']);
  t.same(violations(partsOf(p).bodies, partsOf(p).heads), []);
});

t.test('head terms that compute are moved into the body', async (t) => {
  const p = programOf('package x\n\nf(a) := a + 1\n\nq := [y | y := input.xs[_]]\n\nr := 3\n');
  const f = p.groups.get('data.x.f')?.rules[0];
  t.match(formatTerm(f?.value as Term), /^_\$\d+$/);
  t.match(formatBody(f?.body ?? []), /^_\$\d+ = a \+ 1$/);
  t.match(formatTerm(p.groups.get('data.x.q')?.rules[0]?.value as Term), /^_\$\d+$/);
  t.equal(formatTerm(p.groups.get('data.x.r')?.rules[0]?.value as Term), '3');
  t.equal(p.groups.get('data.x.r')?.rules[0]?.body.length, 0);
});

t.test('with: built-in and function mocks, data and input targets', async (t) => {
  const p = programOf(
    'package x\n\nmock(_) := 5\n\nq := count(input.xs)\n\np if {\n  q == 5 with count as mock\n  q == 2 with count as object.union_n with input.xs as [1]\n}\n',
  );
  const body = p.groups.get('data.x.p')?.rules[0]?.body ?? [];
  t.equal(formatTerm(body[0]?.with[0]?.value as Term), 'data.x.mock');
  t.equal(formatTerm(body[1]?.with[0]?.value as Term), 'object.union_n');
  t.same([...(p.dependencies.get('data.x.p') ?? [])].sort(), ['data.x.mock', 'data.x.q']);
});

t.test('dependencies follow dynamic refs only where a rule path can match', async (t) => {
  const p = programOf(
    'package test\n\np := data[2]\n\nq := data[k].allow if k := "primary"\n',
    'package primary\n\nallow := true\n\ndeny := false\n',
  );
  t.same([...(p.dependencies.get('data.test.p') ?? [])], []);
  t.same([...(p.dependencies.get('data.test.q') ?? [])], ['data.primary.allow']);
});

t.test('imports of rego.v1 and future keywords are accepted and bind nothing', async (t) => {
  const p = programOf('package x\n\nimport rego.v1\nimport future.keywords.in\n\np if 1 in [1]\n');
  t.equal(bodyOf(p, 'data.x.p'), '1 in [1]');
});
