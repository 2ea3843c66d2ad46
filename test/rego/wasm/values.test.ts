// The runtime's value model through the module's exports and the stock SDK:
// JSON round trips of tricky values, OPA's ordering, Rego value text, paths, bad input.
import t from 'tap';
import type * as ir from '../../../src/rego/plan/ir.js';
import {
  at,
  cString,
  evalRaw,
  type LoadedPolicy,
  l,
  load,
  makePolicy,
  returning,
  s,
  writeText,
} from './plans.js';

// Entrypoints: 0 echoes input, 1 echoes data, 2 is input.a == input.b, 3 compares input.a < input.b,
// 4 collects the elements of input into a set, 5 builds an object keyed by input's elements.
const plans: ir.Plan[] = [
  returning('input', [{ type: 'assign-var', source: l(0), target: 2, loc: at }]),
  returning('data', [{ type: 'assign-var', source: l(1), target: 2, loc: at }]),
  returning('eq', [
    { type: 'dot', source: l(0), key: s(1), target: 3, loc: at },
    { type: 'dot', source: l(0), key: s(2), target: 4, loc: at },
    { type: 'call', func: 'equal', args: [l(3), l(4)], result: 2, loc: at },
  ]),
  returning('lt', [
    { type: 'dot', source: l(0), key: s(1), target: 3, loc: at },
    { type: 'dot', source: l(0), key: s(2), target: 4, loc: at },
    { type: 'call', func: 'lt', args: [l(3), l(4)], result: 2, loc: at },
  ]),
  returning('set', [
    { type: 'make-set', target: 2, loc: at },
    {
      type: 'scan',
      source: 0,
      key: 3,
      value: 4,
      block: { stmts: [{ type: 'set-add', value: l(4), set: 2, loc: at }] },
      loc: at,
    },
  ]),
  returning('keyed', [
    { type: 'make-object', target: 2, loc: at },
    {
      type: 'scan',
      source: 0,
      key: 3,
      value: 4,
      block: { stmts: [{ type: 'object-insert', key: l(4), value: l(3), object: 2, loc: at }] },
      loc: at,
    },
  ]),
];

let shared: LoadedPolicy;
async function pol(): Promise<LoadedPolicy> {
  shared ??= await load(
    makePolicy({
      strings: ['result', 'a', 'b'],
      builtins: [
        { name: 'equal', arity: 2 },
        { name: 'lt', arity: 2 },
      ],
      plans,
    }),
  );
  return shared;
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
}

t.test('big numbers and decimals keep their exact text', async (t) => {
  const p = await pol();
  const text =
    '{"a":1e400,"b":123456789012345678901234567890,"c":-0.000000000000000000001,"d":1.50,"e":-9223372036854775808}';
  t.equal(evalRaw(p, text), `[{"result":${text}}]`);
  p.setData(new TextEncoder().encode('{"x":[18446744073709551616,1E-7]}').buffer);
  t.equal(evalRaw(p, '{}', 1), '[{"result":{"x":[18446744073709551616,1E-7]}}]', 'data too');
});

t.test('numbers compare exactly, across representations', async (t) => {
  const p = await pol();
  const eq = (a: string, b: string) => evalRaw(p, `{"a":${a},"b":${b}}`, 2);
  const lt = (a: string, b: string) => evalRaw(p, `{"a":${a},"b":${b}}`, 3);
  const yes = '[{"result":true}]';
  const no = '[{"result":false}]';
  t.equal(eq('1', '1.0'), yes, '1 == 1.0');
  t.equal(eq('100', '1e2'), yes, '100 == 1e2');
  t.equal(eq('1e400', '10E+399'), yes);
  t.equal(eq('1e400', '1e399'), no);
  t.equal(
    eq('123456789012345678901234567890', '123456789012345678901234567891'),
    no,
    'no rounding through doubles',
  );
  t.equal(eq('0.1', '0.10000000000000001'), no);
  t.equal(eq('-0', '0'), yes);
  t.equal(eq('9223372036854775807', '9223372036854775807.0'), yes);
  t.equal(lt('9007199254740993', '9007199254740994'), yes);
  t.equal(lt('-1e400', '-1e399'), yes);
  t.equal(lt('1e-400', '0'), no);
  t.equal(lt('0.5', '1'), yes);
  t.equal(lt('-2', '-1.5'), yes);
  t.equal(lt('123456789012345678901234567890', '9223372036854775807'), no);
});

t.test('numbers equal by value are one set element and one object key', async (t) => {
  const p = await pol();
  t.equal(evalRaw(p, '[1, 1.0, 1e0, 2, 10E-1]', 4), '[{"result":[1,2]}]');
  t.equal(evalRaw(p, '[1e400, 10e399, 0.5]', 4), '[{"result":[0.5,1e400]}]');
});

t.test('unicode and escapes round-trip', async (t) => {
  const p = await pol();
  const values = [
    'héllo',
    'ß∂ƒ',
    '😀 astral 𝄞',
    'tab\tnew\nline',
    'quote " backslash \\',
    '\u0000\u001f\u007f',
    'é',
  ];
  for (const v of values) t.same(p.evaluate(v), [{ result: v }], JSON.stringify(v));
  t.same(p.evaluate({ '😀': 'key' }), [{ result: { '😀': 'key' } }]);
  const escaped = '"\\ud83d\\ude00 \\u00e9 \\/ \\b\\f\\n\\r\\t"';
  t.same(
    p.evaluate(new TextEncoder().encode(escaped).buffer),
    [{ result: '😀 é / \b\f\n\r\t' }],
    'escapes decoded',
  );
  t.equal(evalRaw(p, escaped), '[{"result":"😀 é / \\b\\f\\n\\r\\t"}]', 'dumped as UTF-8 with short escapes');
  t.equal(evalRaw(p, '"\\ud800x"'), '[{"result":"\uFFFDx"}]', 'a lone surrogate becomes U+FFFD');
  t.equal(evalRaw(p, '"\\u0001"'), '[{"result":"\\u0001"}]');
});

t.test('deep nesting', async (t) => {
  const p = await pol();
  let deep: unknown = 'bottom';
  for (let i = 0; i < 500; i++) deep = i % 2 ? [deep] : { k: deep };
  t.same(p.evaluate(deep), [{ result: deep }], '500 levels');
  const tooDeep = `${'['.repeat(5000)}${']'.repeat(5000)}`;
  t.equal(
    thrown(() => p.evaluate(new TextEncoder().encode(tooDeep).buffer)),
    'invalid input JSON: nesting too deep at byte 1000',
  );
  t.same(p.evaluate([1]), [{ result: [1] }], 'still usable');
});

t.test('objects dump with sorted keys; sets sorted in OPA order', async (t) => {
  const p = await pol();
  t.equal(
    evalRaw(p, '{"b":1,"a":2,"c":{"z":1,"y":2},"B":0}'),
    '[{"result":{"B":0,"a":2,"b":1,"c":{"y":2,"z":1}}}]',
  );
  t.equal(
    evalRaw(p, '[3,"a",null,true,[1],{"k":1},2,false,[0,5],{},"B",2.5,[]]', 4),
    '[{"result":[null,false,true,2,2.5,3,"B","a",[],[0,5],[1],{},{"k":1}]}]',
    'null < booleans < numbers < strings < arrays < objects',
  );
  t.equal(
    evalRaw(p, '[{"b":1},{"a":2},{"a":1,"b":0},{"a":1}]', 4),
    '[{"result":[{"a":1},{"a":1,"b":0},{"a":2},{"b":1}]}]',
    'objects compare by sorted keys, then values, then size',
  );
  const many = Array.from({ length: 300 }, (_, i) => `k${(i * 7919) % 300}`);
  const obj = Object.fromEntries(many.map((k, i) => [k, i]));
  t.same(Object.keys(p.evaluate(obj)[0].result), [...many].sort(), '300 keys sorted (indexed object)');
});

t.test('non-string object keys: JSON text in JSON, values in Rego syntax', async (t) => {
  const p = await pol();
  t.equal(
    evalRaw(p, '[1,"x",[2,"y"],null,{"k":true}]', 5),
    '[{"result":{"null":3,"1":0,"x":1,"[2,\\"y\\"]":2,"{\\"k\\":true}":4}}]',
    'keys in OPA order, written as strings',
  );
  t.equal(
    evalRaw(p, '[1,"x",[2,"y"]]', 5, 1),
    '{{"result":{1:0,"x":1,[2,"y"]:2}}}',
    'value format keeps key types (and the result set is a set)',
  );
  t.equal(evalRaw(p, '[3,1]', 4, 1), '{{"result":{1,3}}}', 'value format writes sets as set literals');
  t.equal(evalRaw(p, '[]', 4, 1), '{{"result":set()}}');
});

t.test('opa_value_parse / opa_value_dump / opa_json_parse / opa_json_dump', async (t) => {
  const p = await pol();
  const ex = p.wasmInstance.exports;
  const valueRoundTrip = (text: string) =>
    cString(p.mem, ex.opa_value_dump(ex.opa_value_parse(...writeText(p, text))));
  const jsonRoundTrip = (text: string) =>
    cString(p.mem, ex.opa_json_dump(ex.opa_json_parse(...writeText(p, text))));
  t.equal(valueRoundTrip('{3, 1, "a", {2}}'), '{1,3,"a",{2}}');
  t.equal(valueRoundTrip('set()'), 'set()');
  t.equal(valueRoundTrip('{1: "one", [1]: set()}'), '{1:"one",[1]:set()}');
  t.equal(valueRoundTrip('{}'), '{}');
  t.equal(jsonRoundTrip(' [ 1 , {"a" : [ ] } ] '), '[1,{"a":[]}]');
  t.equal(cString(p.mem, ex.opa_json_dump(ex.opa_value_parse(...writeText(p, '{2, 1}')))), '[1,2]');
  t.equal(ex.opa_json_parse(...writeText(p, '{1, 2}')), 0, 'JSON has no sets');
  t.equal(ex.opa_json_parse(...writeText(p, '{1: 2}')), 0, 'JSON keys are strings');
  t.equal(ex.opa_value_parse(...writeText(p, '{1, 2: 3}')), 0);
});

t.test('opa_value_add_path / opa_value_remove_path', async (t) => {
  const p = await pol();
  const ex = p.wasmInstance.exports;
  const parse = (text: string) => ex.opa_json_parse(...writeText(p, text));
  const dump = (addr: number) => cString(p.mem, ex.opa_json_dump(addr));
  const base = parse('{"a":{"b":123}}');
  t.equal(ex.opa_value_add_path(base, parse('["a","x","y"]'), parse('{"foo":"bar"}')), 0);
  t.equal(dump(base), '{"a":{"b":123,"x":{"y":{"foo":"bar"}}}}');
  t.equal(ex.opa_value_add_path(base, parse('["a","b"]'), parse('7')), 0, 'replaces');
  t.equal(dump(base), '{"a":{"b":7,"x":{"y":{"foo":"bar"}}}}');
  t.equal(
    ex.opa_value_add_path(base, parse('["a","b","c"]'), parse('1')),
    3,
    'through a non-object: invalid path',
  );
  t.equal(ex.opa_value_add_path(base, parse('[1]'), parse('1')), 3, 'non-string segment');
  t.equal(ex.opa_value_add_path(base, parse('[]'), parse('1')), 3, 'empty path');
  t.equal(ex.opa_value_add_path(parse('[]'), parse('["a"]'), parse('1')), 2, 'base not an object');
  t.equal(dump(base), '{"a":{"b":7,"x":{"y":{"foo":"bar"}}}}', 'unchanged after errors');
  t.equal(ex.opa_value_remove_path(base, parse('["a","x"]')), 0);
  t.equal(dump(base), '{"a":{"b":7}}');
  t.equal(ex.opa_value_remove_path(base, parse('["nope","x"]')), 0, 'absent: nothing to do');
  t.equal(ex.opa_value_remove_path(base, parse('["a","b","c"]')), 3);
  // Removal from an indexed object keeps lookups working.
  const big = parse(JSON.stringify(Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`k${i}`, i]))));
  for (let i = 0; i < 40; i += 2) t.equal(ex.opa_value_remove_path(big, parse(`["k${i}"]`)), 0);
  t.same(
    JSON.parse(dump(big)),
    Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${2 * i + 1}`, 2 * i + 1])),
  );
});

t.test('malformed input JSON: a clear error, and the module keeps working', async (t) => {
  const p = await pol();
  const cases: [string, string][] = [
    ['{"a":', 'invalid input JSON: unexpected end of input at byte 5'],
    ['[1,]', 'invalid input JSON: unexpected character at byte 3'],
    ['01', 'invalid input JSON: unexpected data after the value at byte 1'],
    ['NaN', 'invalid input JSON: unexpected character at byte 0'],
    ["{'a':1}", 'invalid input JSON: expected a string object key at byte 1'],
    ['"a\nb"', 'invalid input JSON: control character in string at byte 2'],
    ['"\\x"', 'invalid input JSON: invalid escape at byte 1'],
    ['"\\u12"', 'invalid input JSON: invalid \\u escape at byte 3'],
    ['1.', 'invalid input JSON: invalid number at byte 0'],
    ['-', 'invalid input JSON: invalid number at byte 0'],
    ['tru', 'invalid input JSON: invalid literal at byte 0'],
    ['[1] [2]', 'invalid input JSON: unexpected data after the value at byte 4'],
    ['{"a" 1}', "invalid input JSON: expected ':' at byte 5"],
    ['set()', 'invalid input JSON: unexpected character at byte 0'],
  ];
  for (const [text, message] of cases) {
    t.equal(
      thrown(() => p.evaluate(new TextEncoder().encode(text).buffer)),
      message,
      text,
    );
  }
  const badUtf8 = new Uint8Array([0x22, 0xc3, 0x28, 0x22]).buffer;
  t.equal(
    thrown(() => p.evaluate(badUtf8)),
    'invalid input JSON: invalid UTF-8 in string at byte 1',
  );
  const surrogateUtf8 = new Uint8Array([0x22, 0xed, 0xa0, 0x80, 0x22]).buffer;
  t.equal(
    thrown(() => p.evaluate(surrogateUtf8)),
    'invalid input JSON: invalid UTF-8 in string at byte 1',
  );
  t.throws(() => p.setData(new TextEncoder().encode('{"a":}').buffer), 'bad data is refused by the SDK');
  p.setData({ ok: true });
  t.same(p.evaluate({ fine: 1 }), [{ result: { fine: 1 } }]);
  t.same(p.evaluate({}, 'data'), [{ result: { ok: true } }]);
});

t.test('memory stays flat over many evaluations', async (t) => {
  const p = await pol();
  p.setData({ roles: { alice: ['admin'] }, tools: Array.from({ length: 50 }, (_, i) => `tool${i}`) });
  const input = { user: 'alice', tool: 'tool7', args: { text: 'x'.repeat(2000), list: [1, 2, 3] } };
  const ex = p.wasmInstance.exports;
  p.evaluate(input);
  const heapAfterOne = ex.opa_heap_ptr_get();
  const pagesAfterOne = p.mem.buffer.byteLength;
  for (let i = 0; i < 3000; i++) p.evaluate(input);
  t.equal(ex.opa_heap_ptr_get(), heapAfterOne, 'the heap ends at the same address each time');
  t.equal(p.mem.buffer.byteLength, pagesAfterOne, 'memory did not grow');
  t.same(p.evaluate(input), [{ result: input }]);
});

t.test('large input grows memory and works', async (t) => {
  const p = await pol();
  const big = Array.from({ length: 20000 }, (_, i) => ({ id: i, name: `n${i}` }));
  const out = p.evaluate(big);
  t.equal(out[0].result.length, 20000);
  t.same(out[0].result[19999], { id: 19999, name: 'n19999' });
});
