// Native set and type built-ins: they see sets and non-string keys as they are, which a host
// built-in cannot (the SDK hands it JSON).
import t from 'tap';
import type * as ir from '../../../src/rego/plan/ir.js';
import { at, evalRaw, type LoadedPolicy, l, line, load, makePolicy, returning } from './plans.js';

// input is an array of arrays; each inner array becomes a set (local 3 = set of those sets,
// local 6 = list of them in order).
const toSets: ir.Stmt[] = [
  { type: 'make-set', target: 3, loc: at },
  { type: 'make-array', capacity: 2, target: 6, loc: at },
  {
    type: 'scan',
    source: 0,
    key: 4,
    value: 5,
    block: {
      stmts: [
        { type: 'make-set', target: 7, loc: at },
        {
          type: 'scan',
          source: 5,
          key: 8,
          value: 9,
          block: { stmts: [{ type: 'set-add', value: l(9), set: 7, loc: at }] },
          loc: at,
        },
        { type: 'set-add', value: l(7), set: 3, loc: at },
        { type: 'array-append', value: l(7), array: 6, loc: at },
      ],
    },
    loc: at,
  },
  { type: 'make-number-int', value: 0, target: 10, loc: at },
  { type: 'make-number-int', value: 1, target: 11, loc: at },
  { type: 'dot', source: l(6), key: l(10), target: 12, loc: at },
  { type: 'dot', source: l(6), key: l(11), target: 13, loc: at },
];

const names = ['or', 'and', 'union', 'intersection', 'type_name', 'is_set', 'is_array'] as const;

let shared: LoadedPolicy;
async function pol(): Promise<LoadedPolicy> {
  shared ??= await load(
    makePolicy({
      strings: ['result'],
      builtins: [
        { name: 'or', arity: 2 },
        { name: 'and', arity: 2 },
        { name: 'union', arity: 1 },
        { name: 'intersection', arity: 1 },
        { name: 'type_name', arity: 1 },
        { name: 'is_set', arity: 1 },
        { name: 'is_array', arity: 1 },
      ],
      plans: [
        returning('or', [
          ...toSets,
          { type: 'call', func: 'or', args: [l(12), l(13)], result: 2, loc: line(2, 1) },
        ]),
        returning('and', [
          ...toSets,
          { type: 'call', func: 'and', args: [l(12), l(13)], result: 2, loc: at },
        ]),
        returning('union', [...toSets, { type: 'call', func: 'union', args: [l(3)], result: 2, loc: at }]),
        returning('intersection', [
          ...toSets,
          { type: 'call', func: 'intersection', args: [l(3)], result: 2, loc: at },
        ]),
        returning('type_name', [
          ...toSets,
          { type: 'call', func: 'type_name', args: [l(12)], result: 2, loc: at },
        ]),
        returning('is_set', [...toSets, { type: 'call', func: 'is_set', args: [l(12)], result: 2, loc: at }]),
        returning('is_array', [{ type: 'call', func: 'is_array', args: [l(0)], result: 2, loc: at }]),
        returning('or-bad', [{ type: 'call', func: 'or', args: [l(0), l(0)], result: 2, loc: line(9, 9) }]),
      ],
    }),
  );
  return shared;
}

const run = async (name: (typeof names)[number] | 'or-bad', input: string) =>
  evalRaw(await pol(), input, [...names, 'or-bad'].indexOf(name));

t.test('or / and of two sets', async (t) => {
  t.equal(await run('or', '[[3,1,2],[3,4,2]]'), '[{"result":[1,2,3,4]}]');
  t.equal(await run('and', '[[3,1,2],[3,4,2]]'), '[{"result":[2,3]}]');
  t.equal(await run('and', '[[1],[2]]'), '[{"result":[]}]');
});

t.test('union / intersection of a set of sets', async (t) => {
  t.equal(await run('union', '[[1,2],[2,3],[]]'), '[{"result":[1,2,3]}]');
  t.equal(await run('intersection', '[[1,2,3],[2,3,4],[3,2]]'), '[{"result":[2,3]}]');
  t.equal(await run('intersection', '[[],[]]'), '[{"result":[]}]', 'two empty sets are one element');
  t.equal(await run('union', '[[],[]]'), '[{"result":[]}]');
  t.equal(await run('intersection', '[[1],[1]]'), '[{"result":[1]}]', 'a single set');
});

t.test('type_name and is_* see sets', async (t) => {
  t.equal(await run('type_name', '[[1],[2]]'), '[{"result":"set"}]');
  t.equal(await run('is_set', '[[1],[2]]'), '[{"result":true}]');
  t.equal(await run('is_array', '[1]'), '[{"result":true}]');
  t.equal(await run('is_array', '{"a":1}'), '[{"result":false}]');
});

t.test('type errors name the operand', async (t) => {
  let message: unknown;
  try {
    await run('or-bad', '[1]');
  } catch (e) {
    message = e instanceof Error ? e.message : e;
  }
  t.equal(message, 'policy.rego:9:9: eval_type_error: or: operand 1 must be set but got array');
});

t.test('object.remove / object.filter keep non-string keys', async (t) => {
  // Builds {1: "one", "1": "string one", [2]: "two"} and removes / keeps keys given as a set {1, [2]}.
  const build: ir.Stmt[] = [
    { type: 'make-object', target: 3, loc: at },
    { type: 'make-number-int', value: 1, target: 4, loc: at },
    { type: 'make-array', capacity: 1, target: 5, loc: at },
    { type: 'make-number-int', value: 2, target: 6, loc: at },
    { type: 'array-append', value: l(6), array: 5, loc: at },
    { type: 'object-insert', key: l(4), value: { kind: 'string', index: 1 }, object: 3, loc: at },
    {
      type: 'object-insert',
      key: { kind: 'string', index: 3 },
      value: { kind: 'string', index: 4 },
      object: 3,
      loc: at,
    },
    { type: 'object-insert', key: l(5), value: { kind: 'string', index: 2 }, object: 3, loc: at },
    { type: 'make-set', target: 7, loc: at },
    { type: 'set-add', value: l(4), set: 7, loc: at },
    { type: 'set-add', value: l(5), set: 7, loc: at },
  ];
  const p = await load(
    makePolicy({
      strings: ['result', 'one', 'two', '1', 'string one'],
      builtins: [
        { name: 'object.remove', arity: 2 },
        { name: 'object.filter', arity: 2 },
      ],
      plans: [
        returning('remove', [
          ...build,
          { type: 'call', func: 'object.remove', args: [l(3), l(7)], result: 2, loc: at },
        ]),
        returning('filter', [
          ...build,
          { type: 'call', func: 'object.filter', args: [l(3), l(7)], result: 2, loc: at },
        ]),
        returning('filter-array', [
          ...build,
          { type: 'call', func: 'object.filter', args: [l(3), l(0)], result: 2, loc: line(4, 2) },
        ]),
        returning('bad', [
          { type: 'call', func: 'object.remove', args: [l(0), l(0)], result: 2, loc: line(5, 5) },
        ]),
      ],
    }),
  );
  t.equal(
    evalRaw(p, '{}', 0, 1),
    '{{"result":{"1":"string one"}}}',
    'value format shows the key is a string',
  );
  t.equal(evalRaw(p, '{}', 1, 1), '{{"result":{1:"one",[2]:"two"}}}');
  t.equal(evalRaw(p, '["1", 1]', 2, 1), '{{"result":{1:"one","1":"string one"}}}', 'keys from an array');
  t.equal(evalRaw(p, '{"1": 0}', 2, 1), '{{"result":{"1":"string one"}}}', 'keys from an object');
  let message: unknown;
  try {
    p.evaluate([1], 'bad');
  } catch (e) {
    message = e instanceof Error ? e.message : e;
  }
  t.equal(message, 'policy.rego:5:5: eval_type_error: object.remove: operand 1 must be object but got array');
  try {
    p.evaluate(7, 'filter-array');
  } catch (e) {
    message = e instanceof Error ? e.message : e;
  }
  t.equal(
    message,
    'policy.rego:4:2: eval_type_error: object.filter: operand 2 must be one of {object, set, array} but got number',
  );
});
