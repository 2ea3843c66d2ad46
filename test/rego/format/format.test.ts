// Unit tests of the Rego formatter: one construct at a time, precedence and
// parentheses, comments, blank lines, escapes. Every case also checks that the
// output parses to the same AST and is a fixed point of the formatter.
import t from 'tap';
import type { Module } from '../../../src/rego/ast.js';
import { formatBody, formatModule, formatSource, formatTerm } from '../../../src/rego/format/index.js';
import { parseModule } from '../../../src/rego/parse/index.js';
import { stripLocations } from '../../../src/rego/walk.js';

/** The assertions the helpers below use (root test or subtest alike). */
type Test = Pick<typeof t, 'same' | 'equal'>;

function parse(src: string): Module {
  const { module, errors } = parseModule(src, 'test.rego');
  if (!module || errors.length > 0)
    throw new Error(`test source does not parse: ${JSON.stringify(errors)}\n${src}`);
  return module;
}

function shape(m: Module): unknown {
  return stripLocations({ ...m, comments: m.comments.map((c) => c.text) });
}

/** Formats `src` (through formatSource), asserts round trip and idempotency, returns the text. */
function fmt(t: Test, src: string): string {
  const { formatted, errors } = formatSource(src, 'test.rego');
  t.same(errors, [], 'no errors');
  const out = formatted ?? '';
  const again = parseModule(out, 'test.rego');
  t.same(again.errors, [], 'output parses');
  if (again.module) t.same(shape(again.module), shape(parse(src)), 'same AST');
  t.equal(formatSource(out, 'test.rego').formatted, out, 'idempotent');
  return out;
}

/** Formats a one-rule module and returns the rule's text (after `package p` and a blank line). */
function rule(t: Test, src: string): string {
  return fmt(t, `package p\n\n${src}\n`).replace(/^package p\n\n/, '');
}

t.test('module skeleton: package, imports, rules', async (t) => {
  const out = fmt(
    t,
    'package   a.b["c-d"]\nimport data.lib.x as y\nimport input.z\nimport rego.v1\np := 1\nq := 2\n\n\n\nr := 3',
  );
  t.equal(
    out,
    'package a.b["c-d"]\n\nimport data.lib.x as y\nimport input.z\nimport rego.v1\n\np := 1\nq := 2\n\nr := 3\n',
  );
});

t.test('import groups and keyword paths', async (t) => {
  const out = fmt(t, 'package p\nimport future.keywords.if\n\nimport data.a\nimport data.b\np if true\n');
  t.equal(out, 'package p\n\nimport future.keywords.if\n\nimport data.a\nimport data.b\n\np if true\n');
});

t.test('rule kinds', async (t) => {
  t.equal(rule(t, 'p = 1'), 'p = 1\n', '= kept');
  t.equal(rule(t, 'p := 1'), 'p := 1\n', ':= kept');
  t.equal(rule(t, 'default   p  :=  false'), 'default p := false\n');
  t.equal(rule(t, 'default p = false'), 'default p = false\n');
  t.equal(rule(t, 'p contains x if { some x in [1, 2] }'), 'p contains x if some x in [1, 2]\n');
  t.equal(rule(t, 'p contains "a"'), 'p contains "a"\n');
  t.equal(
    rule(t, 'a.b[x] contains y if {\n x := 1\n y := 2 }'),
    'a.b[x] contains y if {\n\tx := 1\n\ty := 2\n}\n',
  );
  t.equal(rule(t, 'a.b[x] := y if {x := "k"; y := 2}'), 'a.b[x] := y if {\n\tx := "k"\n\ty := 2\n}\n');
  t.equal(rule(t, 'p["a-b"].c := 1'), 'p["a-b"].c := 1\n');
  t.equal(rule(t, 'f(x) := y if y := x + 1'), 'f(x) := y if y := x + 1\n');
  t.equal(rule(t, 'f(x, [a, b]) if {\n  x > a\n}'), 'f(x, [a, b]) if {\n\tx > a\n}\n');
  t.equal(rule(t, 'default f(_) := 0'), 'default f(_) := 0\n');
  t.equal(
    rule(t, 'p if {\n\tinput.x\n}'),
    'p if {\n\tinput.x\n}\n',
    'single expression on its own line stays in a block',
  );
  t.equal(rule(t, 'p if { input.x }'), 'p if input.x\n', 'single expression written on the head line');
  t.equal(rule(t, 'p if { {1} }'), 'p if {\n\t{1}\n}\n', 'a body that is one set literal keeps its braces');
});

t.test('else chains', async (t) => {
  t.equal(
    rule(t, 'p := 1 if {\n input.a\n} else := 2 if {\n input.b\n} else := 3'),
    'p := 1 if {\n\tinput.a\n} else := 2 if {\n\tinput.b\n} else := 3\n',
  );
  t.equal(rule(t, 'p := 1 if input.a\nelse = 2 if input.b'), 'p := 1 if input.a\nelse = 2 if input.b\n');
  t.equal(rule(t, 'f(x) := 1 if {\n x > 1\n} else := 0'), 'f(x) := 1 if {\n\tx > 1\n} else := 0\n');
  t.equal(
    rule(t, 'p if {\n x\n} else if {\n y\n}'),
    'p if {\n\tx\n} else if {\n\ty\n}\n',
    'else without a value',
  );
  t.equal(
    rule(t, 'p := 1 if {\n x\n}\n# why\nelse := 2'),
    'p := 1 if {\n\tx\n\t# why\n} else := 2\n',
    'a comment before `else` moves into the block it follows',
  );
});

t.test('some, every, not, with', async (t) => {
  t.equal(
    rule(t, 'p if {\n some x\n some y, z\n some v in input.xs\n some k, v2 in input.m\n not input.deny\n}'),
    'p if {\n\tsome x\n\tsome y, z\n\tsome v in input.xs\n\tsome k, v2 in input.m\n\tnot input.deny\n}\n',
  );
  t.equal(
    rule(t, 'p if {\n every k, v in input.m { k != v; v > 0 }\n}'),
    'p if {\n\tevery k, v in input.m {\n\t\tk != v\n\t\tv > 0\n\t}\n}\n',
  );
  t.equal(
    rule(t, 'p if {\n q with input.x as 1 with data.y as {"a": 2}\n}'),
    'p if {\n\tq with input.x as 1 with data.y as {"a": 2}\n}\n',
  );
  t.equal(
    rule(t, 'p if {\n\tx := 1 in input.xs\n\ty := 1, 2 in input.m\n}'),
    'p if {\n\tx := 1 in input.xs\n\ty := 1, 2 in input.m\n}\n',
  );
});

t.test('operators print infix with minimal parentheses', async (t) => {
  const cases: [string, string][] = [
    ['x := (1 + 2) * 3', 'x := (1 + 2) * 3'],
    ['x := 1 + (2 * 3)', 'x := 1 + 2 * 3'],
    ['x := (1 - 2) - 3', 'x := 1 - 2 - 3'],
    ['x := 1 - (2 - 3)', 'x := 1 - (2 - 3)'],
    ['x := 8 / (4 / 2)', 'x := 8 / (4 / 2)'],
    ['x := 7 % 3 * 2', 'x := 7 % 3 * 2'],
    ['x := (a | b) & c', 'x := (a | b) & c'],
    ['x := a | (b & c)', 'x := a | b & c'],
    ['(x + 1) == (y * 2)', 'x + 1 == y * 2'],
    ['plus(1, mul(2, 3)) > minus(4, 1)', '1 + 2 * 3 > 4 - 1'],
    ['equal(x, neq(y, z))', 'x == (y != z)'],
    ['x = y', 'x = y'],
    ['x == y', 'x == y'],
    ['x <= y', 'x <= y'],
    ['x >= y', 'x >= y'],
    ['x < y', 'x < y'],
    ['x > y', 'x > y'],
    ['x := 1 - -1', 'x := 1 - -1'],
    ['x := count([1, 2] | {3})', 'x := count([1, 2] | {3})'],
  ];
  const src = `p if {\n${cases.map(([s]) => `\t${s}\n`).join('')}}`;
  const want = `p if {\n${cases.map(([, w]) => `\t${w}\n`).join('')}}\n`;
  t.equal(rule(t, src), want);
});

t.test('bitwise or inside collections keeps its parentheses', async (t) => {
  t.equal(rule(t, 'p := [(a | b)]'), 'p := [(a | b)]\n');
  t.equal(rule(t, 'p := {(a | b)}'), 'p := {(a | b)}\n');
  t.equal(rule(t, 'p := {"k": (a | b)}'), 'p := {"k": (a | b)}\n');
  t.equal(rule(t, 'p := [(a | b) | true]'), 'p := [(a | b) | true]\n');
});

t.test('refs', async (t) => {
  t.equal(
    rule(t, 'p := input["a"]["b-c"][0][x]["if"]["_x1"]'),
    'p := input.a["b-c"][0][x]["if"]._x1\n',
    'dots for identifiers that are not keywords',
  );
  t.equal(rule(t, 'p := data.lib.f(1)[0].name'), 'p := data.lib.f(1)[0].name\n');
  t.equal(rule(t, 'p := [1, 2][0]'), 'p := [1, 2][0]\n');
});

t.test('scalars: strings, numbers, null, booleans', async (t) => {
  t.equal(
    rule(t, 'p := "a\\"b\\\\c\\n\\t\\u0041\\u00e9"'),
    'p := "a\\"b\\\\c\\n\\tAé"\n',
    'escapes normalised',
  );
  t.equal(rule(t, 'p := "\\u0001"'), 'p := "\\u0001"\n', 'control characters stay escaped');
  t.equal(rule(t, 'p := `raw\\n"string"`'), 'p := `raw\\n"string"`\n', 'raw strings stay raw');
  t.equal(
    rule(t, 'p := [1e400, 0.10, -3, 12345678901234567890123]'),
    'p := [1e400, 0.10, -3, 12345678901234567890123]\n',
    'numbers as written',
  );
  t.equal(rule(t, 'p := [null, true, false]'), 'p := [null, true, false]\n');
});

t.test('composites and comprehensions', async (t) => {
  t.equal(rule(t, 'p := {1,2}'), 'p := {1, 2}\n');
  t.equal(rule(t, 'p := set()'), 'p := set()\n');
  t.equal(rule(t, 'p := {}'), 'p := {}\n');
  t.equal(rule(t, 'p := {"a":1,"b":[ ]}'), 'p := {"a": 1, "b": []}\n');
  t.equal(rule(t, 'p := [x | some x in input.xs]'), 'p := [x | some x in input.xs]\n');
  t.equal(rule(t, 'p := {x | some x in input.xs; x > 1}'), 'p := {x |\n\tsome x in input.xs\n\tx > 1\n}\n');
  t.equal(rule(t, 'p := {k: v | some k, v in input.m}'), 'p := {k: v | some k, v in input.m}\n');
  t.equal(
    rule(t, 'p := {\n"a": 1, "b": 2,\n"c": [1,\n2]}'),
    'p := {\n\t"a": 1,\n\t"b": 2,\n\t"c": [\n\t\t1,\n\t\t2,\n\t],\n}\n',
    'literals written over several lines stay one item per line',
  );
});

t.test('comments are kept at their places', async (t) => {
  const src = [
    '# leading file comment',
    'package p # after package',
    '',
    '# about the import',
    'import data.lib # why',
    '',
    '# doc for allow',
    '# second line',
    'allow if {',
    '  # inside, first',
    '  input.x # trailing',
    '',
    '  # before y',
    '  input.y',
    '  # before closing brace',
    '} # after rule',
    '',
    'deny := [1, # inside a literal',
    '  2]',
    '# end of file',
  ].join('\n');
  const want = [
    '# leading file comment',
    'package p # after package',
    '',
    '# about the import',
    'import data.lib # why',
    '',
    '# doc for allow',
    '# second line',
    'allow if {',
    '\t# inside, first',
    '\tinput.x # trailing',
    '',
    '\t# before y',
    '\tinput.y',
    '\t# before closing brace',
    '} # after rule',
    '',
    'deny := [',
    '\t1, # inside a literal',
    '\t2,',
    ']',
    '# end of file',
    '',
  ].join('\n');
  const out = fmt(t, src);
  t.equal(out, want);
});

t.test('a comment inside a one-line construct moves above its statement', async (t) => {
  const out = rule(t, 'p if {\n\tx := 1 + # one\n\t\t2\n}');
  t.equal(out, 'p if {\n\t# one\n\tx := 1 + 2\n}\n');
  const head = rule(t, 'p := 1 + # in head\n 2');
  t.equal(head, '# in head\np := 1 + 2\n');
});

t.test('METADATA blocks are kept as written', async (t) => {
  const src =
    '# METADATA\n# title: Allow\n# description: |\n#   Lets admins in.\n# custom:\n#   severity: high\npackage p\n\n# METADATA\n# entrypoint: true\nallow if input.admin\n';
  t.equal(fmt(t, src), src);
});

t.test('blank lines: grouping kept, runs collapsed, none inside one group added', async (t) => {
  const out = fmt(
    t,
    'package p\na := 1\nb := 2\n\n\n\nc := 3\n# about d\n\nd := 4\ne if {\n  a\n\n\n  b\n}\n',
  );
  t.equal(out, 'package p\n\na := 1\nb := 2\n\nc := 3\n# about d\n\nd := 4\ne if {\n\ta\n\n\tb\n}\n');
});

t.test('formatModule without the source text infers the same layout from locations', async (t) => {
  const src =
    'package p\n\nimport data.x\n\na := 1\nb := 2\n\n# c\nc if {\n\tinput.y\n\n\tinput.z # z\n}\n\nd if input.w\n';
  t.equal(formatModule(parse(src)), src);
});

t.test('long lines are not wrapped', async (t) => {
  const items = Array.from({ length: 60 }, (_, i) => `"item-${i}"`).join(', ');
  t.equal(rule(t, `p := [${items}]`), `p := [${items}]\n`);
});

t.test('formatTerm and formatBody', async (t) => {
  const m = parse(
    'package p\n\nr if {\n\tx := {"a": [1, 2 * (3 + 4)]}\n\tnot data.q[x] with input as {}\n}\n',
  );
  const r = m.rules[0];
  t.ok(r, 'rule parsed');
  if (!r) return;
  t.equal(formatBody(r.body), 'x := {"a": [1, 2 * (3 + 4)]}\nnot data.q[x] with input as {}');
  const first = r.body[0];
  if (first && first.node.type === 'call') {
    const value = first.node.args[1];
    t.ok(value);
    if (value) t.equal(formatTerm(value), '{"a": [1, 2 * (3 + 4)]}');
  } else t.fail('first expression is an assignment call');
});

t.test('parse errors are returned, not thrown', async (t) => {
  const r = formatSource('package p\n\np := [1,\n', 'bad.rego');
  t.equal(r.formatted, undefined);
  t.ok(r.errors.length > 0);
  t.equal(r.errors[0]?.code, 'rego_parse_error');
  t.equal(r.errors[0]?.location.file, 'bad.rego');
});

t.test('a chain of thousands of operators formats without deep recursion', async (t) => {
  const chain = Array.from({ length: 20000 }, (_, i) => `x${i % 7}`).join(' + ');
  const { formatted, errors } = formatSource(
    `package p\n\nf(x0, x1, x2, x3, x4, x5, x6) := ${chain}\n`,
    'deep.rego',
  );
  t.same(errors, []);
  t.equal(formatted, `package p\n\nf(x0, x1, x2, x3, x4, x5, x6) := ${chain}\n`);
});

t.test('a negated body prints as written: not { … }', async (t) => {
  const src =
    'package p\n\nimport rego.v2\n\np if {\n  input.x\n  not { input.a == 1; input.b == 2 } with input.c as 3\n}\n\nq if { not {\n  # why\n  input.a\n  not { input.b }\n} }\n';
  t.equal(
    fmt(t, src),
    'package p\n\nimport rego.v2\n\np if {\n\tinput.x\n\tnot {\n\t\tinput.a == 1\n\t\tinput.b == 2\n\t} with input.c as 3\n}\n\nq if {\n\tnot {\n\t\t# why\n\t\tinput.a\n\t\tnot {\n\t\t\tinput.b\n\t\t}\n\t}\n}\n',
  );
  // A comprehension written out stays one.
  const legacy = 'package p\n\nimport rego.v2\n\np if not [true | input.a][0]\n';
  t.equal(fmt(t, legacy), legacy);
});
