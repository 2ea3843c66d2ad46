import t, { type Test } from 'tap';
import { Engine, EvaluationError, filesFromTarball } from '../../src/engine/index.js';
import { fixtureBundle, fixturePolicy } from './fixture.js';

const call = (sub: string, tool = 'get_file') => ({
  user: { sub },
  agent: { id: 'devops-agent' },
  tool: { name: tool },
});

async function loaded(t: Test, revision = 'r1', options: ConstructorParameters<typeof Engine>[0] = {}) {
  const engine = new Engine({ workers: 1, ...options });
  t.teardown(() => engine.close());
  await engine.loadFiles(await filesFromTarball(await fixtureBundle(revision)), 'test');
  return engine;
}

t.test('no bundle: every evaluation fails closed', async (t) => {
  const engine = new Engine();
  t.equal(engine.status().ready, false);
  await t.rejects(engine.evaluate('airlock/decision', call('alice')), EvaluationError);
  await t.rejects(engine.query(['airlock', 'decision'], call('alice')), /no policy bundle is active/);
});

t.test('evaluates entrypoints against bundle data', async (t) => {
  const engine = await loaded(t, 'r1');
  const allow = await engine.evaluate('airlock/decision', call('alice'));
  t.same(allow, { defined: true, result: { effect: 'allow', reasons: [], revision: 'r1' }, revision: 'r1' });
  const deny = await engine.evaluate('airlock/decision', call('alice', 'delete_repo'));
  t.equal((deny.result as { effect: string }).effect, 'deny');
  await t.rejects(engine.evaluate('airlock/missing', {}), /not an entrypoint/);
});

t.test('falsy inputs reach the policy', async (t) => {
  const engine = await loaded(t);
  for (const input of [false, 0, '', null, [], {}])
    t.same((await engine.evaluate('airlock/echo', input)).result, input);
  t.equal((await engine.evaluate('airlock/echo', undefined)).defined, false, 'no input: input is undefined');
});

t.test('evaluation errors are errors (fail closed), not results', async (t) => {
  const engine = await loaded(t);
  t.same((await engine.evaluate('airlock/division', { divisor: 4 })).result, 0.25);
  await t.rejects(engine.evaluate('broken/always', {}), /broken\.rego:6:\d+: eval_conflict_error: /);
  // A built-in error is no result either: outside strict mode the call is undefined (OPA's rule).
  t.equal((await engine.evaluate('airlock/division', { divisor: 0 })).defined, false);
});

t.test('strict built-in errors: a built-in error fails the evaluation', async (t) => {
  const engine = await loaded(t, 'strict', { strict: true });
  await t.rejects(
    engine.evaluate('airlock/division', { divisor: 0 }),
    /airlock\/division: decision\.rego:25:\d+: eval_builtin_error: div: divide by zero/,
  );
});

t.test('query: data paths, paths above and below entrypoints', async (t) => {
  const engine = await loaded(t, 'q1');
  t.same((await engine.query(['fixture', 'revision'], {})).result, 'q1');
  t.same((await engine.query(['fixture', 'allowed_tools', 'devops-agent', '1'], {})).result, 'get_file');
  t.equal((await engine.query(['nothing', 'here'], {})).defined, false);
  t.same((await engine.query(['airlock', 'decision', 'effect'], call('alice'))).result, 'allow');
  t.equal((await engine.query(['airlock', 'decision', 'nope'], call('alice'))).defined, false);
  const pkg = (await engine.query(['airlock'], { ...call('alice'), divisor: 2 })).result as Record<
    string,
    unknown
  >;
  t.same(Object.keys(pkg).sort(), ['admin', 'decision', 'division', 'echo']);
  t.same(pkg.division, 0.5);
  await t.rejects(
    engine.query([], { divisor: 1 }),
    /broken\/always: .*eval_conflict_error/,
    'an error anywhere below fails the whole query',
  );
  t.same(((await engine.query(['fixture'], {})).result as { revision: string }).revision, 'q1');
});

t.test('live data merges under other roots and applies to the next evaluation', async (t) => {
  const engine = await loaded(t);
  t.equal(
    ((await engine.evaluate('airlock/decision', call('bob'))).result as { effect: string }).effect,
    'allow',
  );
  engine.setLiveData({ revocations: { users: { bob: true } } });
  t.same((await engine.evaluate('airlock/decision', call('bob'))).result, {
    effect: 'deny',
    reasons: ['user bob is revoked'],
  });
  t.equal(
    ((await engine.evaluate('airlock/decision', call('alice'))).result as { effect: string }).effect,
    'allow',
  );
  // Live data under a bundle root is hidden: the bundle owns it.
  engine.setLiveData({ fixture: { allowed_tools: { 'devops-agent': ['delete_repo'] } } });
  t.equal(
    ((await engine.evaluate('airlock/decision', call('alice', 'delete_repo'))).result as { effect: string })
      .effect,
    'deny',
  );
  t.ok(engine.ownsPath(['fixture', 'x']));
  t.ok(engine.ownsPath(['airlock']));
  t.notOk(engine.ownsPath(['revocations', 'users']));
  // Live data survives a bundle swap.
  engine.setLiveData({ revocations: { users: { bob: true } } });
  await engine.loadFiles(await filesFromTarball(await fixtureBundle('r2')), 'test');
  t.equal(
    ((await engine.evaluate('airlock/decision', call('bob'))).result as { effect: string }).effect,
    'deny',
  );
});

t.test('a broken bundle keeps the old one serving and is reported', async (t) => {
  const engine = await loaded(t, 'good');
  const failures: string[] = [];
  engine.on('loadFailed', (f) => failures.push(f.message));
  const files = await filesFromTarball(await fixtureBundle('bad'));
  files.set(
    '/policy.wasm',
    Buffer.concat([Buffer.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]), Buffer.from('garbage')]),
  );
  await t.rejects(engine.loadFiles(files, 'broken-source'), /cannot load the policy module/);
  const s = engine.status();
  t.equal(s.bundle?.revision, 'good');
  t.equal(s.loadFailures, 1);
  t.equal(s.lastFailure?.origin, 'broken-source');
  t.equal(failures.length, 1);
  t.equal((await engine.evaluate('airlock/decision', call('alice'))).revision, 'good');
  const noEntrypoint = await filesFromTarball(await fixtureBundle('bad2'));
  const manifest = JSON.parse(noEntrypoint.get('/.manifest')!.toString());
  manifest.wasm.push({ entrypoint: 'airlock/ghost', module: '/policy.wasm' });
  noEntrypoint.set('/.manifest', Buffer.from(JSON.stringify(manifest)));
  await t.rejects(
    engine.loadFiles(noEntrypoint, 'x'),
    /does not export the manifest's entrypoint\(s\) airlock\/ghost/,
  );
  t.equal(engine.bundle?.revision, 'good');
});

t.test('concurrent loads activate in order; the last one wins', async (t) => {
  const engine = new Engine({ workers: 1 });
  t.teardown(() => engine.close());
  const revs = ['a', 'b', 'c', 'd'];
  const tarballs = await Promise.all(revs.map((r) => fixtureBundle(r)));
  const files = await Promise.all(tarballs.map((b) => filesFromTarball(b)));
  const seen: string[] = [];
  engine.on('activated', (i) => seen.push(i.revision));
  await Promise.all(files.map((f, i) => engine.loadFiles(f, revs[i]!)));
  t.same(seen, revs);
  t.equal(engine.bundle?.revision, 'd');
});

t.test('memory is bounded: an input larger than the memory limit fails the evaluation', async (t) => {
  const engine = await loaded(t, 'mem', { memory: { initialPages: 4, maximumPages: 40 } });
  t.ok((await engine.evaluate('airlock/echo', { small: true })).defined);
  const big = { blob: 'x'.repeat(4 * 1024 * 1024) };
  await t.rejects(engine.evaluate('airlock/echo', big), EvaluationError);
  t.ok(
    (await engine.evaluate('airlock/echo', { small: true })).defined,
    'the policy still serves afterwards',
  );
});

t.test('an evaluation past the deadline is stopped as an error', async (t) => {
  const engine = await loaded(t, 'slow', { timeoutMs: 1 });
  const large = { items: Array.from({ length: 60_000 }, (_, i) => ({ i, s: `v${i}` })) };
  await t.rejects(engine.evaluate('airlock/echo', large), {
    name: 'EvaluationError',
    code: 'timeout',
    message: /airlock\/echo: evaluation stopped at the 1 ms deadline/,
  });
  t.equal(engine.status().evaluationTimeouts, 1);
});

t.test('a dev build activates like a loaded bundle', async (t) => {
  const p = await fixturePolicy();
  const engine = new Engine({ workers: 1 });
  t.teardown(() => engine.close());
  const info = await engine.activate(
    {
      manifest: { revision: 'dev', roots: p.roots },
      wasm: p.wasm,
      entrypoints: ['airlock/decision'],
      data: p.data,
      signed: false,
    },
    'policies',
  );
  t.equal(info.revision, 'dev');
  t.equal(
    ((await engine.evaluate('airlock/decision', call('alice'))).result as { effect: string }).effect,
    'allow',
  );
});
