import t from 'tap';
import {
  BuiltinError,
  HOST_IMPLEMENTATIONS,
  hostBuiltinNames,
  hostBuiltins,
  hostImportName,
  newEvaluation,
  runsWhere,
  SHADOWED_BY_SDK,
} from '../../../../src/rego/builtins/host/index.js';
import { allBuiltins } from '../../../../src/rego/builtins/index.js';
import { NATIVE_BUILTINS } from '../../../../src/rego/wasm/builtins.js';

t.test('every host built-in is in the catalogue', async (t) => {
  const known = new Set(allBuiltins().map((b) => b.name));
  const unknown = Object.keys(HOST_IMPLEMENTATIONS).filter((n) => !known.has(n));
  t.same(unknown, [], 'no names outside the catalogue');
  for (const n of SHADOWED_BY_SDK) t.ok(HOST_IMPLEMENTATIONS[n], `${n} has our own implementation too`);
});

t.test('native built-ins are served only when they may defer', async (t) => {
  for (const n of hostBuiltinNames()) {
    const native = NATIVE_BUILTINS.get(n);
    t.ok(native === undefined || native.defer === true, n);
  }
  t.notOk(hostBuiltinNames().includes('count'));
  t.throws(
    () => hostBuiltins({ strict: true, names: ['no.such'] }),
    /no host implementation of built-in no.such/,
  );
});

t.test('strict vs non-strict errors', async (t) => {
  const strict = hostBuiltins({ strict: true });
  const lax = hostBuiltins({ strict: false });
  const bad = () => strict['regex.match']?.('(', 'x');
  t.throws(bad, BuiltinError);
  try {
    bad();
  } catch (e) {
    t.equal((e as BuiltinError).code, 'eval_builtin_error');
    t.equal((e as BuiltinError).builtin, 'regex.match');
  }
  t.equal(lax['regex.match']?.('(', 'x'), undefined);
  t.throws(() => strict['upper']?.(1), /^eval_type_error: upper: operand 1 must be string but got number$/);
  t.equal(lax['upper']?.(1), undefined);
});

t.test('newEvaluation: a new time and new random values', async (t) => {
  let n = 0n;
  const b = hostBuiltins({ strict: true, now: () => ++n });
  const now = () => new TextDecoder().decode(b['time.now_ns']?.() as ArrayBuffer);
  const uuid = () => new TextDecoder().decode(b['uuid.rfc4122']?.('k') as ArrayBuffer);
  const [t1, u1] = [now(), uuid()];
  t.equal(now(), t1);
  t.equal(uuid(), u1);
  newEvaluation(b);
  t.not(now(), t1);
  t.not(uuid(), u1);
});

t.test('built-ins the SDK shadows are also served under an alias', async (t) => {
  const b = hostBuiltins({ strict: true });
  t.equal(hostImportName('sprintf'), 'airlock.host.sprintf');
  t.equal(hostImportName('upper'), 'upper');
  const out = b['airlock.host.sprintf']?.('%v', [['a', 1]]);
  t.equal(
    new TextDecoder().decode(out as ArrayBuffer),
    JSON.stringify('["a", 1]'),
    'Go formatting, not sprintf-js',
  );
  t.equal(b['airlock.host.regex.split'], b['regex.split']);
});

t.test('runsWhere', async (t) => {
  t.equal(runsWhere('count'), 'wasm');
  t.equal(runsWhere('glob.match'), 'host');
  t.equal(runsWhere('http.send'), undefined);
  for (const [name, n] of NATIVE_BUILTINS)
    if (n.defer) t.equal(runsWhere(name), HOST_IMPLEMENTATIONS[name] ? 'wasm+host' : 'wasm', name);
});
