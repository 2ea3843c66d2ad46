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
