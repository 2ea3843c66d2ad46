import t from 'tap';
import { checkModules } from '../../../src/rego/check/index.js';
import { formatBody } from '../../../src/rego/format/index.js';
import { check, errs, parse } from './helpers.js';

t.test('recursion between rules', async (t) => {
  const r = check('package x\n\np if q\n\nq if p\n\nr if not r\n');
  t.same(errs(r.errors), [
    'rego_recursion_error test-0.rego:3:1 rule data.x.p is recursive: data.x.p -> data.x.q -> data.x.p',
    'rego_recursion_error test-0.rego:5:1 rule data.x.q is recursive: data.x.q -> data.x.p -> data.x.q',
    'rego_recursion_error test-0.rego:7:1 rule data.x.r is recursive: data.x.r -> data.x.r',
  ]);
});

t.test('recursion through a function and through a prefix of the package', async (t) => {
  const r = check('package x\n\nf(a) := b if b := g(a)\n\ng(a) := f(a)\n\nall_docs := data.x\n');
  t.same(errs(r.errors), [
    'rego_recursion_error test-0.rego:3:1 rule data.x.f is recursive: data.x.f -> data.x.g -> data.x.f',
    'rego_recursion_error test-0.rego:5:1 rule data.x.g is recursive: data.x.g -> data.x.f -> data.x.g',
    'rego_recursion_error test-0.rego:7:1 rule data.x.all_docs is recursive: data.x.all_docs -> data.x.all_docs',
  ]);
});

t.test('undefined functions and wrong arity', async (t) => {
  const r = check(
    'package x\n\nf(a) := a\n\np if {\n  foo(1)\n  count(input.a, 1, 2)\n  f(1, 2, 3)\n  x := f()\n  y := count(input.a, 1)\n}\n',
  );
  t.same(
    errs(r.errors).map((e) => e.split('\n')[0]),
    [
      'rego_type_error test-0.rego:6:3 undefined function foo',
      'rego_type_error test-0.rego:7:3 count: arity mismatch',
      'rego_type_error test-0.rego:8:3 function data.x.f has arity 1, got 3 arguments',
      'rego_type_error test-0.rego:9:8 function data.x.f has arity 1, got 0 arguments',
      'rego_type_error test-0.rego:10:8 count: arity mismatch',
    ],
  );
  t.match(
    r.errors[1]?.message,
    /\n\thave: \(any, number, number\)\n\twant: \(any<string, array\[any\], object\[any: any\], set\[any\]>\)/,
  );
});

t.test('one extra output argument is allowed at the top of an expression', async (t) => {
  const r = check('package x\n\nf(a) := a\n\np if {\n  count(input.a, n)\n  f(n, m)\n  m > 0\n}\n');
  t.same(errs(r.errors), []);
  t.ok(r.program);
});

t.test('constant arguments of the wrong type', async (t) => {
  const r = check(
    'package x\n\np if {\n  count(1)\n  x := upper([1])\n  y := concat(",", {"a"})\n  z := "a" + 1\n}\n',
  );
  t.same(
    errs(r.errors).map((e) => e.split('\n')[0]),
    [
      'rego_type_error test-0.rego:4:3 count: invalid argument(s)',
      'rego_type_error test-0.rego:5:8 upper: invalid argument(s)',
      'rego_type_error test-0.rego:7:8 plus: invalid argument(s)',
    ],
  );
  t.match(r.errors[0]?.message, /have: \(number\)/);
});

t.test('networked built-ins are refused', async (t) => {
  const r = check(
    'package x\n\np := http.send({"method": "get", "url": "http://x"})\n\nq := net.lookup_ip_addr("a.example")\n',
  );
  t.same(errs(r.errors), [
    "rego_compile_error test-0.rego:3:6 http.send is not supported: networked built-ins are refused by Airlock's compiler",
    "rego_compile_error test-0.rego:5:6 net.lookup_ip_addr is not supported: networked built-ins are refused by Airlock's compiler",
  ]);
});

t.test(':= redeclarations and assignments to input/data', async (t) => {
  const r = check(
    'package x\n\np if {\n  x := 1\n  x := 2\n}\n\nq if {\n  y = 1\n  y := 2\n}\n\nr if {\n  input := 1\n}\n\ns if {\n  input.a := 1\n}\n',
  );
  t.same(errs(r.errors), [
    'rego_compile_error test-0.rego:5:3 var x assigned above',
    'rego_compile_error test-0.rego:10:3 var y referenced above',
    'rego_compile_error test-0.rego:14:3 variables must not shadow input (use a different variable name)',
    'rego_compile_error test-0.rego:18:3 cannot assign to ref',
  ]);
});

t.test(':= assigns to variables, arrays and objects of them only', async (t) => {
  const r = check(
    [
      'package x',
      '',
      'p if {',
      '  1 := v',
      '  v = 1',
      '}',
      '',
      'q if {',
      '  [a, "two"] := [1, "two"]',
      '  {"k": true} := {"k": a}',
      '  null := n',
      '  n = null',
      '  count([]) := 0',
      '  {1} := set()',
      '  [1 | true] := [1]',
      '  {"k": a | true} := {}',
      '}',
      '',
      'ok if {',
      '  [_, b] := [1, 2]',
      '  {"k": c} := {"k": b}',
      '  c == 2',
      '}',
    ].join('\n'),
  );
  t.same(errs(r.errors), [
    'rego_compile_error test-0.rego:4:3 cannot assign to number',
    'rego_compile_error test-0.rego:9:7 cannot assign to string',
    'rego_compile_error test-0.rego:10:9 cannot assign to boolean',
    'rego_compile_error test-0.rego:11:3 cannot assign to null',
    'rego_compile_error test-0.rego:13:3 cannot assign to call',
    'rego_compile_error test-0.rego:14:3 cannot assign to set',
    'rego_compile_error test-0.rego:15:3 cannot assign to arraycomprehension',
    'rego_compile_error test-0.rego:16:3 cannot assign to objectcomprehension',
  ]);
});

t.test('a name is introduced once per body: OPA words the second time after the first', async (t) => {
  const r = check(
    [
      'package x',
      '',
      'used_then_some_in if {',
      '  v = 0',
      '  some v in [1, 2]',
      '}',
      '',
      'used_then_some if {',
      '  w = 0',
      '  some w',
      '}',
      '',
      'assigned_then_some if {',
      '  a := 1',
      '  some a in [1]',
      '}',
      '',
      'some_then_assigned if {',
      '  some b in [1]',
      '  b := 1',
      '}',
      '',
      'f(arg) := y if {',
      '  arg := 1',
      '  y := 2',
      '}',
      '',
      'g(arg) if {',
      '  some arg in [1]',
      '}',
      '',
      'negated if {',
      '  not z := 1',
      '}',
      '',
      'closures_are_new_scopes if {',
      '  k := 1',
      '  ks := [k | some k in [2]]',
      '  every k in [3] { k > 0 }',
      '}',
    ].join('\n'),
  );
  t.same(errs(r.errors), [
    'rego_compile_error test-0.rego:5:3 var v referenced above',
    'rego_compile_error test-0.rego:10:3 var w referenced above',
    'rego_compile_error test-0.rego:15:3 var a assigned above',
    'rego_compile_error test-0.rego:20:3 var b declared above',
    'rego_compile_error test-0.rego:24:3 arg arg redeclared',
    'rego_compile_error test-0.rego:29:3 arg arg redeclared',
    'rego_compile_error test-0.rego:33:3 cannot assign vars inside negated expression',
  ]);
});

t.test(':= in a closure declares a new variable that shadows the outer one', async (t) => {
  const r = check('package x\n\np if {\n  x := 1\n  ys := [x | x := 2]\n}\n');
  t.same(errs(r.errors), []);
  const body = r.program?.groups.get('data.x.p')?.rules[0]?.body;
  const comp = body?.[1]?.node;
  const inner = comp?.type === 'call' && comp.args[1]?.type === 'arraycomp' ? comp.args[1] : undefined;
  t.ok(inner, 'second expression assigns a comprehension');
  t.not(inner?.term.type === 'var' && inner.term.name, 'x$1', 'inner x is not the outer x');
  t.match(inner?.term.type === 'var' ? inner.term.name : '', /^x\$\d+$/);
});

t.test('conflicting rule kinds, arities and defaults', async (t) => {
  const r = check(
    'package x\n\np := 1\n\np contains 2\n\nf(a) := 1\n\nf(a, b) := 2\n\ndefault q := 1\n\ndefault q := 2\n\nq := 3\n',
  );
  t.same(errs(r.errors), [
    'rego_type_error test-0.rego:3:1 conflicting rules data.x.p found',
    'rego_type_error test-0.rego:7:1 conflicting rules data.x.f found',
    'rego_type_error test-0.rego:11:1 multiple default rules data.x.q found at test-0.rego:11, test-0.rego:13',
  ]);
});

t.test('rules under a complete rule, and packages inside rules', async (t) => {
  const r = check('package x\n\np := 1\n\np.q := 2\n', 'package x.p.r\n\ns := 1\n');
  t.same(errs(r.errors), [
    'rego_type_error test-0.rego:3:1 rule data.x.p conflicts with [data.x.p.q data.x.p.r.s]',
    'rego_type_error test-1.rego:1:1 package x.p.r conflicts with rule p defined at test-0.rego:3',
  ]);
});

t.test(
  'conflicts name the last rule with its dynamic keys; packages may live inside dynamic rules',
  async (t) => {
    const r = check(
      'package x\n\np := 1\n\np[k] := 2 if k := "a"\n\nq[k] := 1 if k := "b"\n',
      'package x.q.r\n\ns := 1\n',
    );
    t.same(errs(r.errors), ['rego_type_error test-0.rego:3:1 conflicting rules data.x.p[k] found']);
  },
);

t.test('dynamic function names are undefined functions', async (t) => {
  const r = check('package x\n\np if {\n  k := "f"\n  data.y[k](1)\n}\n');
  t.same(errs(r.errors), ['rego_type_error test-0.rego:5:3 undefined function data.y[k]']);
});

t.test('imports: duplicates, shadowing by rules, unknown roots', async (t) => {
  const r = check(
    'package x\n\nimport data.a.b\nimport data.c.b\nimport data.lib.helpers as h\n\nh := 1\n\np := b\n',
  );
  t.same(errs(r.errors), [
    'rego_compile_error test-0.rego:4:1 import must not shadow import data.a.b',
    'rego_compile_error test-0.rego:7:1 rule h shadows import data.lib.helpers',
  ]);
});

t.test('with targets must be input, data or a function', async (t) => {
  const r = check(
    'package x\n\nf(a) := a\n\nq := input.a\n\np if {\n  q with input.a as 1\n  q with data.y as 1\n  q with count as f\n  q with f as count\n  q with foo as 1\n}\n',
  );
  t.same(errs(r.errors), [
    'rego_type_error test-0.rego:12:5 with keyword target must reference existing input, data, or a function',
  ]);
});

t.test('with replaces a rule whole: no target strictly below a rule, in any spelling', async (t) => {
  const r = check(
    [
      'package x',
      '',
      'cfg := {"a": 1}',
      '',
      'set contains 1',
      '',
      'p if {',
      '  cfg with data.x.cfg.a as 2',
      '  cfg with cfg.a as 2',
      '  set with data.x.set[1] as true',
      '  cfg with data.x.cfg as {}',
      '  cfg with data.x as {}',
      '  cfg with data.other.deep as 1',
      '}',
    ].join('\n'),
  );
  t.same(errs(r.errors), [
    'rego_compile_error test-0.rego:8:12 with keyword cannot partially replace virtual document(s)',
    'rego_compile_error test-0.rego:9:12 with keyword cannot partially replace virtual document(s)',
    'rego_compile_error test-0.rego:10:12 with keyword cannot partially replace virtual document(s)',
  ]);
});

t.test('with cannot replace relations, void built-ins, unification or internal functions', async (t) => {
  const r = check(
    [
      'package x',
      '',
      'p if {',
      '  true with walk as 1',
      '  true with print as 1',
      '  true with eq as 1',
      '  true with rego.metadata.rule as 1',
      '  true with internal.print as 1',
      '  true with count as 1',
      '}',
    ].join('\n'),
  );
  t.same(errs(r.errors), [
    'rego_compile_error test-0.rego:4:8 with keyword replacing built-in function: target must not be a relation',
    'rego_compile_error test-0.rego:5:8 with keyword replacing built-in function: target must not be a void function',
    'rego_compile_error test-0.rego:6:8 with keyword replacing built-in function: replacement of "eq" invalid',
    'rego_compile_error test-0.rego:7:8 with keyword replacing built-in function: replacement of "rego.metadata.rule" invalid',
    'rego_compile_error test-0.rego:8:8 with keyword replacing built-in function: replacement of internal function "internal.print" invalid',
  ]);
});

t.test('all errors are collected', async (t) => {
  const r = check('package x\n\np if x > 1\n\nq if foo(1)\n\nr if r\n');
  t.same(
    r.errors.map((e) => e.code),
    ['rego_unsafe_var_error', 'rego_type_error', 'rego_recursion_error'],
  );
});

t.test('deprecated built-ins and void built-ins used as values', async (t) => {
  const r = check('package x\n\np if re_match("a", "b")\n\nq := print(1)\n');
  t.same(errs(r.errors), [
    'rego_type_error test-0.rego:3:6 deprecated built-in function calls in expression: re_match',
    'rego_type_error test-0.rego:5:6 print used as value: it has no result',
  ]);
});

t.test('some declares a variable that must still be bound', async (t) => {
  const r = check('package x\n\np if {\n  some x\n  x == 1\n}\n\nq if {\n  some y\n  y = 1\n}\n');
  t.same(errs(r.errors), ['rego_unsafe_var_error test-0.rego:5:3 var x is unsafe']);
});

t.test('locals declared with := carry the kind of their value into later calls', async (t) => {
  const r = check(
    'package x\n\np if {\n  x := 1\n  count(x) > 0\n  n := count(input.xs)\n  upper(n) == "A"\n  s := sprintf("%v", [n])\n  count(s) > 0\n  y := input.y\n  count(y) > 0\n}\n',
  );
  t.same(
    errs(r.errors).map((e) => e.split('\n')[0]),
    [
      'rego_type_error test-0.rego:5:3 count: invalid argument(s)',
      'rego_type_error test-0.rego:7:3 upper: invalid argument(s)',
    ],
  );
});

t.test('default rules: variables in the head ref, and defaults of another kind', async (t) => {
  const r = check(
    'package x\n\ndefault p[k] := 1\n\ndefault q := 1\n\nq contains 2\n\ndefault f(_) := 1\n\nf(a, b) := a\n',
  );
  t.same(errs(r.errors), [
    'rego_compile_error test-0.rego:3:1 default rule data.x.p: head ref cannot contain variables',
    'rego_type_error test-0.rego:5:1 conflicting rules data.x.q found',
    'rego_type_error test-0.rego:9:1 conflicting rules data.x.f found',
  ]);
});

t.test('a rule named like an import: an error by default, OPA precedence when allowed', async (t) => {
  const src = 'package x\n\nimport data.lib.tools\n\ntools := 1\n\np := tools.max\n';
  t.same(errs(check(src).errors), [
    'rego_compile_error test-0.rego:5:1 rule tools shadows import data.lib.tools',
  ]);
  const r = checkModules(parse(src), { allowImportShadowingRules: true });
  t.same(errs(r.errors), []);
  const body = r.program?.groups.get('data.x.p')?.rules[0]?.body ?? [];
  t.match(formatBody(body), /^_\$\d+ = data\.lib\.tools\.max$/);
});

t.test('rules, arguments and variables must not shadow input or data', async (t) => {
  const r = check(
    'package x\n\ninput := 1\n\ndata.foo := 1\n\nf(input) := 1\n\np if {\n  some input in [1]\n}\n\nq := [1 | data := 1]\n',
  );
  t.same(errs(r.errors), [
    'rego_compile_error test-0.rego:3:1 rules must not shadow input (use a different rule name)',
    'rego_compile_error test-0.rego:5:1 rules must not shadow data (use a different rule name)',
    'rego_compile_error test-0.rego:7:3 args must not shadow input (use a different variable name)',
    'rego_compile_error test-0.rego:10:8 variables must not shadow input (use a different variable name)',
    'rego_compile_error test-0.rego:13:11 variables must not shadow data (use a different variable name)',
  ]);
});

t.test('the number of errors is bounded', async (t) => {
  const src = `package x\n\n${Array.from({ length: 30 }, (_, i) => `p${i} if x${i} > 1`).join('\n')}\n`;
  t.equal(check(src).errors.length, 30);
  const r = checkModules(parse(src), { maxErrors: 5 });
  t.equal(r.errors.length, 6);
  t.equal(r.errors[5]?.message, 'error limit reached');
});
