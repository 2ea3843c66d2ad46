// Each IR statement, compiled from hand-written plans and run through the stock opa-wasm SDK.
import t from 'tap';
import type * as ir from '../../../src/rego/plan/ir.js';
import { compileToWasm, WasmCompileError } from '../../../src/rego/wasm/index.js';
import { at, b, evalRaw, l, line, load, makePolicy, returning, s, type WasmMemory } from './plans.js';

// strings[0] is always "result".
const S = (...more: string[]) => ['result', ...more];

t.test('dot: return input.x, undefined when absent', async (t) => {
  const pol = await load(
    makePolicy({
      strings: S('x'),
      plans: [returning('test/x', [{ type: 'dot', source: l(0), key: s(1), target: 2, loc: at }])],
    }),
  );
  t.same(pol.evaluate({ x: [1, 'a', { b: 2.5 }] }), [{ result: [1, 'a', { b: 2.5 }] }]);
  t.same(pol.evaluate({ x: null }), [{ result: null }]);
  t.same(pol.evaluate({ y: 1 }), [], 'missing key: undefined, empty result set');
  t.same(pol.evaluate('scalar'), [], 'dot on a scalar is undefined');
  t.same(pol.evaluate(undefined), [], 'no input: undefined');
});

t.test('dot on arrays uses integer indexes; data is local 1', async (t) => {
  const pol = await load(
    makePolicy({
      strings: S('items'),
      plans: [
        returning('test/second', [
          { type: 'dot', source: l(1), key: s(1), target: 3, loc: at },
          { type: 'make-number-int', value: 1, target: 4, loc: at },
          { type: 'dot', source: l(3), key: l(4), target: 2, loc: at },
        ]),
      ],
    }),
  );
  pol.setData({ items: ['a', 'b', 'c'] });
  t.same(pol.evaluate({}), [{ result: 'b' }]);
  pol.setData({ items: ['a'] });
  t.same(pol.evaluate({}), [], 'index out of range is undefined');
  pol.setData({ items: { 1: 'x' } });
  t.same(pol.evaluate({}), [], 'object keys "1" and 1 differ');
});

t.test('set membership: input.role in {"admin", "ops"}', async (t) => {
  const pol = await load(
    makePolicy({
      strings: S('admin', 'ops', 'role'),
      plans: [
        returning('test/allow', [
          { type: 'make-set', target: 3, loc: at },
          { type: 'set-add', value: s(1), set: 3, loc: at },
          { type: 'set-add', value: s(2), set: 3, loc: at },
          { type: 'dot', source: l(0), key: s(3), target: 4, loc: at },
          { type: 'dot', source: l(3), key: l(4), target: 5, loc: at },
          { type: 'assign-var', source: b(true), target: 2, loc: at },
        ]),
      ],
    }),
  );
  t.same(pol.evaluate({ role: 'ops' }), [{ result: true }]);
  t.same(pol.evaluate({ role: 'admin' }), [{ result: true }]);
  t.same(pol.evaluate({ role: 'dev' }), []);
  t.same(pol.evaluate({ role: ['ops'] }), []);
});

t.test('object construction with every scalar kind and exact numbers', async (t) => {
  const policy = makePolicy({
    strings: S(
      'user',
      'n',
      'big',
      'nothing',
      'flag',
      '123456789012345678901234567890',
      'dec',
      '0.1000',
      'list',
    ),
    plans: [
      returning('test/obj', [
        { type: 'make-object', target: 2, loc: at },
        { type: 'dot', source: l(0), key: s(1), target: 3, loc: at },
        { type: 'object-insert', key: s(1), value: l(3), object: 2, loc: at },
        { type: 'make-number-int', value: -42, target: 4, loc: at },
        { type: 'object-insert', key: s(2), value: l(4), object: 2, loc: at },
        { type: 'make-number-ref', index: 6, target: 5, loc: at },
        { type: 'object-insert', key: s(3), value: l(5), object: 2, loc: at },
        { type: 'make-null', target: 6, loc: at },
        { type: 'object-insert', key: s(4), value: l(6), object: 2, loc: at },
        { type: 'object-insert', key: s(5), value: b(false), object: 2, loc: at },
        { type: 'make-number-ref', index: 8, target: 7, loc: at },
        { type: 'object-insert', key: s(7), value: l(7), object: 2, loc: at },
        { type: 'make-array', capacity: 0, target: 8, loc: at },
        { type: 'array-append', value: l(4), array: 8, loc: at },
        { type: 'array-append', value: s(1), array: 8, loc: at },
        { type: 'assign-int', value: 7, target: 9, loc: at },
        { type: 'array-append', value: l(9), array: 8, loc: at },
        { type: 'object-insert', key: s(9), value: l(8), object: 2, loc: at },
      ]),
    ],
  });
  const pol = await load(policy);
  t.same(pol.evaluate({ user: 'alice' }), [
    {
      result: {
        big: Number('123456789012345678901234567890'), // what JSON.parse makes of it
        dec: 0.1,
        flag: false,
        list: [-42, 'user', 7],
        n: -42,
        nothing: null,
        user: 'alice',
      },
    },
  ]);
  t.equal(
    evalRaw(pol, '{"user":"alice"}'),
    '[{"result":{"big":123456789012345678901234567890,"dec":0.1000,"flag":false,' +
      '"list":[-42,"user",7],"n":-42,"nothing":null,"user":"alice"}}]',
    'numbers keep their literal text; keys sorted',
  );
  t.same(pol.evaluate({}), [], 'undefined input.user: object-insert of an undefined value fails');
});

t.test('scan over an array collecting a set (with not-equal)', async (t) => {
  const pol = await load(
    makePolicy({
      strings: S('items', 'b'),
      plans: [
        returning('test/collect', [
          { type: 'make-set', target: 2, loc: at },
          { type: 'dot', source: l(0), key: s(1), target: 3, loc: at },
          {
            type: 'scan',
            source: 3,
            key: 4,
            value: 5,
            block: {
              stmts: [
                { type: 'not-equal', a: l(5), b: s(2), loc: at },
                { type: 'set-add', value: l(5), set: 2, loc: at },
              ],
            },
            loc: at,
          },
        ]),
      ],
    }),
  );
  t.same(pol.evaluate({ items: ['c', 'a', 'b', 'a', 1] }), [{ result: [1, 'a', 'c'] }], 'set dumped sorted');
  t.same(pol.evaluate({ items: { k1: 'z', k2: 'b' } }), [{ result: ['z'] }], 'objects scan values');
  t.same(pol.evaluate({ items: 'abc' }), [{ result: [] }], 'scalars have no elements');
  t.same(pol.evaluate({}), [], 'undefined input.items: the dot fails the block');
});

t.test('scan binds keys: array indexes and object keys', async (t) => {
  const pol = await load(
    makePolicy({
      strings: S(),
      plans: [
        returning('test/keys', [
          { type: 'make-array', capacity: 4, target: 2, loc: at },
          {
            type: 'scan',
            source: 0,
            key: 4,
            value: 5,
            block: { stmts: [{ type: 'array-append', value: l(4), array: 2, loc: at }] },
            loc: at,
          },
        ]),
      ],
    }),
  );
  t.same(pol.evaluate(['x', 'y', 'z']), [{ result: [0, 1, 2] }]);
  t.same(
    pol.evaluate({ b: 1, a: 2 }),
    [{ result: ['a', 'b'] }],
    'object keys in sorted order, as OPA iterates',
  );
});

t.test('host built-in through opa_builtin1 and opa_builtin2', async (t) => {
  const calls: unknown[][] = [];
  const policy = makePolicy({
    strings: S('name', 'sep'),
    builtins: [
      { name: 'custom.upper', arity: 1 },
      { name: 'custom.join', arity: 2 },
    ],
    plans: [
      returning('test/upper', [
        { type: 'dot', source: l(0), key: s(1), target: 3, loc: at },
        { type: 'call', func: 'custom.upper', args: [l(3)], result: 2, loc: at },
      ]),
      returning('test/join', [
        { type: 'dot', source: l(0), key: s(1), target: 3, loc: at },
        { type: 'call', func: 'custom.join', args: [l(3), s(2)], result: 2, loc: at },
      ]),
    ],
  });
  const pol = await load(policy, {
    'custom.upper': (x: unknown) => {
      calls.push([x]);
      return typeof x === 'string' ? x.toUpperCase() : undefined;
    },
    'custom.join': (x: unknown, y: unknown) => `${String(x)}${String(y)}${String(x)}`,
  });
  t.same(pol.evaluate({ name: 'alice' }, 'test/upper'), [{ result: 'ALICE' }]);
  t.same(pol.evaluate({ name: 42 }, 'test/upper'), [], 'host returning undefined: undefined');
  t.same(pol.evaluate({}, 'test/upper'), [], 'undefined argument: the host is not called');
  t.same(calls, [['alice'], [42]]);
  t.same(pol.evaluate({ name: 'a' }, 'test/join'), [{ result: 'asepa' }]);
  t.same(pol.entrypoints, { 'test/upper': 0, 'test/join': 1 });
});

t.test('host built-in errors reach the caller', async (t) => {
  const pol = await load(
    makePolicy({
      strings: S(),
      builtins: [{ name: 'custom.fail', arity: 1 }],
      plans: [
        returning('test/fail', [{ type: 'call', func: 'custom.fail', args: [l(0)], result: 2, loc: at }]),
      ],
    }),
    {
      'custom.fail': () => {
        throw new Error('boom');
      },
    },
  );
  t.throws(() => pol.evaluate({}), /boom/);
  t.throws(() => pol.evaluate(1), /boom/, 'the module stays usable');
});

t.test('native built-ins: count, comparisons, membership', async (t) => {
  const policy = makePolicy({
    strings: S('x', 'y'),
    builtins: [
      { name: 'count', arity: 1 },
      { name: 'lt', arity: 2 },
      { name: 'internal.member_2', arity: 2 },
      { name: 'custom.unused', arity: 0 },
    ],
    plans: [
      returning('count', [{ type: 'call', func: 'count', args: [l(0)], result: 2, loc: at }]),
      returning('lt', [
        { type: 'dot', source: l(0), key: s(1), target: 3, loc: at },
        { type: 'dot', source: l(0), key: s(2), target: 4, loc: at },
        { type: 'call', func: 'lt', args: [l(3), l(4)], result: 2, loc: at },
      ]),
      returning('member', [
        { type: 'dot', source: l(0), key: s(1), target: 3, loc: at },
        { type: 'dot', source: l(0), key: s(2), target: 4, loc: at },
        { type: 'call', func: 'internal.member_2', args: [l(3), l(4)], result: 2, loc: at },
      ]),
    ],
  });
  const pol = await load(policy);
  t.same(pol.evaluate([1, 2, 3], 'count'), [{ result: 3 }]);
  t.same(pol.evaluate({ a: 1 }, 'count'), [{ result: 1 }]);
  t.same(pol.evaluate('héllo😀', 'count'), [{ result: 6 }], 'strings count code points');
  t.throws(
    () => pol.evaluate(5, 'count'),
    {
      message:
        /eval_type_error: count: operand 1 must be one of \{array, object, set, string\} but got number$/,
    },
    'count of a number is a type error (load() reports errors strictly)',
  );
  t.same(pol.evaluate({ x: 1, y: 2 }, 'lt'), [{ result: true }]);
  t.same(pol.evaluate({ x: 'b', y: 'a' }, 'lt'), [{ result: false }]);
  t.same(pol.evaluate({ x: null, y: false }, 'lt'), [{ result: true }], 'null sorts before booleans');
  t.same(pol.evaluate({ x: 2, y: [1, 2] }, 'member'), [{ result: true }]);
  t.same(pol.evaluate({ x: 2, y: { a: 2 } }, 'member'), [{ result: true }]);
  t.same(pol.evaluate({ x: 3, y: [1, 2] }, 'member'), [{ result: false }]);
});

t.test('builtins table lists only host built-ins', async (t) => {
  const policy = makePolicy({
    strings: S(),
    builtins: [
      { name: 'count', arity: 1 },
      { name: 'custom.a', arity: 1 },
      { name: 'custom.b', arity: 3 },
    ],
    plans: [returning('p', [{ type: 'assign-var', source: b(true), target: 2, loc: at }])],
  });
  const pol = await load(policy);
  const exp = pol.wasmInstance.exports;
  const text = evalDump(pol, exp.builtins());
  // count is native; it can fail, so the module also imports the host's error reporter.
  t.same(JSON.parse(text), { 'custom.a': 0, 'custom.b': 1, 'airlock.builtin_error': 2 });
});

function evalDump(
  pol: { wasmInstance: { exports: Record<string, (...a: number[]) => number> }; mem: WasmMemory },
  addr: number,
): string {
  const out = pol.wasmInstance.exports.opa_json_dump?.(addr) ?? 0;
  const buf = new Uint8Array(pol.mem.buffer);
  let end = out;
  while (buf[end] !== 0) end++;
  return new TextDecoder().decode(buf.subarray(out, end));
}

t.test('not: succeeds when its block fails', async (t) => {
  const pol = await load(
    makePolicy({
      strings: S('blocked'),
      plans: [
        returning('test/allow', [
          {
            type: 'not',
            block: {
              stmts: [
                { type: 'dot', source: l(0), key: s(1), target: 3, loc: at },
                { type: 'equal', a: l(3), b: b(true), loc: at },
              ],
            },
            loc: at,
          },
          { type: 'assign-var', source: b(true), target: 2, loc: at },
        ]),
      ],
    }),
  );
  t.same(pol.evaluate({ blocked: true }), []);
  t.same(pol.evaluate({ blocked: false }), [{ result: true }]);
  t.same(pol.evaluate({}), [{ result: true }]);
});

t.test('with: replaces input/data paths inside its block and restores them', async (t) => {
  const withBlock = (stmts: ir.Stmt[]): ir.Stmt => ({
    type: 'with',
    local: 0,
    path: [1],
    value: s(2),
    block: { stmts },
    loc: at,
  });
  const policy = makePolicy({
    strings: S('x', 'mocked', 'a', 'b'),
    plans: [
      returning('test/with', [
        { type: 'make-array', capacity: 2, target: 2, loc: at },
        withBlock([
          { type: 'dot', source: l(0), key: s(1), target: 3, loc: at },
          { type: 'array-append', value: l(3), array: 2, loc: at },
        ]),
        { type: 'dot', source: l(0), key: s(1), target: 4, loc: at },
        { type: 'array-append', value: l(4), array: 2, loc: at },
        { type: 'array-append', value: l(0), array: 2, loc: at },
      ]),
      returning('test/with-data', [
        {
          type: 'with',
          local: 1,
          path: [3, 4],
          value: b(true),
          block: { stmts: [{ type: 'assign-var', source: l(1), target: 2, loc: at }] },
          loc: at,
        },
      ]),
      returning('test/break-out', [
        {
          type: 'block',
          blocks: [{ stmts: [withBlock([{ type: 'break', index: 1, loc: at }])] }],
          loc: at,
        },
        { type: 'assign-var', source: l(0), target: 2, loc: at },
      ]),
      returning('test/whole', [
        {
          type: 'with',
          local: 0,
          path: [],
          value: s(2),
          block: { stmts: [{ type: 'assign-var', source: l(0), target: 2, loc: at }] },
          loc: at,
        },
      ]),
    ],
  });
  const pol = await load(policy);
  t.same(pol.evaluate({ x: 'real', y: 1 }, 'test/with'), [
    { result: ['mocked', 'real', { x: 'real', y: 1 }] },
  ]);
  t.same(pol.evaluate('scalar', 'test/with'), [], 'after the block input is the scalar again (dot fails)');
  pol.setData({ a: { c: 1 }, z: 2 });
  t.same(pol.evaluate({}, 'test/with-data'), [{ result: { a: { b: true, c: 1 }, z: 2 } }]);
  t.same(
    pol.evaluate({}, 'test/with-data'),
    [{ result: { a: { b: true, c: 1 }, z: 2 } }],
    'data not modified',
  );
  t.same(pol.evaluate({ x: 1 }, 'test/break-out'), [{ result: { x: 1 } }], 'break out of a with restores');
  t.same(pol.evaluate({ x: 1 }, 'test/whole'), [{ result: 'mocked' }]);
});

t.test('funcs: call, return-local, multiple blocks, undefined result', async (t) => {
  const funcs: ir.Func[] = [
    {
      name: 'g0.data.test.pair',
      params: [0, 1, 2],
      return: 3,
      blocks: [
        {
          stmts: [
            { type: 'make-array', capacity: 2, target: 3, loc: at },
            { type: 'array-append', value: l(2), array: 3, loc: at },
            { type: 'array-append', value: l(2), array: 3, loc: at },
            { type: 'return-local', source: 3, loc: at },
          ],
        },
      ],
    },
    {
      name: 'g0.data.test.kind',
      params: [0, 1, 2],
      return: 3,
      blocks: [
        {
          stmts: [
            { type: 'is-array', source: l(2), loc: at },
            { type: 'assign-var', source: s(2), target: 3, loc: at },
            { type: 'return-local', source: 3, loc: at },
          ],
        },
        {
          stmts: [
            { type: 'is-object', source: l(2), loc: at },
            { type: 'assign-var', source: s(3), target: 3, loc: at },
          ],
        },
      ],
    },
  ];
  const pol = await load(
    makePolicy({
      strings: S('v', 'array', 'object'),
      funcs,
      plans: [
        returning('pair', [
          { type: 'dot', source: l(0), key: s(1), target: 3, loc: at },
          { type: 'call', func: 'g0.data.test.pair', args: [l(0), l(1), l(3)], result: 2, loc: at },
        ]),
        returning('kind', [
          { type: 'call', func: 'g0.data.test.kind', args: [l(0), l(1), l(0)], result: 2, loc: at },
        ]),
      ],
    }),
  );
  t.same(pol.evaluate({ v: 'a' }, 'pair'), [{ result: ['a', 'a'] }]);
  t.same(pol.evaluate([], 'kind'), [{ result: 'array' }]);
  t.same(pol.evaluate({}, 'kind'), [{ result: 'object' }], 'falls through to the second block');
  t.same(pol.evaluate(3, 'kind'), [], 'no block defines the result: the call is undefined');
});

t.test('call-dynamic finds funcs by path', async (t) => {
  const fn = (name: string, value: number): ir.Func => ({
    name,
    params: [0, 1],
    return: 2,
    path: ['g0', 'data', 'pkg', name],
    blocks: [{ stmts: [{ type: 'make-number-int', value, target: 2, loc: at }] }],
  });
  const pol = await load(
    makePolicy({
      strings: S('fn', 'g0', 'data', 'pkg'),
      funcs: [fn('one', 1), fn('two', 2)],
      plans: [
        returning('dyn', [
          { type: 'dot', source: l(0), key: s(1), target: 3, loc: at },
          { type: 'call-dynamic', func: [s(2), s(3), s(4), l(3)], args: [0, 1], result: 2, loc: at },
        ]),
        returning('wrong-arity', [
          { type: 'call-dynamic', func: [s(2), s(3), s(4), s(4)], args: [0], result: 2, loc: at },
        ]),
      ],
    }),
  );
  t.same(pol.evaluate({ fn: 'one' }, 'dyn'), [{ result: 1 }]);
  t.same(pol.evaluate({ fn: 'two' }, 'dyn'), [{ result: 2 }]);
  t.same(pol.evaluate({ fn: 'three' }, 'dyn'), []);
  t.same(pol.evaluate({ fn: 1 }, 'dyn'), []);
  t.same(pol.evaluate({}, 'wrong-arity'), []);
});

t.test('block and break', async (t) => {
  const pol = await load(
    makePolicy({
      strings: S('a', 'b', 'c'),
      plans: [
        {
          name: 'blocks',
          blocks: [
            {
              stmts: returning('x', [
                { type: 'make-array', capacity: 0, target: 2, loc: at },
                {
                  type: 'block',
                  blocks: [
                    {
                      stmts: [
                        { type: 'array-append', value: s(1), array: 2, loc: at },
                        { type: 'equal', a: b(true), b: b(false), loc: at },
                        { type: 'array-append', value: s(3), array: 2, loc: at },
                      ],
                    },
                    { stmts: [{ type: 'array-append', value: s(2), array: 2, loc: at }] },
                  ],
                  loc: at,
                },
                {
                  type: 'block',
                  blocks: [
                    {
                      stmts: [
                        { type: 'break', index: 0, loc: at },
                        { type: 'array-append', value: s(3), array: 2, loc: at },
                      ],
                    },
                    { stmts: [{ type: 'array-append', value: s(2), array: 2, loc: at }] },
                  ],
                  loc: at,
                },
                { type: 'nop', loc: at },
              ]).blocks[0]!.stmts,
            },
            {
              // break 1 from inside a BlockStmt leaves this plan block: nothing is added.
              stmts: [
                { type: 'block', blocks: [{ stmts: [{ type: 'break', index: 1, loc: at }] }], loc: at },
                ...returning('x', [{ type: 'assign-var', source: s(3), target: 2, loc: at }]).blocks[0]!
                  .stmts,
              ],
            },
          ],
        },
      ],
    }),
  );
  t.same(pol.evaluate({}), [{ result: ['a', 'b', 'b'] }]);
});

t.test('plans: blocks are independent; result set collects each', async (t) => {
  const pol = await load(
    makePolicy({
      strings: S('one', 'two'),
      plans: [
        {
          name: 'multi',
          blocks: [
            {
              stmts: returning('x', [{ type: 'assign-var', source: s(1), target: 2, loc: at }]).blocks[0]!
                .stmts,
            },
            {
              stmts: [
                { type: 'equal', a: l(0), b: b(true), loc: at },
                ...returning('x', [{ type: 'assign-var', source: s(2), target: 2, loc: at }]).blocks[0]!
                  .stmts,
              ],
            },
          ],
        },
      ],
    }),
  );
  t.same(pol.evaluate(false), [{ result: 'one' }]);
  t.same(pol.evaluate(true), [{ result: 'one' }, { result: 'two' }]);
});

t.test('type tests, len, defined/undefined, reset', async (t) => {
  const probe = (name: string, stmts: ir.Stmt[]) =>
    returning(name, [...stmts, { type: 'assign-var', source: b(true), target: 2, loc: at }]);
  const pol = await load(
    makePolicy({
      strings: S('k'),
      plans: [
        probe('array', [{ type: 'is-array', source: l(0), loc: at }]),
        probe('object', [{ type: 'is-object', source: l(0), loc: at }]),
        probe('set', [
          { type: 'make-set', target: 3, loc: at },
          { type: 'is-set', source: l(3), loc: at },
          { type: 'is-set', source: l(0), loc: at },
        ]),
        returning('len', [{ type: 'len', source: l(0), target: 2, loc: at }]),
        probe('defined', [
          { type: 'dot', source: l(0), key: s(1), target: 3, loc: at },
          { type: 'is-defined', source: 3, loc: at },
          { type: 'reset-local', target: 3, loc: at },
          { type: 'is-undefined', source: 3, loc: at },
        ]),
      ],
    }),
  );
  t.same(pol.evaluate([], 'array'), [{ result: true }]);
  t.same(pol.evaluate({}, 'array'), []);
  t.same(pol.evaluate({}, 'object'), [{ result: true }]);
  t.same(pol.evaluate([], 'object'), []);
  t.same(pol.evaluate([], 'set'), [], 'JSON input is never a set');
  t.same(pol.evaluate([1, 2], 'len'), [{ result: 2 }]);
  t.same(pol.evaluate('añb', 'len'), [{ result: 3 }]);
  t.same(pol.evaluate(true, 'len'), []);
  t.same(pol.evaluate({ k: 0 }, 'defined'), [{ result: true }]);
  t.same(pol.evaluate({}, 'defined'), []);
});

t.test('conflicts abort with the rule location', async (t) => {
  const policy = makePolicy({
    strings: S('x', 'a', 'p'),
    plans: [
      {
        name: 'complete',
        blocks: [
          { stmts: [{ type: 'assign-var-once', source: s(1), target: 2, loc: line(3, 5) }] },
          {
            stmts: [
              { type: 'dot', source: l(0), key: s(1), target: 3, loc: line(4, 5) },
              { type: 'assign-var-once', source: l(3), target: 2, loc: line(4, 5) },
            ],
          },
          {
            stmts: [
              { type: 'make-object', target: 4, loc: at },
              { type: 'object-insert', key: s(0), value: l(2), object: 4, loc: at },
              { type: 'result-set-add', value: 4, loc: at },
            ],
          },
        ],
      },
      returning('insert-once', [
        { type: 'make-object', target: 2, loc: at },
        { type: 'object-insert-once', key: s(2), value: s(1), object: 2, loc: line(7, 1) },
        {
          type: 'object-insert-once',
          key: s(2),
          value: l(0),
          object: 2,
          loc: line(8, 2),
          message: 'rule data.x.q produced conflicting values',
        },
      ]),
      returning('merge', [
        { type: 'make-object', target: 6, loc: at },
        { type: 'make-number-int', value: 1, target: 7, loc: at },
        { type: 'object-insert', key: s(3), value: l(7), object: 6, loc: at },
        { type: 'make-object', target: 3, loc: at },
        { type: 'object-insert', key: s(2), value: l(6), object: 3, loc: at },
        { type: 'object-insert', key: s(1), value: s(1), object: 3, loc: at },
        { type: 'object-merge', a: 3, b: 0, target: 2, loc: line(9, 9) },
      ]),
    ],
  });
  const pol = await load(policy);
  t.same(pol.evaluate({ x: 'x' }, 'complete'), [{ result: 'x' }], 'same value twice is fine');
  t.same(pol.evaluate({}, 'complete'), [{ result: 'x' }]);
  t.equal(
    thrown(() => pol.evaluate({ x: 'other' }, 'complete')),
    'policy.rego:4:5: eval_conflict_error: complete rules must not produce multiple outputs',
  );
  t.same(pol.evaluate('x', 'insert-once'), [{ result: { a: 'x' } }]);
  t.equal(
    thrown(() => pol.evaluate('y', 'insert-once')),
    'policy.rego:8:2: eval_conflict_error: rule data.x.q produced conflicting values',
  );
  t.same(
    pol.evaluate({ a: { q: 2 }, x: 'lost', y: 1 }, 'merge'),
    [{ result: { a: { p: 1, q: 2 }, x: 'x', y: 1 } }],
    'objects merge recursively, the first side wins',
  );
  t.same(
    pol.evaluate(undefined, 'merge'),
    [{ result: { a: { p: 1 }, x: 'x' } }],
    'undefined side: the other',
  );
  t.equal(
    thrown(() => pol.evaluate(7, 'merge')),
    'policy.rego:9:9: eval_conflict_error: cannot merge a non-object value',
  );
  t.same(pol.evaluate('x', 'insert-once'), [{ result: { a: 'x' } }], 'usable after an abort');
});

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
}

t.test('compile errors', async (t) => {
  const bad = (stmts: ir.Stmt[], builtins: ir.BuiltinFunc[] = []) =>
    makePolicy({ strings: S(), builtins, plans: [returning('p', stmts)] });
  t.throws(() => compileToWasm(bad([{ type: 'break', index: 3, loc: line(2, 4) }])), {
    name: 'WasmCompileError',
    message: 'policy.rego:2:4: break 3 leaves the plan p',
  });
  t.throws(() => compileToWasm(bad([{ type: 'call', func: 'nope', args: [], result: 2, loc: line(5, 1) }])), {
    message: 'policy.rego:5:1: call to unknown function nope',
  });
  t.throws(
    () => compileToWasm(bad([], [{ name: 'http.send', arity: 1 }])),
    /http.send makes network requests/,
  );
  t.throws(() => compileToWasm(bad([], [{ name: 'x.five', arity: 5 }])), /at most 4/);
  t.throws(() => compileToWasm(bad([{ type: 'return-local', source: 2, loc: at }])), WasmCompileError);
  t.throws(
    () => compileToWasm(bad([{ type: 'assign-var', source: s(9), target: 2, loc: at }])),
    /string index 9/,
  );
});
