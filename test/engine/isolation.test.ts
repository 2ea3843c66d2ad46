// Evaluation off the main event loop: deadlines that stop a runaway evaluation, workers replaced
// after a deadline or a crash, a worker kept for light inputs, bounded queueing, bounded inputs, and
// data changes that reach every worker before the next evaluation. Real compiled Rego (the stress
// fixture); outcomes and orderings only, no timings.
import t, { type Test } from 'tap';
import { Engine, type EngineOptions, EvaluationError } from '../../src/engine/index.js';
import { stressBundle } from './fixture.js';

async function engine(t: Test, options: EngineOptions = {}): Promise<Engine> {
  const e = new Engine({ workers: 2, timeoutMs: 2000, ...options });
  t.teardown(() => e.close());
  await e.activate(await stressBundle(), 'stress');
  return e;
}

/** Settles `p`, recording `label` in `order` when it does. */
function track(order: string[], label: string, p: Promise<unknown>): Promise<unknown> {
  return p.then(
    (v) => {
      order.push(label);
      return v;
    },
    (err) => {
      order.push(label);
      return err;
    },
  );
}

const RUNAWAY = { n: 100_000 }; // 10^10 steps: minutes, unless stopped

t.test('a runaway evaluation is stopped at the deadline and its worker replaced', async (t) => {
  const e = await engine(t);
  t.same((await e.evaluate('stress/spin', { n: 10 })).result, 0, 'a small one completes');
  await t.rejects(e.evaluate('stress/spin', RUNAWAY), {
    name: 'EvaluationError',
    code: 'timeout',
    message: 'stress/spin: evaluation stopped at the 2000 ms deadline',
  });
  t.equal(e.status().evaluationTimeouts, 1);
  t.equal(e.status().workerRestarts, 1, 'the stopped worker was replaced');
  // Both workers (the survivor and the replacement) serve the next evaluations.
  const [a, b] = await Promise.all([
    e.evaluate('stress/echo', { a: 1 }),
    e.evaluate('stress/echo', { b: 2 }),
  ]);
  t.same([a.result, b.result], [{ a: 1 }, { b: 2 }]);
  t.equal(a.revision, 'stress');
});

t.test('a light evaluation on another worker completes while a heavy one runs', async (t) => {
  const e = await engine(t);
  const order: string[] = [];
  const heavy = track(order, 'heavy', e.evaluate('stress/spin', RUNAWAY));
  const light = await track(order, 'light', e.evaluate('stress/echo', { ok: true }));
  t.same((light as { result: unknown }).result, { ok: true });
  t.match(await heavy, { code: 'timeout' });
  t.same(order, ['light', 'heavy']);
});

t.test('large inputs cannot take every worker: one stays for the others', async (t) => {
  const e = await engine(t);
  const items = Array.from({ length: 20_000 }, (_, i) => `item-${i}`); // > 64 KiB of JSON, quadratic
  const order: string[] = [];
  const heavy1 = track(order, 'heavy1', e.evaluate('stress/pairs', { items }));
  const heavy2 = track(order, 'heavy2', e.evaluate('stress/pairs', { items }));
  const light = track(order, 'light', e.evaluate('stress/echo', { ok: true }));
  t.same(((await light) as { result: unknown }).result, { ok: true });
  t.match(await heavy1, { code: 'timeout' });
  // The second waited for the heavy lane: stopped at its deadline or refused for waiting too long.
  t.match(await heavy2, { name: 'EvaluationError', code: /^(timeout|overloaded)$/ });
  t.equal(order[0], 'light', 'the light evaluation did not wait for a heavy one');
});

t.test('a worker out of memory fails its evaluation and the service continues', async (t) => {
  const e = await engine(t, {
    workerMemoryMb: 16,
    timeoutMs: 60_000,
    inputLimits: { maxNodes: 5_000_000, maxBytes: 64 * 1024 * 1024 },
  });
  const items = Array.from({ length: 300_000 }, (_, i) => ({ i, s: `v${i}` }));
  await t.rejects(e.evaluate('stress/formatted', { items }), {
    name: 'EvaluationError',
    code: 'eval_error',
    message: 'stress/formatted: the evaluation ran out of memory (engine.worker_memory_mb)',
  });
  t.same((await e.evaluate('stress/echo', { after: true })).result, { after: true });
  t.equal(e.status().workerRestarts, 1);
});

t.test('inputs over the limits are refused before evaluation, naming the limit', async (t) => {
  const e = await engine(t, { inputLimits: { maxBytes: 200, maxDepth: 4, maxNodes: 20 } });
  const refused = async (input: unknown, message: string) =>
    t.rejects(e.evaluate('stress/echo', input), {
      name: 'EvaluationError',
      code: 'input_too_large',
      message,
    });
  await refused(
    { s: 'x'.repeat(300) },
    'input is larger than 200 bytes as JSON (engine.input_limits.max_bytes)',
  );
  await refused(
    { s: 'é'.repeat(150) },
    'input is larger than 200 bytes as JSON (engine.input_limits.max_bytes)',
  );
  await refused(
    { a: { b: { c: { d: {} } } } },
    'input nests deeper than 4 levels (engine.input_limits.max_depth)',
  );
  await refused(
    Array.from({ length: 20 }, () => 1),
    'input holds more than 20 values (engine.input_limits.max_nodes)',
  );
  await t.rejects(e.query(['stress', 'echo'], { s: 'x'.repeat(300) }), { code: 'input_too_large' });
  // At the limits: evaluated.
  t.same((await e.evaluate('stress/echo', { a: { b: { c: 1 } } })).result, { a: { b: { c: 1 } } });
  t.same(
    (
      await e.evaluate(
        'stress/echo',
        Array.from({ length: 19 }, () => 1),
      )
    ).defined,
    true,
  );
  t.same((await e.evaluate('stress/echo', { s: 'x'.repeat(150) })).defined, true);
  t.equal(e.status().workerRestarts, 0, 'nothing reached a worker to hurt it');
});

t.test('live data reaches every worker before the next evaluation', async (t) => {
  const e = await engine(t);
  // Two at once: one per worker.
  const both = async () =>
    (
      await Promise.all([
        e.evaluate('stress/revoked', { sub: 'bob' }),
        e.evaluate('stress/revoked', { sub: 'bob' }),
      ])
    ).map((r) => r.result);
  t.same(await both(), [false, false]);
  for (let i = 0; i < 5; i++) {
    e.setLiveData({ revoked: { bob: true } });
    t.same(await both(), [true, true], `revoked on both workers (round ${i})`);
    e.setLiveData({ revoked: {} });
    t.same(await both(), [false, false], `restored on both workers (round ${i})`);
  }
  // A replacement worker starts from the current data.
  e.setLiveData({ revoked: { bob: true } });
  await t.rejects(e.evaluate('stress/spin', RUNAWAY), { code: 'timeout' });
  t.same(await both(), [true, true], 'the replacement holds the live data');
  // And a new bundle reaches every worker the same way.
  const b = await stressBundle();
  await e.activate({ ...b, manifest: { ...b.manifest, revision: 'stress-2' } }, 'stress');
  const revisions = await Promise.all([e.evaluate('stress/echo', 1), e.evaluate('stress/echo', 2)]);
  t.same(
    revisions.map((r) => r.revision),
    ['stress-2', 'stress-2'],
  );
  t.same(await both(), [true, true], 'live data survives the swap');
});

t.test('queueing is bounded in length and in wait', async (t) => {
  const e = await engine(t, { workers: 1, queueLength: 1, queueWaitMs: 300, timeoutMs: 30_000 });
  const running = e.evaluate('stress/spin', RUNAWAY).catch((err: unknown) => err);
  const waiting = e.evaluate('stress/echo', { queued: true });
  await t.rejects(e.evaluate('stress/echo', { third: true }), {
    name: 'EvaluationError',
    code: 'overloaded',
    message: 'stress/echo: 1 evaluations are already waiting for a worker (engine.queue_length)',
  });
  await t.rejects(waiting, {
    code: 'overloaded',
    message: 'stress/echo: no evaluation worker was free within 300 ms (engine.queue_wait_ms)',
  });
  await e.close();
  t.match(await running, { name: 'EvaluationError', code: 'no_policy', message: 'the engine is closed' });
  await t.rejects(e.evaluate('stress/echo', {}), EvaluationError);
});
