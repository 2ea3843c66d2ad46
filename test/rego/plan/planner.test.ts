// The planner: checked Rego → plan IR. Shapes are read from the printed plan;
// semantics are checked by running the compiled module through the stock SDK.
import { loadPolicy } from '@open-policy-agent/opa-wasm';
import t from 'tap';
import { hostBuiltins } from '../../../src/rego/builtins/host/index.js';
import { compile } from '../../../src/rego/compile.js';
import { printPolicy } from '../../../src/rego/plan/index.js';

function build(text: string, entrypoints: string[], options: { ruleIndexing?: boolean } = {}) {
  const r = compile({ sources: [{ file: 'p.rego', text }], entrypoints, optimize: false, ...options });
  if (!r.wasm || !r.plan) throw new Error(r.errors.map((e) => e.message).join('\n'));
  return { wasm: r.wasm, plan: r.plan, printed: printPolicy(r.plan, { locations: false }) };
}

/** Compiles modules (one source each) and evaluates the document at `entrypoint` (`a/b`). */
async function evalModules(sources: string[], entrypoint: string, input?: unknown, data?: object) {
  const r = compile({
    sources: sources.map((text, i) => ({ file: `m${i}.rego`, text })),
    entrypoints: [entrypoint],
    optimize: false,
  });
  if (!r.wasm) throw new Error(r.errors.map((e) => e.message).join('\n'));
  return evaluate(r.wasm, entrypoint, input, data);
}

async function evaluate(wasm: Uint8Array, entrypoint: string, input?: unknown, data?: object) {
  const p = await loadPolicy(wasm, undefined, hostBuiltins({ strict: true }));
  if (data) p.setData(data);
  let rows: { result: unknown }[];
  try {
    rows = p.evaluate(input, entrypoint) as { result: unknown }[];
  } catch (err) {
    // The SDK throws opa_abort messages as plain strings.
    throw err instanceof Error ? err : new Error(String((err as { message?: string })?.message ?? err));
  }
  return rows.length === 0 ? undefined : rows[0]!.result;
}

t.test('a complete rule is a func that assigns its value once and returns it', async (t) => {
  const { printed, wasm } = build('package a\n\np := 7 if input.x == 1\n', ['a/p']);
  t.match(printed, /func g0\.data\.a\.p\(l0, l1\) -> l2/);
  t.match(printed, /l2 := once l\d+/);
  t.match(printed, /return l2/);
  t.match(printed, /plan a\/p/);
  t.equal(await evaluate(wasm, 'a/p', { x: 1 }), 7);
  t.equal(await evaluate(wasm, 'a/p', { x: 2 }), undefined);
});

t.test('partial sets and objects build their collection; iteration is a scan', async (t) => {
  const src =
    'package a\n\ns contains x if { some x in input.xs; x > 1 }\n\no[k] := v if { some k, v in input.m }\n';
  const { printed, wasm } = build(src, ['a/s', 'a/o']);
  t.match(printed, /make-set/);
  t.match(printed, /make-object/);
  t.match(printed, /scan/);
  t.same(await evaluate(wasm, 'a/s', { xs: [1, 2, 3] }), [2, 3]);
  t.same(await evaluate(wasm, 'a/o', { m: { a: 1 } }), { a: 1 });
});

t.test('else chains, defaults and conflicts follow OPA', async (t) => {
  const src = [
    'package a',
    '',
    'default d := "none"',
    '',
    'd := "big" if input.n > 10',
    '',
    'e := "first" if input.n > 100 else := "second" if input.n > 10 else := "third"',
    '',
    'c := 1 if input.n > 0',
    '',
    'c := 2 if input.n > 5',
  ].join('\n');
  const { wasm } = build(src, ['a/d', 'a/e', 'a/c']);
  t.equal(await evaluate(wasm, 'a/d', { n: 1 }), 'none');
  t.equal(await evaluate(wasm, 'a/d', { n: 11 }), 'big');
  t.equal(await evaluate(wasm, 'a/e', { n: 1000 }), 'first');
  t.equal(await evaluate(wasm, 'a/e', { n: 50 }), 'second');
  t.equal(await evaluate(wasm, 'a/e', { n: 1 }), 'third');
  t.equal(await evaluate(wasm, 'a/c', { n: 1 }), 1);
  await t.rejects(
    evaluate(wasm, 'a/c', { n: 6 }),
    /eval_conflict_error: rule data\.a\.c produced conflicting values \(complete rules must not produce multiple outputs\)$/,
  );
});

t.test("conflicting function outputs read as OPA's", async (t) => {
  // Two definitions that both match, and one body with two bindings of its output.
  const src =
    'package f\n\ntwice(x) := 1 if x > 0\n\ntwice(x) := 2 if x > 1\n\npick(x) := y if some y in x\n\np := twice(input.n)\n\nq := pick(input.xs)\n';
  const { wasm } = build(src, ['f/p', 'f/q']);
  t.equal(await evaluate(wasm, 'f/p', { n: 1 }), 1);
  const opa = /functions must not produce multiple outputs for same inputs\)$/;
  await t.rejects(evaluate(wasm, 'f/p', { n: 2 }), opa);
  await t.rejects(
    evaluate(wasm, 'f/p', { n: 2 }),
    /eval_conflict_error: function data\.f\.twice produced conflicting values for the same inputs/,
  );
  t.equal(await evaluate(wasm, 'f/q', { xs: [3, 3] }), 3, 'the same value twice is no conflict');
  await t.rejects(evaluate(wasm, 'f/q', { xs: [3, 4] }), opa);
});

t.test('virtual documents merge rules with base data; numeric keys reach arrays and objects', async (t) => {
  const src = 'package a.b\n\nr := 1\n\nq contains "x"\n';
  const { wasm } = build(src, ['a', 'a/b/base']);
  t.same(await evaluate(wasm, 'a', undefined, { a: { b: { base: [10, 20] } } }), {
    b: { base: [10, 20], q: ['x'], r: 1 },
  });
  t.same(await evaluate(wasm, 'a/b/base', undefined, { a: { b: { base: [10, 20] } } }), [10, 20]);
});

t.test('with replaces input, data and functions (mocks reach nested rules)', async (t) => {
  const src = [
    'package a',
    '',
    'f(x) := x + 1',
    '',
    'g(x) := x * 10',
    '',
    'inner := f(1)',
    '',
    'mocked := x if x := inner with f as g',
    '',
    'seen := x if x := input.u with input.u as "mock"',
    '',
    'count_mock := n if n := count([1, 2, 3]) with count as 42',
  ].join('\n');
  const { wasm } = build(src, ['a/inner', 'a/mocked', 'a/seen', 'a/count_mock']);
  t.equal(await evaluate(wasm, 'a/inner'), 2);
  t.equal(await evaluate(wasm, 'a/mocked'), 10);
  t.equal(await evaluate(wasm, 'a/seen', { u: 'real' }), 'mock');
  t.equal(await evaluate(wasm, 'a/count_mock'), 42);
});

t.test('every, not and comprehensions', async (t) => {
  const src = [
    'package a',
    '',
    'all_small if every x in input.xs { x < 10 }',
    '',
    'none_big if not input.big',
    '',
    'doubled := [y | some x in input.xs; y := x * 2]',
  ].join('\n');
  const { wasm } = build(src, ['a/all_small', 'a/none_big', 'a/doubled']);
  t.equal(await evaluate(wasm, 'a/all_small', { xs: [1, 2] }), true);
  t.equal(await evaluate(wasm, 'a/all_small', { xs: [1, 20] }), undefined);
  t.equal(await evaluate(wasm, 'a/none_big', { big: false }), true);
  t.same(await evaluate(wasm, 'a/doubled', { xs: [1, 2] }), [2, 4]);
});

function toolRules(n: number): string {
  let src = 'package gw\n\n';
  for (let i = 0; i < n; i++)
    src += `allow if {\n\tinput.tool == "tool_${i}"\n\tinput.level >= ${i % 3}\n}\n\n`;
  for (let i = 0; i < n; i++) src += `risk contains "r${i}" if input.tool == "tool_${i}"\n\n`;
  return src;
}

t.test('rules keyed on input equality are indexed: only matching bodies run', async (t) => {
  const indexed = build(toolRules(20), ['gw/allow', 'gw/risk']);
  const linear = build(toolRules(20), ['gw/allow', 'gw/risk'], { ruleIndexing: false });
  t.match(indexed.printed, /call-dynamic/, 'indexed plan dispatches by value');
  t.notMatch(linear.printed, /call-dynamic/);
  const perValue = indexed.plan.funcs.filter((f) => f.path?.[0] === 'airlock_index');
  t.equal(perValue.length, 40, 'one func per distinct constant and rule group');
  for (const [input, allow, risk] of [
    [{ tool: 'tool_5', level: 2 }, true, ['r5']],
    [{ tool: 'tool_5', level: 1 }, undefined, ['r5']],
    [{ tool: 'unknown', level: 9 }, undefined, []],
    [{ tool: 7, level: 9 }, undefined, []],
  ] as const) {
    for (const v of [indexed, linear]) {
      t.equal(await evaluate(v.wasm, 'gw/allow', input), allow, `allow ${JSON.stringify(input)}`);
      t.same(await evaluate(v.wasm, 'gw/risk', input), risk, `risk ${JSON.stringify(input)}`);
    }
  }
});

t.test('indexed complete rules still detect conflicts and fall back to unindexed rules', async (t) => {
  let src = 'package gw\n\n';
  for (let i = 0; i < 10; i++) src += `v := ${i} if input.tool == "t${i}"\n\n`;
  src += 'v := 99 if input.tool == "t3"\n\nv := -1 if input.other\n';
  const { wasm, printed } = build(src, ['gw/v']);
  t.match(printed, /call-dynamic/);
  t.equal(await evaluate(wasm, 'gw/v', { tool: 't4' }), 4);
  t.equal(await evaluate(wasm, 'gw/v', { other: true, tool: 'x' }), -1);
  await t.rejects(evaluate(wasm, 'gw/v', { tool: 't3' }), /conflicting values/);
});

t.test('planning is deterministic', async (t) => {
  const a = build(toolRules(10), ['gw/allow']);
  const b = build(toolRules(10), ['gw/allow']);
  t.equal(a.printed, b.printed);
  t.ok(Buffer.from(a.wasm).equals(Buffer.from(b.wasm)));
});

t.test('with data.… replaces a rule by its value, wherever the rule is read', async (t) => {
  const rules = 'package cfg\n\nlimit := 15\n\nnext := limit + 1\n\nall contains limit\n';
  const user = [
    'package use',
    '',
    'import data.cfg',
    '',
    '# the replaced rule read directly, in its own package and from another module',
    'own := v if v := cfg.limit with data.cfg.limit as 10',
    '',
    '# read by rules deeper in the evaluation: a complete rule and a partial set',
    'deeper := v if v := report with data.cfg.limit as 3',
    '',
    'report := [cfg.next, cfg.all]',
    '',
    '# the whole package replaced: every rule under it reads the replacement',
    'pkg := v if v := [cfg.limit, object.get(cfg, "next", "gone")] with data.cfg as {"limit": 7}',
    '',
    '# the package document under a replaced rule',
    'doc := v if v := data.cfg with data.cfg.limit as 1',
    '',
    'unchanged := [cfg.limit, cfg.next]',
  ].join('\n');
  const local = 'package cfg\n\nlocal := v if v := limit with data.cfg.limit as 10\n';
  const srcs = [rules, user, local];
  t.equal(await evalModules(srcs, 'cfg/local'), 10);
  t.equal(await evalModules(srcs, 'use/own'), 10);
  t.same(await evalModules(srcs, 'use/deeper'), [4, [3]]);
  t.same(await evalModules(srcs, 'use/pkg'), [7, 'gone']);
  t.same(await evalModules(srcs, 'use/doc'), { all: [1], limit: 1, local: 10, next: 2 });
  t.same(await evalModules(srcs, 'use/unchanged'), [15, 16]);
});

t.test('a package without rules is an empty document under data', async (t) => {
  const srcs = ['package empty\n', 'package a.b.c\n', 'package other\n\np := 1\n'];
  t.same(await evalModules(srcs, 'empty'), {});
  t.same(await evalModules(srcs, 'a/b'), { c: {} });
  t.same(await evalModules([...srcs, 'package use\n\nkeys := {k | data.a.b[k]}\n'], 'use/keys'), ['c']);
  // Base data at the package's path shows through.
  t.same(await evalModules(srcs, 'a/b', undefined, { a: { b: { n: 1 } } }), { c: {}, n: 1 });
  t.same(await evalModules(srcs, 'empty', undefined, { empty: { n: 2 } }), { n: 2 });
});

t.test('constant keys into base data are looked up by their text, as OPA storage does', async (t) => {
  const src = [
    'package k',
    '',
    'decimal := data.obj[1.2]',
    '',
    'int_on_object := data.obj[1]',
    '',
    'trailing_zero := data.obj[1.0]',
    '',
    'negative := data.obj[-1]',
    '',
    'int_on_array := data.arr[1]',
    '',
    'digits_on_array := data.arr["1"]',
    '',
    'decimal_on_array := [v | v := data.arr[1.0]]',
    '',
    'negative_on_array := [v | v := data.arr[-1]]',
  ].join('\n');
  const data = { obj: { '1.2': 'a', '1': 'b', '1.0': 'c', '-1': 'd' }, arr: ['x', 'y'] };
  const all = await evalModules([src], 'k', undefined, data);
  t.same(all, {
    decimal: 'a',
    int_on_object: 'b',
    trailing_zero: 'c',
    negative: 'd',
    int_on_array: 'y',
    digits_on_array: 'y',
    decimal_on_array: [],
    negative_on_array: [],
  });
});

t.test('a rule below a partial object may not give one of its keys another value', async (t) => {
  const partial = 'package o\n\nobj[k] := v if { some k, v in input.kv }\n';
  const below = 'obj.a := 2\n\nobj.b := 3\n\nread_a := obj.a\n';
  // The same value, or a key the partial object lacks: merged.
  t.same(await evalModules([partial + below], 'o/obj', { kv: { a: 2, c: 1 } }), { a: 2, b: 3, c: 1 });
  t.equal(await evalModules([partial + below], 'o/read_a', { kv: { c: 1 } }), 2);
  // Another value: OPA's eval_conflict_error, for the whole document and for the key alone.
  for (const entry of ['o/obj', 'o/read_a', 'o']) {
    await t.rejects(
      evalModules([partial + below], entry, { kv: { a: 1 } }),
      /m0\.rego:4:1: eval_conflict_error: object keys must be unique/,
      entry,
    );
  }
});

t.test('objects and sets are iterated in sorted order, however they were built', async (t) => {
  // OPA iterates ast objects and sets over their sorted keys (ast/term.go object.Iter, set.Iter).
  const src = [
    'package it',
    '',
    'obj_keys := [k | some k, _ in {"b": 1, "a": 2, "c": 0}]',
    'set_members := [x | some x in {"b", "a", "c"}]',
    'set_ref := [x | x := {3, 1, 2}[_]]',
    'input_keys := [k | input.o[k]]',
    'rule_set := [x | x := data.it.s[_]]',
    's contains 3',
    's contains 1',
    's contains 2',
    'first := [x | x := {"z", "y"}[_]][0]',
    'every_order := [x | every y in {2, 1} { y > 0 }; x := 1]',
  ].join('\n');
  t.same(await evalModules([src], 'it', { o: { z: 1, m: 2, a: 3 } }), {
    obj_keys: ['a', 'b', 'c'],
    set_members: ['a', 'b', 'c'],
    set_ref: [1, 2, 3],
    input_keys: ['a', 'm', 'z'],
    rule_set: [1, 2, 3],
    s: [1, 2, 3],
    first: 'y',
    every_order: [1],
  });
});

t.test('keys computed at run time into base data are read by their text too', async (t) => {
  const src = [
    'package k',
    '',
    'decimal if { x := 1.2; data.obj[x] == "a" }',
    'int_on_object := v if { x := 1; v := data.obj[x] }',
    'trailing_zero := v if { x := 1.0; v := data.obj[x] }',
    'from_input := data.obj[input.key]',
    'sum_key := data.obj[0.5 + 0.7]',
    'int_on_array := v if { i := 1; v := data.arr[i] }',
    'string_on_array := v if { i := "1"; v := data.arr[i] }',
    'decimal_on_array := [v | i := 1.0; v := data.arr[i]]',
    'negative_on_array := [v | i := -1; v := data.arr[i]]',
    'bool_key := [v | b := true; v := data.obj[b]]',
    'nested := v if { i := 0; v := data.deep[i].name }',
    'missing := [v | i := 9; v := data.arr[i]]',
  ].join('\n');
  const data = {
    obj: { '1.2': 'a', '1': 'b', '1.0': 'c', true: 'e' },
    arr: ['x', 'y'],
    deep: [{ name: 'n0' }],
  };
  const all = await evalModules([src], 'k', { key: 1.2 }, data);
  t.same(all, {
    decimal: true,
    int_on_object: 'b',
    trailing_zero: 'c',
    // input is parsed JSON: 1.2 keeps its text
    from_input: 'a',
    // 0.5 + 0.7 is the number 1.2, written "1.2"
    sum_key: 'a',
    int_on_array: 'y',
    string_on_array: 'y',
    decimal_on_array: [],
    negative_on_array: [],
    // storage has no boolean keys (OPA: not found)
    bool_key: [],
    nested: 'n0',
    missing: [],
  });
  // Values that are not base data (input, a local) keep Rego's lookup: no conversion.
  const local = await evalModules(
    [
      'package l\n\nlocal_int := [v | o := {"1": "s"}; k := 1; v := o[k]]\ninput_str := [v | k := "1"; v := input.arr[k]]\n',
    ],
    'l',
    { arr: ['p', 'q'] },
  );
  t.same(local, { local_int: [], input_str: [] });
});

t.test('comprehension heads may iterate; a | before a comma is a union', async (t) => {
  const src = [
    'package c',
    '',
    'x := {1}',
    '',
    'y := {2}',
    '',
    'keys := {["a", "b"][_]: 1 | true}',
    '',
    'flat := [xs[_] | some xs in [[1, 2], [3]]]',
    '',
    'union_first := [x | y, 5]',
    '',
    'union_value := {"k": x | y, "l": 0}',
    '',
    'comprehension := [x | y]',
  ].join('\n');
  t.same(await evalModules([src], 'c'), {
    x: [1],
    y: [2],
    keys: { a: 1, b: 1 },
    flat: [1, 2, 3],
    union_first: [[1, 2], 5],
    union_value: { k: [1, 2], l: 0 },
    comprehension: [[1]],
  });
});

t.test('not { … } holds when its body has no solution; its locals stay inside', async (t) => {
  const src = [
    'package n',
    '',
    'import future.keywords.not',
    '',
    'misconfigured contains name if {',
    '  some server in input.servers',
    '  name := server.name',
    '  not {',
    '    port := server.port',
    '    port == 443',
    '  }',
    '}',
    '',
    'neither if not { input.a; input.b }',
  ].join('\n');
  const input = { servers: [{ name: 'a', port: 80 }, { name: 'b', port: 443 }, { name: 'c' }], a: true };
  t.same(await evalModules([src], 'n/misconfigured', input), ['a', 'c']);
  t.equal(await evalModules([src], 'n/neither', input), true);
  t.equal(await evalModules([src], 'n/neither', { a: true, b: true }), undefined);
});

t.test(
  'without import future.keywords.not, calls nested in a negation are evaluated before it',
  async (t) => {
    const body = [
      '',
      'lookup(user) := group if {',
      '  some group, members in {"admin": ["alice"]}',
      '  user in members',
      '}',
      '',
      'admin(group) if group in ["admin", "sudo"]',
      '',
      'restricted if not admin(lookup(input.user))',
      '',
      'no_roles if not count(input.roles) > 0',
      '',
      'plain if not admin(input.missing)',
    ].join('\n');
    const legacy = `package neg${body}`;
    const modern = `package neg\n\nimport future.keywords.not\n${body}`;
    const input = { user: 'cesar' };
    // OPA's default: `lookup` undefined makes the rule fail; the import makes the negation hold.
    t.equal(await evalModules([legacy], 'neg/restricted', input), undefined);
    t.equal(await evalModules([modern], 'neg/restricted', input), true);
    t.equal(await evalModules([legacy], 'neg/no_roles', input), undefined);
    t.equal(await evalModules([modern], 'neg/no_roles', input), true);
    t.equal(await evalModules([legacy], 'neg/restricted', { user: 'alice' }), undefined);
    t.equal(await evalModules([legacy], 'neg/no_roles', { roles: [] }), true);
    // A plain argument stays inside the negation either way.
    t.equal(await evalModules([legacy], 'neg/plain', input), true);
  },
);

t.test('every: an undefined domain is undefined; a domain that is not a collection holds', async (t) => {
  const src = [
    'package ev',
    '',
    'missing_input if every x in input.missing { x > 1 }',
    '',
    'missing_data if every x in data.nowhere.list { x > 1 }',
    '',
    'missing_rule if every x in absent { x > 1 }',
    '',
    'absent := [1] if false',
    '',
    'missing_key if every k, v in input.obj.missing { v > k }',
    '',
    'with_missing if every x in input.xs { x > 1 } with input as {}',
    '',
    'empty if every x in input.empty { x > 1 }',
    '',
    'scalar if every x in 5 { x > 1 }',
    '',
    'holds if every x in input.xs { x > 1 }',
  ].join('\n');
  const all = await evalModules([src], 'ev', { xs: [2, 3], empty: [], obj: {} }, { nowhere: {} });
  t.same(all, { empty: true, scalar: true, holds: true });
});

t.test('every: variables in the domain are bound by the domain, before the quantifier', async (t) => {
  const src = [
    'package ev',
    '',
    'missing if every x in input.missing[_] { x > 0 }',
    'some_row_positive if every x in input.rows[_] { x > 0 }',
    'row_above_index contains i if every x in input.rows[i] { x > i }',
    'no_rows if every x in input.none[_] { x > 0 }',
    'empty_row if every x in input.blank[_] { x > 0 }',
    'by_key contains k if { every v in input.obj[k] { v != "no" } }',
  ].join('\n');
  const input = {
    rows: [[-1, 2], [5, 6], [0]],
    none: [],
    blank: [[]],
    obj: { a: ['yes'], b: ['no', 'yes'], c: [] },
  };
  t.same(await evalModules([src], 'ev', input), {
    some_row_positive: true,
    // row 1 (5, 6 > 1) only; row 2 holds 0, not above 2
    row_above_index: [1],
    empty_row: true,
    by_key: ['a', 'c'],
  });
  const allNegative = await evalModules([src], 'ev/some_row_positive', { rows: [[-1], [0]] });
  t.equal(allNegative, undefined);
});

t.test(
  'with data.… replaces partial sets, partial objects, ref-head prefixes, functions and the root',
  async (t) => {
    const src = [
      'package w',
      '',
      's contains "x"',
      '',
      'o[k] := 1 if some k in ["a"]',
      '',
      'p.q.r := 1',
      '',
      'f(x) := x + 1',
      '',
      'set := v if v := s with data.w.s as {"y"}',
      '',
      'object := v if v := o with data.w.o as {"z": 2}',
      '',
      'prefix := v if v := p.q.r with data.w.p.q as {"r": 6}',
      '',
      'function := v if v := f(1) with data.w.f as 10',
      '',
      'root := v if v := data.w.s with data as {"w": {"s": ["root"]}}',
    ].join('\n');
    const doc = (await evalModules([src], 'w')) as Record<string, unknown>;
    t.same([doc.set, doc.object, doc.prefix, doc.function, doc.root], [['y'], { z: 2 }, 6, 10, ['root']]);
  },
);
