import t from 'tap';
import { formatError, type Module, type RegoError } from '../../../src/rego/ast.js';
import { MAX_NESTING, parseModule, parseQuery, parseTerm } from '../../../src/rego/parse/index.js';
import { sx, sxBody, sxRule } from './sexpr.js';

function mod(src: string): Module {
  const r = parseModule(src, 'p.rego');
  if (!r.module) throw new Error(`unexpected errors:\n${r.errors.map(formatError).join('\n')}`);
  return r.module;
}
const rules = (body: string) => mod(`package t\n${body}`).rules.map(sxRule);
const query = (src: string) => {
  const r = parseQuery(src);
  if (!r.body) throw new Error(r.errors.map(formatError).join('\n'));
  return sxBody(r.body);
};
const errorsOf = (src: string) => parseModule(src, 'p.rego').errors.map(formatError);
const queryErrors = (src: string): RegoError[] => parseQuery(src).errors;

t.test('package and imports', async (t) => {
  const m = mod(
    'package a.b["c d"]\nimport data.x.y\nimport data.x as z\nimport input.foo\nimport future.keywords\nimport future.keywords.in\nimport rego.v1\n',
  );
  t.equal(sx(m.package.path), 'data.a.b.c d');
  t.match(m.package.location, { line: 1, col: 1, offset: 0 });
  t.same(
    m.imports.map((i) => [sx(i.path), i.alias]),
    [
      ['data.x.y', undefined],
      ['data.x', 'z'],
      ['input.foo', undefined],
      ['future.keywords', undefined],
      ['future.keywords.in', undefined],
      ['rego.v1', undefined],
    ],
  );
  t.match(m.imports[1]!.location, { line: 3, col: 1 });
  t.equal(m.package.path.terms[0]!.type, 'var');
  t.equal(m.package.path.terms[1]!.type, 'string');
});

t.test('import errors', async (t) => {
  t.match(errorsOf('package a\nimport foo.bar'), [
    /p.rego:2:8: rego_parse_error: unexpected import path, must begin with one of: \{data, future, input, rego\}, got: foo/,
  ]);
  t.match(errorsOf('package a\nimport rego.v3'), [
    /invalid import `rego.v3`, must be `rego.v1` or `rego.v2`/,
  ]);
  t.match(errorsOf('package a\nimport future.keywords.nope'), [
    /unexpected keyword, must be one of \[contains every if in not\]/,
  ]);
  t.match(errorsOf('package a\nimport future.keywords as k'), [/`future` imports cannot be aliased/]);
  t.match(errorsOf('package a\nimport data.x["y"][1]'), [
    /2:20: rego_parse_error: unexpected number token: expecting string/,
  ]);
  t.match(errorsOf('package a\nimport data.foo.in'), [/must not end with a keyword, got: in/]);
});

t.test('complete rules, defaults, functions, else chains', async (t) => {
  t.same(
    rules('p := 1\nq = "x"\nr if input.x == 1\ns := v if { v := 2 }\ndefault u := false\ndefault f(_) := 1'),
    [
      'p := 1',
      'q = "x"',
      'r if {(equal input.x 1)}',
      's := v if {(assign v 2)}',
      'default u := false',
      'default f(_) := 1',
    ],
  );
  t.same(
    rules(
      'f(x, y) := z if { z := x + y }\nf(x) if x > 1\ng(x) := 1 if { x } else := 2 if { true } else := 3',
    ),
    [
      'f(x, y) := z if {(assign z (plus x y))}',
      'f(x) if {(gt x 1)}',
      'g(x) := 1 if {x} else := 2 if {true} else := 3',
    ],
  );
  t.same(rules('p if { false } else if { true }\np2 = 1 if { false } else = 2'), [
    'p if {false} else if {true}',
    'p2 = 1 if {false} else = 2',
  ]);
  const [r] = mod('package t\np := 1 if {\n  false\n} else := 2').rules;
  t.match(r!.else, { assign: true, body: [], location: { line: 4, col: 3 } });
  t.notOk(r!.head.contains);
  t.equal(r!.hasIf, true);
});

t.test('multi-value and ref heads', async (t) => {
  t.same(
    rules(
      'p contains x if { some x in [1, 2] }\np contains "a"\nq[x] if { x := 1 }\nq2[x] := y if { x := 1; y := 2 }',
    ),
    [
      'p contains x if {(some-in x [1 2])}',
      'p contains "a"',
      'q[x] if {(assign x 1)}',
      'q2[x] := y if {(assign x 1); (assign y 2)}',
    ],
  );
  t.same(rules('a.b[x] := y if { x := 1; y := 2 }\na.b.c := 1\na.b[x] contains y if { x := 1; y := 2 }'), [
    'a.b[x] := y if {(assign x 1); (assign y 2)}',
    'a.b.c := 1',
    'a.b[x] contains y if {(assign x 1); (assign y 2)}',
  ]);
  const [single] = mod('package t\np[x] if { x := 1 }').rules;
  t.equal(single!.head.value, undefined, 'p[x] if {…} is single-value with value true (absent)');
  t.equal(single!.head.contains, false);
  t.same(
    single!.head.ref.terms.map((x) => x.type),
    ['var', 'var'],
  );
});

t.test('rule and head locations', async (t) => {
  const src = 'package t\n\nallow if {\n  input.user == "alice"\n}\nf(x) := x + 1\n';
  const m = mod(src);
  const [allow, f] = m.rules;
  t.match(allow!.location, { file: 'p.rego', line: 3, col: 1, offset: 11 });
  t.equal(src.slice(allow!.location.offset, allow!.location.end), 'allow if {\n  input.user == "alice"\n}');
  t.match(allow!.body[0]!.location, { line: 4, col: 3 });
  t.equal(src.slice(f!.head.location.offset, f!.head.location.end), 'f(x) := x + 1');
  const call = f!.head.value!;
  t.equal(call.type, 'call');
  t.equal(src.slice(call.location.offset, call.location.end), 'x + 1');
  if (call.type === 'call') t.match(call.operator.location, { line: 6, col: 11 });
});

t.test('operator precedence and associativity', async (t) => {
  t.equal(query('x := 1 + 2 * 3 - 4'), '(assign x (minus (plus 1 (mul 2 3)) 4))');
  t.equal(query('x = a | b & c'), '(eq x (or a (and b c)))');
  t.equal(query('a + b == c * d'), '(equal (plus a b) (mul c d))');
  t.equal(query('a | b == c & d'), '(equal (or a b) (and c d))');
  t.equal(query('x := a in b == c'), '(assign x (internal.member_2 a (equal b c)))');
  t.equal(query('a - b - c'), '(minus (minus a b) c)', 'left associative');
  t.equal(query('a / b % c * d'), '(mul (rem (div a b) c) d)');
  t.equal(query('a < b != c'), '(neq (lt a b) c)');
  t.equal(query('(a + b) * c'), '(mul (plus a b) c)');
  t.equal(query('k, v in xs'), '(internal.member_3 k v xs)');
  t.equal(query('x := (k, v in xs)'), '(assign x (internal.member_3 k v xs))');
  t.equal(query('x in xs'), '(internal.member_2 x xs)');
  t.equal(
    query('x != y; x <= y; x >= y; x > y; x < y'),
    '(neq x y); (lte x y); (gte x y); (gt x y); (lt x y)',
  );
  t.equal(query('[1, x in xs]'), '[1 (internal.member_2 x xs)]', '`in` inside a collection');
});

t.test('numbers, strings, scalars', async (t) => {
  t.equal(query('x := -1'), '(assign x -1)');
  t.equal(query('x := 1 - -2.5e10'), '(assign x (minus 1 -2.5e10))');
  t.equal(
    query('x := 123456789012345678901234567890.000000000000000000001'),
    '(assign x 123456789012345678901234567890.000000000000000000001)',
  );
  t.equal(query('x := .5'), '(assign x .5)');
  t.equal(query('x := 1e400'), '(assign x 1e400)');
  t.equal(
    query('x := [null, true, false, "a\\tb", `raw\\n`]'),
    '(assign x [null true false "a\\tb" "raw\\\\n"])',
  );
  const r = parseTerm('`x`');
  t.match(r.term, { type: 'string', value: 'x', raw: true });
  t.match(queryErrors('x := 007'), [
    { message: 'unexpected number token 007: expected number without leading zero' },
  ]);
  t.match(queryErrors('x := 1e999999'), [{ message: /^number too big/ }]);
  t.match(queryErrors('x := -y'), [
    { message: 'unexpected ident token "y": expected number', location: { col: 7 } },
  ]);
});

t.test('refs, calls and composite heads', async (t) => {
  t.equal(query('a.b[c].d[e]'), 'a.b[c].d[e]');
  t.equal(query('x := f(y)[0]'), '(assign x (f y)[0])');
  t.equal(query('x := [1, 2][0]'), '(assign x [1 2][0])');
  t.equal(query('x := {"a": 1}.a'), '(assign x {"a":1}.a)');
  t.equal(query('io.jwt.decode(t, x)'), '(io.jwt.decode t x)');
  t.equal(query('data.lib.f(x)'), '(data.lib.f x)');
  t.equal(query('x := input'), '(assign x input)');
  const [e] = parseQuery('x := input').body!;
  if (e!.node.type === 'call') t.equal(e!.node.args[1]!.type, 'ref', 'bare input is a ref');
  t.equal(query('x := input.if.in[0]'), '(assign x input.if.in[0])', 'keywords are allowed after a dot');
  t.equal(query('contains(x, "a")'), '(contains x "a")', 'contains is a plain name outside rule heads');
  t.match(
    queryErrors('x := a [1]'),
    [{ message: /expected \\n or ; or end of input/ }],
    'after a space, [ does not continue a ref',
  );
  t.match(queryErrors('x := "s"[0]'), [{ message: 'illegal ref (head cannot be string)' }]);
});

t.test('collections and comprehensions', async (t) => {
  t.equal(query('x := {}'), '(assign x {})', '{} is an empty object');
  t.equal(query('x := set()'), '(assign x #{})');
  t.equal(query('x := {1, 2,}'), '(assign x #{1 2})', 'trailing comma');
  t.equal(query('x := [1, 2,]'), '(assign x [1 2])');
  t.equal(query('x := {"a": 1, "b": [2],}'), '(assign x {"a":1 "b":[2]})');
  t.equal(query('x := [y | y := xs[_]; y > 1]'), '(assign x [y | (assign y xs[_]); (gt y 1)])');
  t.equal(query('x := {y | some y in xs\n y > 1}'), '(assign x #{y | (some-in y xs); (gt y 1)})');
  t.equal(query('x := {k: v | v := o[k]}'), '(assign x {k:v | (assign v o[k])})');
  t.equal(query('x := {a | b}'), '(assign x #{a | b})', 'a | inside braces is a comprehension');
  t.equal(query('x := {1 + 1, a | b}'), '(assign x #{(plus 1 1) (or a b)})');
  t.equal(query('x := {a + 1: b}'), '(assign x {(plus a 1):b})');
  t.equal(query('f(1, [2, 3],)'), '(f 1 [2 3])');
});

t.test('a | that cannot start a comprehension body is a union inside the list', async (t) => {
  // OPA tries the comprehension first; a body that stops at a comma makes it a list again.
  t.equal(query('x := [a | b, 5]'), '(assign x [(or a b) 5])');
  t.equal(query('x := [5, a | b]'), '(assign x [5 (or a b)])');
  t.equal(query('x := {a | b, c}'), '(assign x #{(or a b) c})');
  t.equal(query('x := {"k": a | b, "l": 1}'), '(assign x {"k":(or a b) "l":1})');
  t.equal(query('x := [a | b]'), '(assign x [a | b])', 'a lone | is still a comprehension');
  t.equal(query('x := [a | some a in [1, 2]]'), '(assign x [a | (some-in a [1 2])])');
  t.equal(query('x := {k: v | some k, v in o}'), '(assign x {k:v | (some-in k v o)})');
  t.match(queryErrors('x := [a | b c]'), [{ message: /unexpected/ }], 'other failures stay errors');
});

t.test(
  'not { … } is a negated body after import future.keywords.not, future.keywords or rego.v2',
  async (t) => {
    for (const imp of ['future.keywords.not', 'future.keywords', 'rego.v2']) {
      const m = mod(`package t\nimport ${imp}\np if {\n  not { input.a; x := input.b\n x > 1 }\n}\n`);
      const e = m.rules[0]!.body[0]!;
      t.equal(e.negated, true, imp);
      t.equal(sx(e.node as never), '[true | input.a; (assign x input.b); (gt x 1)][0]', imp);
    }
    // Without the import, `{…}` after `not` is a term (a set), as before.
    t.equal(
      sx(mod('package t\np if {\n  not {input.a}\n}\n').rules[0]!.body[0]!.node as never),
      '#{input.a}',
    );
  },
);

t.test('some, every, not, with', async (t) => {
  t.equal(query('some x'), '(some x)');
  t.equal(query('some x, y'), '(some x y)');
  t.equal(query('some x in xs'), '(some-in x xs)');
  t.equal(query('some k, v in {"a": 1}'), '(some-in k v {"a":1})');
  t.equal(query('every x in xs { x > 0 }'), '(every x xs {(gt x 0)})');
  t.equal(query('every k, v in o { k == v\n v }'), '(every k v o {(equal k v); v})');
  t.equal(query('not f(x)'), '(not (f x))');
  t.equal(
    query('not x == 1 with input.a as 1 with data.b as {"c": 2}'),
    '(not (equal x 1)) with input.a as 1 with data.b as {"c":2}',
  );
  t.equal(query('f(x) with count as mock'), '(f x) with count as mock', 'a plain name as with target');
  t.match(queryErrors('not some x'), [{ message: "unexpected some keyword: illegal negation of 'some'" }]);
  t.match(queryErrors('every x in xs'), [{ message: 'unexpected eof token: missing body' }]);
  t.match(queryErrors('every [x] in xs { x }'), [{ message: 'expected value to be a variable' }]);
  t.match(queryErrors('some x.y'), [{ message: 'unexpected ref: expected var' }]);
});

t.test('bodies: separators', async (t) => {
  t.equal(query('a; b\nc'), 'a; b; c');
  t.equal(query('x := 1 +\n  2'), '(assign x (plus 1 2))', 'a line break inside an expression is fine');
  t.match(queryErrors('a b'), [
    { message: 'unexpected ident token "b": expected \\n or ; or end of input', location: { col: 3 } },
  ]);
  t.match(errorsOf('package a\np if {}\nq if { }'), []);
  t.same(rules('p if {}'), ['p if {{}}'], '`p if {}` is a rule whose body is an empty object (as in OPA)');
  t.same(rules('p if {1} == {1}'), ['p if {(equal #{1} #{1})}'], 'a literal starting with a set');
  t.same(
    rules('p if { x := 1 } { x := 2 }'),
    ['p if {(assign x 1)}', 'p if {(assign x 2)}'],
    'chained bodies',
  );
});

t.test('comments are collected with locations', async (t) => {
  const m = mod('# head\npackage a # tail\n\n# about p\np := 1\n');
  t.same(
    m.comments.map((c) => [c.text, c.location.line, c.location.col]),
    [
      [' head', 1, 1],
      [' tail', 2, 11],
      [' about p', 4, 1],
    ],
  );
});

t.test('v1 requirements: if and contains', async (t) => {
  t.same(errorsOf('package a\np { true }'), [
    'p.rego:2:1: rego_parse_error: `if` keyword is required before rule body',
  ]);
  t.same(errorsOf('package a\nf(x) = 1 { true }'), [
    'p.rego:2:1: rego_parse_error: `if` keyword is required before function body',
  ]);
  t.same(errorsOf('package a\np[x] { x := 1 }'), [
    'p.rego:2:1: rego_parse_error: `if` keyword is required before rule body',
    'p.rego:2:1: rego_parse_error: `contains` keyword is required for partial set rules',
  ]);
  t.match(errorsOf('package a\nf(x) contains 1'), [
    /the contains keyword can only be used with multi-value rule definitions/,
  ]);
  t.match(errorsOf('package a\np contains x := 1 if { x := 1 }'), [
    /2:14: rego_parse_error: unexpected := token: a multi-value rule \(contains\) has no value/,
  ]);
  t.match(errorsOf('package a\np[x] := 1 if { x := 1 } else := 2'), [
    /else keyword cannot be used on rules with variables in head/,
  ]);
  t.match(errorsOf('package a\ndefault p'), [/illegal default rule \(must have a value\)/]);
  t.match(errorsOf('package a\ndefault p := x'), [/illegal default rule \(value cannot contain var\)/]);
  t.match(errorsOf('package a\ndefault f(1) := 1'), [
    /illegal default rule \(arguments cannot contain number\)/,
  ]);
  t.same(errorsOf('package a\ndefault p := [x | x := 1]'), [], 'closures may hold variables');
});

t.test('errors: messages, positions, several per file, recovery', async (t) => {
  const src = [
    'package a',
    'p := 1 +', // 2: missing operand (next line starts a statement)
    'q if {',
    '  x := [1, 2',
    '}',
    'r := 3',
    's if { y := 1 } else',
    'u := 4',
    'v if { x. }',
  ].join('\n');
  const r = parseModule(src, 'm.rego');
  t.notOk(r.module, 'no module when there are errors');
  t.same(r.errors.map(formatError), [
    'm.rego:3:1: rego_parse_error: unexpected ident token "q": expected a term',
    'm.rego:5:1: rego_parse_error: unexpected } token: expected "," or "]"',
    'm.rego:8:1: rego_parse_error: unexpected ident token "u": expected else value term or rule body',
    'm.rego:9:11: rego_parse_error: unexpected } token: expected ident',
  ]);
  for (const e of r.errors) t.equal(e.code, 'rego_parse_error');
  t.same(errorsOf('p := 1'), ['p.rego:1:1: rego_parse_error: package expected, found ident token "p"']);
  t.same(errorsOf(''), ['p.rego:1:1: rego_parse_error: empty module: package expected']);
  t.same(errorsOf('package a\npackage b'), [
    'p.rego:2:1: rego_parse_error: unexpected package: a module has only one package clause',
  ]);
  t.same(errorsOf('package a\np := "x\\q"'), [
    'p.rego:2:8: rego_parse_error: illegal escape sequence "\\\\q" in string',
  ]);
});

t.test('nesting is bounded with a clear error', async (t) => {
  const ok = `package a\np := ${'['.repeat(MAX_NESTING - 10)}${']'.repeat(MAX_NESTING - 10)}`;
  t.same(errorsOf(ok), [], 'just under the bound parses');
  for (const [open, close, inner] of [
    ['[', ']', ''],
    ['(', ')', '1'],
    ['{"a": ', '}', '1'],
    ['[x | ', ']', 'x'],
    ['f(', ')', ''],
  ]) {
    const src = `package a\np := ${open!.repeat(50_000)}${inner}${close!.repeat(50_000)}`;
    const errs = errorsOf(src);
    t.equal(errs.length, 1, `${open} × 50000`);
    t.match(errs[0], /nesting too deep: more than 1000 levels/);
  }
});

t.test('parseTerm and parseQuery entry points', async (t) => {
  const r = parseTerm('{"x": {1, 2}, "y": [null]}');
  t.equal(sx(r.term!), '{"x":#{1 2} "y":[null]}');
  t.same(parseTerm('1 2').errors.map(formatError), [
    'term:1:3: rego_parse_error: unexpected number token 2: expected end of term',
  ]);
  t.same(
    parseQuery('').errors.map((e) => e.message),
    ['unexpected eof token: empty query'],
  );
  t.equal(query('data.test.p = x'), '(eq data.test.p x)');
  t.match(parseQuery('x', 'q.rego').body![0]!.location, {
    file: 'q.rego',
    line: 1,
    col: 1,
    offset: 0,
    end: 1,
  });
});
