// Bad input never crashes the host: memory exhaustion, conflicts and built-in
// errors inside the module come back as evaluation errors with a location.
import { loadPolicy } from '@open-policy-agent/opa-wasm';
import t from 'tap';
import { hostBuiltins } from '../../src/rego/builtins/host/index.js';
import { compile } from '../../src/rego/compile.js';
import { withCallSite } from '../../src/rego/wasm/index.js';

function wasmOf(text: string, entrypoints: string[]): Uint8Array {
  const r = compile({ sources: [{ file: 'limits.rego', text }], entrypoints, optimize: false });
  if (!r.wasm) throw new Error(r.errors.map((e) => e.message).join('\n'));
  return r.wasm;
}

function message(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (err && typeof err === 'object' && 'message' in err)
    return String((err as { message: unknown }).message);
  return String(err);
}

t.test(
  'memory exhausted inside the module is an evaluation error, and the policy stays usable',
  async (t) => {
    const wasm = wasmOf(
      'package l\n\nbig := [x | some i in numbers.range(1, input.n); x := {"i": i, "s": input.s}]\n',
      ['l/big'],
    );
    // 64 KiB pages: allow at most 4 MiB.
    const policy = await loadPolicy(wasm, { initial: 5, maximum: 64 }, hostBuiltins({ strict: true }));
    let error: unknown;
    try {
      policy.evaluate({ n: 2_000_000, s: 'x'.repeat(64) }, 'l/big');
    } catch (err) {
      error = err;
    }
    t.ok(error, 'the evaluation failed');
    t.match(message(error), /out of memory|memory/i);
    const small = policy.evaluate({ n: 2, s: 'ok' }, 'l/big') as { result: unknown }[];
    t.same(small[0]?.result, [
      { i: 1, s: 'ok' },
      { i: 2, s: 'ok' },
    ]);
  },
);

t.test('a conflict names the rule and its location', async (t) => {
  const wasm = wasmOf('package l\n\np := 1 if input.a\n\np := 2 if input.b\n', ['l/p']);
  const policy = await loadPolicy(wasm, undefined, hostBuiltins({ strict: true }));
  t.throws(() => policy.evaluate({ a: true, b: true }, 'l/p'));
  try {
    policy.evaluate({ a: true, b: true }, 'l/p');
  } catch (err) {
    t.match(
      message(err),
      /^limits\.rego:5:\d+: eval_conflict_error: rule data\.l\.p produced conflicting values/,
    );
  }
});

t.test('a built-in error in strict mode carries the call site', async (t) => {
  const wasm = wasmOf('package l\n\np := x if {\n\tx := base64.decode(input.s)\n}\n', ['l/p']);
  const strict = await loadPolicy(wasm, undefined, hostBuiltins({ strict: true }));
  let error: unknown;
  try {
    strict.evaluate({ s: '%%%' }, 'l/p');
  } catch (err) {
    error = withCallSite(err, strict);
  }
  t.match(message(error), /^limits\.rego:4: eval_builtin_error: base64\.decode: /);
  const lenient = await loadPolicy(wasm, undefined, hostBuiltins({ strict: false }));
  t.same(lenient.evaluate({ s: '%%%' }, 'l/p'), [], 'not strict: the call is undefined');
});
