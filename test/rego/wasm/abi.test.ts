// The module's shape against OPA's Wasm ABI 1.2, the non-fast-path context API, and determinism.
import t from 'tap';
import type * as ir from '../../../src/rego/plan/ir.js';
import { compileToWasm } from '../../../src/rego/wasm/index.js';
import { at, cString, l, load, makePolicy, returning, s, wasmApi, writeText } from './plans.js';

const policy = makePolicy({
  strings: ['result', 'x'],
  builtins: [{ name: 'custom.f', arity: 1 }],
  plans: [
    returning('a/x', [{ type: 'dot', source: l(0), key: s(1), target: 2, loc: at }]),
    returning('a/data', [{ type: 'assign-var', source: l(1), target: 2, loc: at }]),
    returning('a/f', [{ type: 'call', func: 'custom.f', args: [l(0)], result: 2, loc: at }]),
  ],
});

t.test('exports and imports are exactly the ABI', async (t) => {
  const mod = new wasmApi.Module(compileToWasm(policy));
  const exports = wasmApi.Module.exports(mod)
    .map((e) => `${e.kind} ${e.name}`)
    .sort();
  t.same(exports, [
    // Beyond the ABI (the SDK ignores it): where the last host built-in call was (call-site.ts).
    'function airlock_host_call_site',
    'function builtins',
    'function entrypoints',
    'function eval',
    'function opa_eval',
    'function opa_eval_ctx_get_result',
    'function opa_eval_ctx_new',
    'function opa_eval_ctx_set_data',
    'function opa_eval_ctx_set_entrypoint',
    'function opa_eval_ctx_set_input',
    'function opa_free',
    'function opa_heap_ptr_get',
    'function opa_heap_ptr_set',
    'function opa_json_dump',
    'function opa_json_parse',
    'function opa_malloc',
    'function opa_value_add_path',
    'function opa_value_dump',
    'function opa_value_parse',
    'function opa_value_remove_path',
    'global opa_wasm_abi_minor_version',
    'global opa_wasm_abi_version',
    'memory memory',
  ]);
  const imports = wasmApi.Module.imports(mod)
    .map((i) => `${i.kind} ${i.module}.${i.name}`)
    .sort();
  // The optimiser drops unused imports: only the opa_builtinN the policy calls remain.
  t.same(imports, ['function env.opa_abort', 'function env.opa_builtin1', 'memory env.memory']);
});

t.test('ABI version globals, entrypoints and builtins tables', async (t) => {
  const pol = await load(policy, { 'custom.f': (x: unknown) => x });
  const ex = pol.wasmInstance.exports;
  t.equal(ex.opa_wasm_abi_version.value, 1);
  t.equal(ex.opa_wasm_abi_minor_version.value, 2);
  t.equal(pol.minorVersion, 2, 'the SDK takes the opa_eval fast path');
  t.same(pol.entrypoints, { 'a/x': 0, 'a/data': 1, 'a/f': 2 });
  t.same(pol.evaluate({ y: 1 }, 'a/f'), [{ result: { y: 1 } }]);
  t.same(JSON.parse(cString(pol.mem, ex.opa_json_dump(ex.builtins()))), { 'custom.f': 0 });
});

t.test('the eval context API (ABI 1.0 path) gives the same results', async (t) => {
  const pol = await load(policy);
  const ex = pol.wasmInstance.exports;
  pol.setData({ d: 1 });
  const base = ex.opa_heap_ptr_get();
  const run = (input: string, entrypoint: number) => {
    ex.opa_heap_ptr_set(base);
    const inputAddr = ex.opa_json_parse(...writeText(pol, input));
    const ctx = ex.opa_eval_ctx_new();
    ex.opa_eval_ctx_set_input(ctx, inputAddr);
    ex.opa_eval_ctx_set_data(ctx, pol.dataAddr);
    ex.opa_eval_ctx_set_entrypoint(ctx, entrypoint);
    t.equal(ex.eval(ctx), 0);
    return cString(pol.mem, ex.opa_json_dump(ex.opa_eval_ctx_get_result(ctx)));
  };
  t.equal(run('{"x":[1,2]}', 0), '[{"result":[1,2]}]');
  t.equal(run('{}', 0), '[]');
  t.equal(run('{}', 1), '[{"result":{"d":1}}]');
  t.same(pol.evaluate({ x: 'fast' }), [{ result: 'fast' }]);
  const ctx = ex.opa_eval_ctx_new();
  ex.opa_eval_ctx_set_entrypoint(ctx, 9);
  t.throws(() => ex.eval(ctx), 'unknown entrypoint id aborts');
  t.throws(() => pol.evaluate({}, 7));
});

t.test('an unknown entrypoint id reports through opa_abort', async (t) => {
  const pol = await load(policy);
  let message: unknown;
  try {
    pol.evaluate({}, 5);
  } catch (e) {
    message = e;
  }
  t.equal(message, 'unknown entrypoint id 5');
});

t.test('deterministic: same IR, same bytes; different IR, different bytes', async (t) => {
  const a = compileToWasm(policy);
  const b = compileToWasm(structuredClone(policy) as ir.Policy);
  t.ok(Buffer.from(a).equals(Buffer.from(b)), 'identical bytes');
  const other: ir.Policy = { ...policy, static: { ...policy.static, strings: ['result', 'y'] } };
  t.notOk(Buffer.from(a).equals(Buffer.from(compileToWasm(other))));
  const unoptimised = compileToWasm(policy, { optimize: false });
  t.ok(unoptimised.length > a.length, 'the optimiser shrinks the module');
  const pol = await load(policy);
  t.same(pol.evaluate({ x: 1 }), [{ result: 1 }]);
});

t.test('a module with no plans still loads', async (t) => {
  const pol = await load(makePolicy({ strings: [], plans: [] }));
  t.same(pol.entrypoints, {});
  t.throws(() => pol.evaluate({}));
});

t.test('memory: static data larger than the default 5 pages needs a bigger memory', async (t) => {
  const strings = ['result', 'x'.repeat(400_000)];
  const big = makePolicy({
    strings,
    plans: [returning('big', [{ type: 'assign-var', source: s(1), target: 2, loc: at }])],
  });
  const wasm = compileToWasm(big);
  const { loadPolicy } = await import('@open-policy-agent/opa-wasm');
  await t.rejects(loadPolicy(wasm), 'the default memory is too small: instantiation fails cleanly');
  const pol = await loadPolicy(wasm, { initial: 16 });
  t.equal(pol.evaluate({})[0].result.length, 400_000);
});
