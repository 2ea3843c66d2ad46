// Live data against every backend: PGlite always, Postgres when DATABASE_URL is set (own database).
import t from 'tap';
import { DataWriteError, Engine, filesFromTarball, LiveData } from '../../src/engine/index.js';
import { backends, fixtureBundle, openStore } from './fixture.js';

const call = (sub: string) => ({ user: { sub }, agent: { id: 'devops-agent' }, tool: { name: 'get_file' } });
const effect = async (e: Engine, sub: string) =>
  ((await e.evaluate('airlock/decision', call(sub))).result as { effect: string }).effect;

async function engine() {
  const e = new Engine();
  await e.loadFiles(await filesFromTarball(await fixtureBundle('live')), 'test');
  return e;
}

for (const backend of backends()) {
  t.test(backend, async (t) => {
    const { store, drop } = await openStore(backend);
    t.teardown(drop);
    const e1 = await engine();
    const live = await LiveData.open(store.db, e1, { pollIntervalMs: 0 });
    t.teardown(() => live.stop());

    t.test('PUT applies before the write resolves', async (t) => {
      t.equal(await effect(e1, 'mallory'), 'allow');
      const { version } = await live.write(
        { op: 'put', path: ['revocations', 'users', 'mallory'], value: true },
        'admin',
      );
      t.ok(version > 0);
      t.equal(await effect(e1, 'mallory'), 'deny');
      t.same(live.document, { revocations: { users: { mallory: true } } });
    });

    t.test('PATCH and DELETE', async (t) => {
      await live.write(
        {
          op: 'patch',
          path: ['revocations', 'users'],
          patch: [
            { op: 'add', path: '/trudy', value: true },
            { op: 'remove', path: '/mallory' },
          ],
        },
        'admin',
      );
      t.equal(await effect(e1, 'mallory'), 'allow');
      t.equal(await effect(e1, 'trudy'), 'deny');
      await live.write({ op: 'delete', path: ['revocations', 'users', 'trudy'] }, 'admin');
      t.equal(await effect(e1, 'trudy'), 'allow');
      await t.rejects(live.write({ op: 'delete', path: ['revocations', 'users', 'nobody'] }, 'admin'), {
        name: 'DataWriteError',
        status: 404,
      });
      const bad = await live
        .write({ op: 'patch', path: ['revocations'], patch: [{ op: 'remove', path: '/missing' }] }, 'admin')
        .catch((e: DataWriteError) => e);
      t.equal((bad as DataWriteError).status, 400);
    });

    t.test('paths the bundle owns are refused', async (t) => {
      const err = await live
        .write({ op: 'put', path: ['fixture', 'allowed_tools'], value: {} }, 'admin')
        .catch((e) => e);
      t.ok(err instanceof DataWriteError);
      t.match(err.message, /owned by the active bundle/);
      await t.rejects(live.write({ op: 'put', path: [], value: {} }, 'admin'), /whole data document/);
      await t.rejects(
        live.write({ op: 'patch', path: [], patch: [{ op: 'add', path: '/airlock', value: 1 }] }, 'admin'),
        /owned by the active bundle/,
      );
    });

    t.test('a restart and another replica see the writes', async (t) => {
      await live.write({ op: 'put', path: ['revocations', 'users', 'eve'], value: true }, 'admin');
      const e2 = await engine();
      const replica = await LiveData.open(store.db, e2, { pollIntervalMs: 0 });
      t.teardown(() => replica.stop());
      t.equal(await effect(e2, 'eve'), 'deny', 'loaded at start');
      await live.write({ op: 'put', path: ['revocations', 'users', 'oscar'], value: true }, 'admin');
      t.equal(await effect(e2, 'oscar'), 'allow', 'not yet polled');
      t.equal(await replica.refresh(), true);
      t.equal(await effect(e2, 'oscar'), 'deny', 'seen after the poll');
      await live.write({ op: 'delete', path: ['revocations'] }, 'admin');
      await replica.refresh();
      t.equal(await effect(e2, 'eve'), 'allow', 'a deleted root reaches the replica (tombstone)');
      t.same(replica.document, {});
    });

    t.test('a replica that checks before every evaluation obeys the very next decision', async (t) => {
      const e3 = await engine();
      const checked = await LiveData.open(store.db, e3, { pollIntervalMs: 0, checkBeforeEvaluation: true });
      t.teardown(() => checked.stop());
      t.equal(await effect(e3, 'zoe'), 'allow');
      await live.write({ op: 'put', path: ['revocations', 'users', 'zoe'], value: true }, 'admin');
      t.equal(await effect(e3, 'zoe'), 'deny', 'the write is seen without a poll');
      await live.write({ op: 'delete', path: ['revocations', 'users', 'zoe'] }, 'admin');
      const many = await Promise.all(Array.from({ length: 20 }, () => effect(e3, 'zoe')));
      t.same(
        new Set(many),
        new Set(['allow']),
        'concurrent evaluations share the look and all see the delete',
      );
      checked.stop();
      await live.write({ op: 'put', path: ['revocations', 'users', 'zoe'], value: true }, 'admin');
      t.equal(
        await effect(e3, 'zoe'),
        'allow',
        'stopped: no more checks (the proof that they were what saw it)',
      );
    });

    t.test('evaluations given one freshness mark share a look sent after it', async (t) => {
      const e4 = await engine();
      const checked = await LiveData.open(store.db, e4, { pollIntervalMs: 0, checkBeforeEvaluation: true });
      t.teardown(() => checked.stop());
      const decision = async (freshSince?: number) =>
        ((await e4.evaluate('airlock/decision', call('yan'), { freshSince })).result as { effect: string })
          .effect;
      const mark = e4.freshnessMark();
      t.type(mark, 'number');
      t.equal(await decision(mark), 'allow', 'the first evaluation of the request looks');
      await live.write({ op: 'put', path: ['revocations', 'users', 'yan'], value: true }, 'admin');
      t.equal(
        await decision(mark),
        'allow',
        'a later one with the same mark reuses that look: no round trip',
      );
      t.equal(await decision(), 'deny', 'without a mark (a new request) it looks again and sees the write');
      const next = e4.freshnessMark();
      await live.write({ op: 'delete', path: ['revocations', 'users', 'yan'] }, 'admin');
      t.equal(await decision(next), 'allow', 'a mark taken after the last look needs a new one');
    });

    t.test('concurrent writes serialise', async (t) => {
      await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          live.write({ op: 'put', path: ['roles', `user${i}`], value: ['reader'] }, 'admin'),
        ),
      );
      t.equal(Object.keys(live.document.roles as object).length, 10);
    });
  });
}

t.test('an evaluation whose live data check fails fails closed, naming no host', async (t) => {
  const e = await engine();
  t.teardown(() => e.close());
  t.equal(await effect(e, 'mallory'), 'allow');
  e.setFreshnessCheck({
    refresh: () => Promise.reject(new Error('connect ECONNREFUSED 10.9.8.7:5432')),
    mark: () => 0,
  });
  const err = await e.evaluate('airlock/decision', call('mallory')).catch((x: Error) => x);
  t.match(err, { name: 'EvaluationError', code: 'no_policy', message: /live data could not be checked/ });
  t.notMatch((err as Error).message, /10\.9\.8\.7/);
  await t.rejects(e.query(['fixture'], {}), { code: 'no_policy' }, 'data queries too');
  e.setFreshnessCheck(undefined);
  t.equal(await effect(e, 'mallory'), 'allow');
});
