// Native exact arithmetic (plus, minus, mul, rem, div) through the stock SDK.
import t from 'tap';
import { hostBuiltins } from '../../../src/rego/builtins/host/index.js';
import type * as ir from '../../../src/rego/plan/ir.js';
import { at, evalRaw, type LoadedPolicy, l, line, load, makePolicy, returning, s } from './plans.js';

const ops = ['plus', 'minus', 'mul', 'rem', 'div'] as const;

let shared: LoadedPolicy;
async function pol(): Promise<LoadedPolicy> {
  shared ??= await load(
    makePolicy({
      strings: ['result', 'a', 'b'],
      builtins: ops.map((name) => ({ name, arity: 2 })),
      plans: ops.map(
        (op, i): ir.Plan =>
          returning(op, [
            { type: 'dot', source: l(0), key: s(1), target: 3, loc: at },
            { type: 'dot', source: l(0), key: s(2), target: 4, loc: at },
            { type: 'call', func: op, args: [l(3), l(4)], result: 2, loc: line(10 + i, 7) },
          ]),
      ),
    }),
  );
  return shared;
}

/** What calc() returns when evaluation aborts: the message (for the plus/… call sites). */
function thrownText(message: string): string {
  return `policy.rego:14:7: eval_builtin_error: ${message}`;
}

async function calc(op: (typeof ops)[number], a: string, b: string): Promise<string> {
  const p = await pol();
  let out: string;
  try {
    out = evalRaw(p, `{"a":${a},"b":${b}}`, ops.indexOf(op));
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
  const m = /^\[\{"result":(.*)\}\]$/.exec(out);
  return m ? (m[1] as string) : out;
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e instanceof Error ? e.message : e;
  }
  return undefined;
}

t.test('integers, with overflow into exact big integers', async (t) => {
  t.equal(await calc('plus', '2', '3'), '5');
  t.equal(await calc('minus', '2', '3'), '-1');
  t.equal(await calc('mul', '-4', '25'), '-100');
  t.equal(await calc('plus', '9223372036854775807', '1'), '9223372036854775808');
  t.equal(await calc('minus', '-9223372036854775808', '1'), '-9223372036854775809');
  t.equal(await calc('mul', '4294967296', '4294967296'), '18446744073709551616');
  t.equal(await calc('mul', '-9223372036854775808', '-1'), '9223372036854775808');
  t.equal(await calc('plus', '18446744073709551617', '1'), '18446744073709551618');
  t.equal(await calc('minus', '18446744073709551617', '1'), '18446744073709551616');
  t.equal(await calc('mul', '18446744073709551617', '2'), '36893488147419103234');
  t.equal(await calc('plus', '123456789012345678901234567890', '1'), '123456789012345678901234567891');
  t.equal(await calc('minus', '-18446744073709551617', '1'), '-18446744073709551618');
  t.equal(await calc('minus', '18446744073709551617', '18446744073709551617'), '0');
  t.equal(await calc('mul', '1e400', '1e-400'), '1');
});

t.test('decimals are exact; integral results drop the fraction', async (t) => {
  t.equal(await calc('plus', '1.5', '2.5'), '4');
  t.equal(await calc('plus', '1', '2.5'), '3.5');
  t.equal(await calc('mul', '2.5', '2'), '5');
  t.equal(await calc('plus', '0.1', '0.2'), '0.3', 'no binary floating point');
  t.equal(await calc('minus', '0.3', '0.1'), '0.2');
  t.equal(await calc('mul', '0.001', '0.002'), '0.000002');
  t.equal(await calc('minus', '1', '1.000000000000000000001'), '-0.000000000000000000001');
  t.equal(await calc('plus', '1e3', '1e-3'), '1000.001');
});

t.test('rem: integers only, sign of the dividend', async (t) => {
  t.equal(await calc('rem', '10', '3'), '1');
  t.equal(await calc('rem', '-10', '3'), '-1');
  t.equal(await calc('rem', '10', '-3'), '1');
  t.equal(await calc('rem', '-9223372036854775808', '-1'), '0');
  t.equal(await calc('rem', '10', '18446744073709551616'), '10');
  t.equal(await calc('rem', '5', '55340232221128654848'), '5');
  t.equal(await calc('rem', '7', '340282366920938463463374607431768211456'), '7');
  t.equal(await calc('rem', '100', '-18446744073709551616'), '100');
  t.equal(await calc('rem', '18446744073709551617', '18446744073709551616'), '1');
  t.equal(await calc('rem', '10', '18446744073709551617'), '10');
  t.equal(await calc('rem', '4.0', '3'), '1', '4.0 is an integer');
});

t.test('div: exact when the quotient terminates, else 19 significant digits', async (t) => {
  t.equal(await calc('div', '10', '2'), '5');
  t.equal(await calc('div', '1', '4'), '0.25');
  t.equal(await calc('div', '-7', '2'), '-3.5');
  t.equal(await calc('div', '36893488147419103234', '2'), '18446744073709551617');
  t.equal(await calc('div', '0.5', '0.25'), '2');
  t.equal(await calc('div', '1', '3'), '0.3333333333333333333');
  t.equal(await calc('div', '2', '3'), '0.6666666666666666667', 'rounded to nearest');
  t.equal(await calc('div', '-2', '3'), '-0.6666666666666666667');
  t.equal(await calc('div', '1e30', '7'), '142857142857142857100000000000');
  t.equal(await calc('div', '1', '7e20'), '0.000000000000000000001428571428571428571');
  t.equal(await calc('div', '1', '0.0'), thrownText('div: divide by zero'));
});

t.test('errors name the built-in and the call site', async (t) => {
  const p = await pol();
  const run = (op: (typeof ops)[number], input: unknown) => thrown(() => p.evaluate(input, op));
  t.equal(run('div', { a: 1, b: 0 }), 'policy.rego:14:7: eval_builtin_error: div: divide by zero');
  t.equal(run('rem', { a: 1, b: 0 }), 'policy.rego:13:7: eval_builtin_error: rem: modulo by zero');
  t.equal(
    run('rem', { a: 1.5, b: 1 }),
    'policy.rego:13:7: eval_builtin_error: rem: modulo on floating-point number',
  );
  t.equal(
    run('plus', { a: 'x', b: 1 }),
    'policy.rego:10:7: eval_type_error: plus: operand 1 must be number but got string',
  );
  t.equal(
    run('mul', { a: 1, b: [1] }),
    'policy.rego:12:7: eval_type_error: mul: operand 2 must be number but got array',
  );
  t.equal(p.evaluate({ a: 1e300, b: 1 }, 'plus')[0].result, 1e300, 'a 301-digit result is fine');
  t.same(p.evaluate({ a: 1 }, 'plus'), [], 'undefined operand: undefined, no error');
});

t.test('results too long are an error, not memory exhaustion', async (t) => {
  const p = await pol();
  const out = thrown(() => evalRaw(p, '{"a":1e999999999,"b":1}', 0));
  t.equal(out, 'policy.rego:10:7: eval_builtin_error: plus: number too large');
});

t.test('minus on sets is set difference', async (t) => {
  const p = await load(
    makePolicy({
      strings: ['result'],
      builtins: [{ name: 'minus', arity: 2 }],
      plans: [
        returning('diff', [
          { type: 'make-set', target: 3, loc: at },
          { type: 'make-set', target: 4, loc: at },
          { type: 'make-number-int', value: 1, target: 5, loc: at },
          { type: 'make-number-int', value: 2, target: 6, loc: at },
          { type: 'set-add', value: l(5), set: 3, loc: at },
          { type: 'set-add', value: l(6), set: 3, loc: at },
          { type: 'set-add', value: l(6), set: 4, loc: at },
          { type: 'call', func: 'minus', args: [l(3), l(4)], result: 2, loc: at },
        ]),
        returning('bad', [
          { type: 'make-set', target: 3, loc: at },
          { type: 'call', func: 'minus', args: [l(3), l(0)], result: 2, loc: line(3, 4) },
        ]),
      ],
    }),
  );
  t.same(p.evaluate({}, 'diff'), [{ result: [1] }]);
  t.equal(
    thrown(() => p.evaluate(1, 'bad')),
    'policy.rego:3:4: eval_type_error: minus: operand 2 must be set but got number',
  );
});

t.test('sum and product of arrays and sets, exact', async (t) => {
  const p = await load(
    makePolicy({
      strings: ['result'],
      builtins: [
        { name: 'sum', arity: 1 },
        { name: 'product', arity: 1 },
      ],
      plans: [
        returning('sum', [{ type: 'call', func: 'sum', args: [l(0)], result: 2, loc: line(2, 2) }]),
        returning('product', [{ type: 'call', func: 'product', args: [l(0)], result: 2, loc: line(3, 3) }]),
        returning('sum-set', [
          { type: 'make-set', target: 3, loc: at },
          {
            type: 'scan',
            source: 0,
            key: 4,
            value: 5,
            block: { stmts: [{ type: 'set-add', value: l(5), set: 3, loc: at }] },
            loc: at,
          },
          { type: 'call', func: 'sum', args: [l(3)], result: 2, loc: at },
        ]),
      ],
    }),
  );
  const raw = (text: string, entry: number) => evalRaw(p, text, entry);
  t.equal(raw('[1, 2, 3]', 0), '[{"result":6}]');
  t.equal(raw('[]', 0), '[{"result":0}]');
  t.equal(raw('[]', 1), '[{"result":1}]');
  t.equal(raw('[9223372036854775807, 1]', 0), '[{"result":9223372036854775808}]');
  t.equal(raw('[18446744073709551617, 1]', 0), '[{"result":18446744073709551618}]');
  t.equal(raw('[18446744073709551617, 2]', 1), '[{"result":36893488147419103234}]');
  t.equal(raw('[1.5, 2.5]', 0), '[{"result":4}]');
  t.equal(raw('[1, 2.5]', 0), '[{"result":3.5}]');
  t.equal(raw('[1, 1, 2]', 2), '[{"result":3}]', 'a set counts 1 once');
  t.equal(
    thrown(() => p.evaluate('abc', 'sum')),
    'policy.rego:2:2: eval_type_error: sum: operand 1 must be one of {set, array} but got string',
  );
  t.equal(
    thrown(() => p.evaluate([1, 'x'], 'product')),
    'policy.rego:3:3: eval_type_error: product: operand 1 must be array of numbers but got array containing string',
  );
  t.match(
    thrown(() => p.evaluate([1, null], 'sum-set')),
    /eval_type_error: sum: operand 1 must be set of numbers but got set containing null$/,
    "OPA's element error names the set",
  );
});

t.test('sprintf: exact numbers and Rego syntax natively, the rest from the host', async (t) => {
  // The module imports the host's sprintf as airlock.host.sprintf (the SDK's own would shadow it).
  const p = await load(
    makePolicy({
      strings: ['result', 'f', 'args'],
      builtins: [{ name: 'sprintf', arity: 2 }],
      plans: [
        returning('sprintf', [
          { type: 'dot', source: l(0), key: s(1), target: 3, loc: at },
          { type: 'dot', source: l(0), key: s(2), target: 4, loc: at },
          { type: 'call', func: 'sprintf', args: [l(3), l(4)], result: 2, loc: at },
        ]),
      ],
    }),
    hostBuiltins({ strict: true }),
  );
  const fmt = (f: string, args: string) => {
    const out = evalRaw(p, `{"f":${JSON.stringify(f)},"args":${args}}`);
    return JSON.parse(out)[0]?.result as string;
  };
  t.equal(fmt('%v', '[18446744073709551618]'), '18446744073709551618', 'big integers exact');
  t.equal(fmt('%d', '[123456789123456789123]'), '123456789123456789123');
  t.equal(fmt('%v and %v', '[1.5, 4.0]'), '1.5 and 4', 'floats as Go prints them');
  t.equal(fmt('%v', '[0.0001]'), '0.0001');
  t.equal(fmt('hi %v', '[["there", 5, 3.14]]'), 'hi ["there", 5, 3.14]', 'composites in Rego syntax');
  t.equal(fmt('%v', '[{"b": [1], "a": null}]'), '{"a": null, "b": [1]}');
  t.equal(fmt('%s!', '["x"]'), 'x!');
  t.equal(fmt('%s', '[1208925819614629174706175]'), '1208925819614629174706175', '%s of a big integer');
  t.equal(fmt('100%% %v', '[true]'), '100% true');
  t.equal(fmt('%.2f', '[3.14159]'), '3.14', "other verbs: Airlock's host sprintf formats");
  t.equal(fmt('%v', '[1e-7]'), '1e-07', 'exponents: the host formats them as Go does');
  t.equal(fmt('%x', '["hi"]'), '6869', 'Go verbs the SDK (sprintf-js) lacks');
});
