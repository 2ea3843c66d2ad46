// Host built-in calls through the stock SDK: the tagged wire (lossless sets,
// non-string keys, big numbers), names the SDK shadows, and error call sites.
import { loadPolicy } from '@open-policy-agent/opa-wasm';
import t from 'tap';
import { type HostBuiltins, hostBuiltins } from '../../../src/rego/builtins/host/index.js';
import { compile } from '../../../src/rego/compile.js';
import {
  HOST_CALL_SITE_EXPORT,
  hostErrorLocation,
  hostImportName,
  SHADOWED_BY_SDK,
  speaksTaggedWire,
  withCallSite,
} from '../../../src/rego/wasm/index.js';

type Policy = Awaited<ReturnType<typeof loadPolicy>>;

function build(text: string, rules: string[]): Uint8Array {
  const out = compile({
    sources: [{ file: 't.rego', text }],
    entrypoints: rules.map((r) => `t/${r}`),
    annotatedEntrypoints: false,
    optimize: false,
  });
  if (!out.wasm) throw new Error(out.errors.map((e) => e.message).join('; '));
  return out.wasm;
}

async function load(text: string, rules: string[], builtins?: HostBuiltins): Promise<Policy> {
  return loadPolicy(build(text, rules), undefined, builtins ?? hostBuiltins({ strict: true }));
}

function result(p: Policy, rule: string, input: unknown = {}): unknown {
  const rows = p.evaluate(input, `t/${rule}`) as { result?: unknown }[];
  return rows[0]?.result;
}

const ROUND_TRIP = `package t

# object.get, object.keys, json.marshal and upper run on the host (object.filter and walk are native).
set_value := object.get({"k": {1, 2, [3]}}, "k", null)
set_kept if {
	is_set(set_value)
	set_value == {1, 2, [3]}
}

keys := object.keys({1: "a", "1": "b", [2]: "c", {3}: "d"})
keys_kept if {
	count(keys) == 4
	1 in keys
	"1" in keys
	[2] in keys
	{3} in keys
}

big := object.get({"k": 123456789012345678901234567890}, "k", 0)
big_kept if big + 1 == 123456789012345678901234567891

big_i64 := object.get({"k": 9007199254740993}, "k", 0)
big_i64_kept if big_i64 - 9007199254740992 == 1

marshalled := json.marshal([123456789012345678901234567890, 0.1, -5])

nested := object.get({{1, 2}: {"x": {3}, 4: set(), "e": {}}}, {1, 2}, null)
nested_kept if {
	nested == {"x": {3}, 4: set(), "e": {}}
	is_set(nested.x)
	is_set(nested[4])
	is_object(nested.e)
}

walked := [p | walk({"s": {1, 2}}, [p, _])]

walk_sets if {
	[["s"], {1, 2}] in [[p, v] | walk({"s": {1, 2}}, [p, v])]
	[["s", 1], 1] in [[p, v] | walk({"s": {1, 2}}, [p, v])]
}

filtered := object.filter({1: "a", "1": "b", 2: "c"}, {1, 2})

text := upper("é\\"\\n\\u0001ß")

set_printed := sprintf("%v", [{1, 2}])

deferred := sprintf("%5v|%v|%d", ["a", {1, {"k": 2}}, 12345678901234567890])
`;

t.test('host calls keep sets, non-string keys and big numbers', async (t) => {
  const p = await load(ROUND_TRIP, [
    'set_kept',
    'keys_kept',
    'big_kept',
    'big_i64_kept',
    'marshalled',
    'nested_kept',
    'walk_sets',
    'walked',
    'filtered',
    'text',
    'set_printed',
    'deferred',
  ]);
  t.equal(result(p, 'set_kept'), true, 'a set comes back from the host as a set');
  t.equal(result(p, 'keys_kept'), true, 'non-string keys reach the host as themselves');
  t.equal(result(p, 'big_kept'), true, 'an integer beyond 2^64 keeps every digit both ways');
  t.equal(result(p, 'big_i64_kept'), true, 'an integer between 2^53 and 2^63 keeps every digit');
  t.equal(result(p, 'marshalled'), '[123456789012345678901234567890,0.1,-5]');
  t.equal(result(p, 'nested_kept'), true, 'nested sets, empty sets and empty objects');
  t.equal(result(p, 'walk_sets'), true, 'walk over a set yields the members as path keys');
  // The result leaves the module as plain JSON (sets as arrays, non-string keys as text).
  t.same(result(p, 'walked'), [[], ['s'], ['s', 1], ['s', 2]]);
  t.same(result(p, 'filtered'), { '1': 'a', '2': 'c' }, 'number keys 1 and 2 kept, string "1" dropped');
  t.equal(result(p, 'text'), 'É"\n\u0001ß', 'escapes and UTF-8 (Go leaves ß as it is)');
  t.equal(result(p, 'set_printed'), '{1, 2}');
  t.equal(result(p, 'deferred'), '    a|{1, {"k": 2}}|12345678901234567890', 'native sprintf deferring');
});

t.test('the wire between module and host is the tagged encoding', async (t) => {
  const b = hostBuiltins({ strict: true });
  const seen: string[] = [];
  const keys = b['object.keys'];
  if (!keys) throw new Error('object.keys missing');
  b['object.keys'] = (...args: unknown[]) => {
    seen.push(JSON.stringify(args));
    const out = keys(...args);
    seen.push(new TextDecoder().decode(out as ArrayBuffer));
    return out;
  };
  const p = await load(
    `package t
r := object.keys({1: {"a": 12345678901234567890}, "x": {2}})`,
    ['r'],
    b,
  );
  t.same(result(p, 'r'), [1, 'x'], 'the evaluation result is plain JSON');
  t.same(seen, ['[{"o":[[1,{"o":[["a",{"n":"12345678901234567890"}]]}],["x",{"s":[2]}]]}]', '{"s":[1,"x"]}']);
});

t.test('names the SDK shadows reach Airlock', async (t) => {
  t.same(
    SHADOWED_BY_SDK.map(hostImportName),
    SHADOWED_BY_SDK.map((n) => `airlock.host.${n}`),
  );
  const p = await load(
    `package t
split := regex.split("a(?i)B", "xaBy")
json_valid := json.is_valid(input.n)
yaml_valid := yaml.is_valid(input.n)
yaml_out := yaml.marshal({"b": {1}})
yaml_in := yaml.unmarshal("a: {b: 1}")
hex := sprintf("%x", ["hi"])`,
    ['split', 'json_valid', 'yaml_valid', 'yaml_out', 'yaml_in', 'hex'],
  );
  const table = p.wasmInstance as unknown as { exports: Record<string, () => number> };
  const exp = table.exports;
  const mem = () => new Uint8Array(p.mem.buffer);
  const addr = (exp.opa_json_dump as unknown as (a: number) => number)((exp.builtins as () => number)());
  let end = addr;
  while (mem()[end] !== 0) end++;
  const names = Object.keys(JSON.parse(new TextDecoder().decode(mem().subarray(addr, end)))).sort();
  t.same(names, [
    // Native sprintf can fail: its errors go through the host's reporter.
    'airlock.builtin_error',
    'airlock.host.json.is_valid',
    'airlock.host.regex.split',
    'airlock.host.sprintf',
    'airlock.host.yaml.is_valid',
    'airlock.host.yaml.marshal',
    'airlock.host.yaml.unmarshal',
  ]);
  t.same(result(p, 'split'), ['x', 'y'], 'RE2 flags inside the pattern (JS RegExp rejects them)');
  t.equal(result(p, 'json_valid', { n: 1 }), false, 'not a string: false (the SDK answers undefined)');
  t.equal(result(p, 'yaml_valid', { n: 1 }), false);
  t.equal(result(p, 'yaml_out'), 'b:\n  - 1\n');
  t.same(result(p, 'yaml_in'), { a: { b: 1 } });
  t.equal(result(p, 'hex'), '6869', "Go's %x of a string");
});

const ERRORS = `package t

ok := {"a": {1}}
bad if {
	strings.any_prefix_match(input.x, "a")
}
quotient := 1 / input.zero
`;

t.test('host built-in errors carry file:row of the call', async (t) => {
  const p = await load(ERRORS, ['ok', 'bad', 'quotient']);
  t.equal(hostErrorLocation(p), undefined, 'no host call yet');
  let caught: unknown;
  try {
    p.evaluate({ x: 1 }, 't/bad');
  } catch (err) {
    caught = err;
  }
  t.ok(caught instanceof Error, 'the host error reaches the caller');
  t.equal(hostErrorLocation(p), 't.rego:5');
  const located = withCallSite(caught, p);
  t.equal(located, caught, 'same Error object');
  t.equal(
    (located as Error).message,
    't.rego:5: eval_type_error: strings.any_prefix_match: operand 1 must be one of {string, set, array} but got number',
  );
  t.equal(withCallSite(located, p), located, 'a located error is left alone');
  t.equal((located as Error).message.match(/t\.rego:5: /g)?.length, 1);
  t.equal(withCallSite('eval_type_error: x', p), 't.rego:5: eval_type_error: x', 'string errors');
  t.same(withCallSite({ message: 'eval_builtin_error: y' }, p), {
    message: 't.rego:5: eval_builtin_error: y',
  });
  t.equal(withCallSite(42, p), 42);

  // The next evaluation starts in normal mode: plain JSON results, no stale call site.
  t.same(result(p, 'ok'), { a: [1] });
  t.equal(hostErrorLocation(p), undefined);
  t.equal(withCallSite('eval_type_error: x', p), 'eval_type_error: x');
  p.setData({ d: { k: 1 } });
  t.same(result(p, 'ok'), { a: [1] });

  // Native built-in errors already say where (file:row:col); the host's reporter raises them.
  let native: unknown;
  try {
    p.evaluate({ zero: 0 }, 't/quotient');
  } catch (err) {
    native = err;
  }
  t.ok(native instanceof Error, 'a native error reaches the caller as an Error');
  t.match((native as Error).message, /^t\.rego:7:\d+: eval_builtin_error: div: divide by zero$/);
  t.equal(withCallSite(native, p), native);

  // Non-strict: the error makes the call undefined and nothing throws, native or host.
  const lax = await loadPolicy(
    build(ERRORS, ['bad', 'quotient']),
    undefined,
    hostBuiltins({ strict: false }),
  );
  t.same(lax.evaluate({ x: 1 }, 't/bad'), []);
  t.same(lax.evaluate({ zero: 0 }, 't/quotient'), []);
});

t.test('the module says which wire it speaks', async (t) => {
  const wasm = build('package t\nr := upper("a")', ['r']);
  t.equal(speaksTaggedWire(wasm), true);
  t.equal(HOST_CALL_SITE_EXPORT, 'airlock_host_call_site');
  t.equal(speaksTaggedWire(new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0])), false, 'no exports');
  // One export named `memory` (type 2): a module from another compiler.
  const other = new Uint8Array([
    0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 5, 3, 1, 0, 1, 7, 10, 1, 6, 0x6d, 0x65, 0x6d, 0x6f, 0x72, 0x79, 2, 0,
  ]);
  t.equal(speaksTaggedWire(other), false);
  t.equal(speaksTaggedWire(new Uint8Array([1, 2, 3])), false, 'not wasm');
  t.equal(speaksTaggedWire(wasm.subarray(0, 40)), false, 'truncated');
});
