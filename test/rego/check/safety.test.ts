import t from 'tap';
import type { Term } from '../../../src/rego/ast.js';
import { formatTerm } from '../../../src/rego/format/index.js';
import { bodyOf, check, errs, programOf } from './helpers.js';

t.test('unsafe variable in a comparison', async (t) => {
  const r = check('package test\n\np if {\n  x > 1\n}\n');
  t.same(errs(r.errors), ['rego_unsafe_var_error test-0.rego:4:3 var x is unsafe']);
  t.equal(r.program, undefined);
});

t.test('every unsafe variable is reported, once', async (t) => {
  const r = check('package test\n\np if {\n  x > y\n  x < 10\n}\n');
  t.same(errs(r.errors), [
    'rego_unsafe_var_error test-0.rego:4:3 var x is unsafe',
    'rego_unsafe_var_error test-0.rego:4:3 var y is unsafe',
  ]);
});

t.test('an expression that needs a variable moves after the one that binds it', async (t) => {
  const p = programOf('package test\n\np if {\n  y == 2\n  y = x + 1\n  x = input.a\n}\n');
  t.equal(bodyOf(p, 'data.test.p'), 'x = input.a\ny = x + 1\ny == 2');
});

t.test(':= after a use of the same name is an error, not a reordering', async (t) => {
  const r = check('package test\n\np if {\n  y == 2\n  y := 1\n}\n');
  t.same(errs(r.errors), ['rego_compile_error test-0.rego:5:3 var y referenced above']);
});

t.test('output arguments and unification bind', async (t) => {
  const p = programOf('package test\n\np if {\n  n > 1\n  count(xs, n)\n  [xs, _] = [input.xs, 1]\n}\n');
  const lines = bodyOf(p, 'data.test.p').split('\n');
  t.match(lines[0], /^\[xs, _\$\d+\] = \[input\.xs, 1\]$/);
  t.equal(lines[1], 'count(xs, n)');
  t.equal(lines[2], 'n > 1');
});

t.test('iteration over a ref binds its key variables', async (t) => {
  const p = programOf('package test\n\np contains k if {\n  v > 1\n  v = input.m[k]\n}\n');
  t.equal(bodyOf(p, 'data.test.p'), 'v = input.m[k]\nv > 1');
});

t.test('not needs every variable bound', async (t) => {
  const r = check('package test\n\nq contains 1\n\np if {\n  not q[x]\n}\n');
  t.same(errs(r.errors), ['rego_unsafe_var_error test-0.rego:6:3 var x is unsafe']);
  const p = programOf('package test\n\nq contains 1\n\np if {\n  not q[x]\n  x = 1\n}\n');
  t.equal(bodyOf(p, 'data.test.p'), 'x = 1\nnot data.test.q[x]');
});

t.test('comprehension bodies see outer bindings; the outer binding moves first', async (t) => {
  const p = programOf(
    'package test\n\np if {\n  ys := [y | some y in xs; y > 1]\n  xs = input.a\n  count(ys) > 0\n}\n',
  );
  const body = p.groups.get('data.test.p')?.rules[0]?.body ?? [];
  t.same(
    body.map((e) => (e.node.type === 'call' ? e.node.args[1]?.type : '')),
    ['ref', 'arraycomp', 'number'],
    'order: xs bound, then the comprehension, then the count',
  );
  t.equal(formatTerm(body[0]?.node as Term), 'xs = input.a');
  const comp = body[1]?.node.type === 'call' ? body[1].node.args[1] : undefined;
  t.same(
    comp?.type === 'arraycomp'
      ? comp.body.map((e) => formatTerm(e.node as Term).replace(/\$\d+/g, '$N'))
      : [],
    ['y$N = xs[_$N]', 'y$N > 1'],
  );
});

t.test('a variable used only in a comprehension must be bound inside it', async (t) => {
  const r = check('package test\n\np := [x | y := 1]\n');
  t.same(errs(r.errors), ['rego_unsafe_var_error test-0.rego:3:7 var x is unsafe']);
});

t.test('every bodies see outer bindings and their own key/value', async (t) => {
  const p = programOf('package test\n\np if {\n  every x in input.xs {\n    x > lim\n  }\n  lim = 3\n}\n');
  t.match(bodyOf(p, 'data.test.p'), /^lim = 3\nevery x\$\d+ in input\.xs \{/);
  const r = check('package test\n\np if {\n  every x in input.xs {\n    x > z\n  }\n}\n');
  t.same(errs(r.errors), ['rego_unsafe_var_error test-0.rego:5:5 var z is unsafe']);
});

t.test('with values need bound variables', async (t) => {
  const r = check('package test\n\nq := input.x\n\np if {\n  q with input.x as v\n}\n');
  t.same(errs(r.errors), ['rego_unsafe_var_error test-0.rego:6:3 var v is unsafe']);
});

t.test('rule heads must be bound by the body', async (t) => {
  const r = check('package test\n\np := x if {\n  y := 1\n}\n\nq contains z if true\n');
  t.same(errs(r.errors), [
    'rego_unsafe_var_error test-0.rego:3:1 var x is unsafe',
    'rego_unsafe_var_error test-0.rego:7:1 var z is unsafe',
  ]);
  // Function arguments are bound.
  programOf('package test\n\nf(x) := y if {\n  y := x + 1\n}\n');
});

t.test('a comprehension head that computes something is evaluated at the end of its body', async (t) => {
  const p = programOf(
    'package test\n\nkeys := {["a", "b"][_]: 1 | true}\n\nitems := [xs[_] | xs := [[1, 2]][_]]\n\nset := {f(x) | some x in [1]}\n\nf(x) := x\n',
  );
  t.ok(p.groups.get('data.test.keys'));
  const r = check('package test\n\nbad := [y | true]\n');
  t.same(errs(r.errors), ['rego_unsafe_var_error test-0.rego:3:9 var y is unsafe']);
});
