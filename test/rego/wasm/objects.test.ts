// Native object.union, object.union_n and walk (runtime objects.as): the module merges objects
// itself and hands the host anything else (non-object operands, a non-array or an array holding
// a non-object), so answers and errors stay the host's; walk never needs the host.
import { loadPolicy } from '@open-policy-agent/opa-wasm';
import t from 'tap';
import { HOST_IMPLEMENTATIONS, hostBuiltins } from '../../../src/rego/builtins/host/index.js';
import { compile } from '../../../src/rego/compile.js';

const POLICY = `package t

union := object.union(input.a, input.b)

union_n := object.union_n(input.list)

walked := [[p, v] | walk(input.x, [p, v])]

walked_set := [[p, v] | walk({"b": {3, "a", [1]}, "a": null}, [p, v])]

# Keys that are not strings, and values of every kind.
typed := object.union({1: "one", [2]: {"x": 1}, "s": {3}}, {[2]: {"y": 2}, "s": {"n": null}, false: 0})
`;

type Policy = Awaited<ReturnType<typeof loadPolicy>>;

async function setup(strict: boolean): Promise<{ p: Policy; calls: Map<string, number> }> {
  const out = compile({
    sources: [{ file: 't.rego', text: POLICY }],
    entrypoints: ['t/union', 't/union_n', 't/typed', 't/walked', 't/walked_set'],
    annotatedEntrypoints: false,
    optimize: false,
  });
  if (!out.wasm) throw new Error(out.errors.map((e) => e.message).join('; '));
  const calls = new Map<string, number>();
  const counting = Object.fromEntries(
    Object.entries(hostBuiltins({ strict })).map(([name, fn]) => [
      name,
      (...args: unknown[]) => {
        calls.set(name, (calls.get(name) ?? 0) + 1);
        return fn(...args);
      },
    ]),
  );
  return { p: await loadPolicy(out.wasm, undefined, counting), calls };
}

function run(p: Policy, rule: string, input: unknown): unknown {
  const rows = p.evaluate(input, `t/${rule}`) as { result?: unknown }[];
  return rows[0]?.result;
}

t.test('object.union merges in Wasm: the right operand wins, nested objects merge', async (t) => {
  t.ok(HOST_IMPLEMENTATIONS['object.union'], 'the host keeps its implementation for deferred calls');
  const { p, calls } = await setup(true);
  const cases: [unknown, unknown, unknown][] = [
    [{}, {}, {}],
    [{ a: 1 }, {}, { a: 1 }],
    [{}, { a: 1 }, { a: 1 }],
    [
      { a: 1, b: 2 },
      { b: 3, c: 4 },
      { a: 1, b: 3, c: 4 },
    ],
    [{ a: { x: 1, y: { p: 1 } } }, { a: { y: { q: 2 }, z: 3 } }, { a: { x: 1, y: { p: 1, q: 2 }, z: 3 } }],
    [{ a: { x: 1 } }, { a: 5 }, { a: 5 }],
    [{ a: 5 }, { a: { x: 1 } }, { a: { x: 1 } }],
    [{ a: [1, 2] }, { a: [3] }, { a: [3] }],
  ];
  for (const [a, b, want] of cases) t.same(run(p, 'union', { a, b }), want, JSON.stringify([a, b]));
  // The inputs are not changed by a merge: evaluating again gives the same answer.
  t.same(run(p, 'union', { a: { a: { x: 1 } }, b: { a: { y: 2 } } }), { a: { x: 1, y: 2 } });
  t.same([...calls], [], 'no host call');
});

t.test('object.union_n folds left to right in Wasm', async (t) => {
  const { p, calls } = await setup(true);
  t.same(run(p, 'union_n', { list: [] }), {});
  t.same(run(p, 'union_n', { list: [{ a: 1 }] }), { a: 1 });
  t.same(
    run(p, 'union_n', {
      list: [
        { a: 1, n: { x: 1 } },
        { a: 2, n: { y: 2 } },
        { b: 3, n: { x: 9 } },
      ],
    }),
    {
      a: 2,
      b: 3,
      n: { x: 9, y: 2 },
    },
  );
  t.same([...calls], []);
});

t.test('non-string keys and every kind of value survive the merge', async (t) => {
  const { p } = await setup(true);
  // The SDK's JSON result turns the keys into text and the set into an array.
  t.same(run(p, 'typed', {}), { '1': 'one', '[2]': { x: 1, y: 2 }, s: { n: null }, false: 0 });
});

t.test('other operands go to the host, whose errors stay the reference', async (t) => {
  const { p, calls } = await setup(true);
  t.throws(() => run(p, 'union', { a: 1, b: {} }), /object.union: operand 1 must be object but got number/);
  t.throws(() => run(p, 'union', { a: {}, b: 'x' }), /object.union: operand 2 must be object but got string/);
  t.throws(() => run(p, 'union_n', { list: {} }), /object.union_n: operand 1 must be array but got object/);
  t.throws(() => run(p, 'union_n', { list: [{}, 2] }), /object.union_n/);
  t.same(
    [...calls],
    [
      ['object.union', 2],
      ['object.union_n', 2],
    ],
  );
  const lax = await setup(false);
  t.equal(run(lax.p, 'union', { a: 1, b: {} }), undefined, 'undefined outside strict mode');
});

/** walk's answer on plain JSON: pre-order, object keys sorted. */
function walkJs(x: unknown, path: unknown[] = [], out: unknown[] = []): unknown[] {
  out.push([path, x]);
  if (Array.isArray(x)) for (const [i, v] of x.entries()) walkJs(v, [...path, i], out);
  else if (x !== null && typeof x === 'object')
    for (const k of Object.keys(x).sort()) walkJs((x as Record<string, unknown>)[k], [...path, k], out);
  return out;
}

t.test('walk runs in Wasm: pre-order, keys sorted, every path and value', async (t) => {
  const { p, calls } = await setup(true);
  const docs: unknown[] = [
    null,
    'text',
    0,
    [],
    {},
    { b: 1, a: [true, { z: 'x', y: [] }], c: { d: { e: null } } },
    [[[]], { '': 1 }, 'é'],
  ];
  for (const x of docs) t.same(run(p, 'walked', { x }), walkJs(x), JSON.stringify(x));
  // A set's members are path steps and values, in sorted order (numbers before strings before arrays).
  t.same(run(p, 'walked_set', {}), [
    [[], { a: null, b: [3, 'a', [1]] }],
    [['a'], null],
    [['b'], [3, 'a', [1]]],
    [['b', 3], 3],
    [['b', 'a'], 'a'],
    [['b', [1]], [1]],
    [['b', [1], 0], 1],
  ]);
  t.same([...calls], [], 'no host call');
});
