// Every wait for the database is bounded. PGlite runs in-process on one connection, so the wait that
// can grow without end is the queue for that connection behind a transaction that does not finish: a
// record and a health probe must then fail within the bound, queued events must not be written later,
// and once the connection is free again everything works (the connection granted after its caller gave
// up is handed back, not leaked). The Postgres side (SIGSTOP, stop) is test/security/database-outage.
import t from 'tap';
import { type AuditEventInput, AuditStore, AuditWriteError } from '../../src/audit/index.js';

const BOUND_MS = 300;
const event = (i: number): AuditEventInput => ({
  kind: 'decision',
  decisionId: `bounded-${i}`,
  effect: 'allow',
});

t.test('PGlite: a held connection turns waits into errors within the bound', async (t) => {
  const store = await AuditStore.open({ dataDir: `memory://bounded-${process.pid}`, timeoutMs: BOUND_MS });
  t.teardown(() => store.close());
  await store.record(event(0));
  t.same(await store.probe(), { reachable: true, writable: true });

  let release!: () => void;
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  let entered!: () => void;
  const inside = new Promise<void>((resolve) => {
    entered = resolve;
  });
  // A transaction that does not finish holds PGlite's only connection.
  const holder = store.db.transaction().execute(async () => {
    entered();
    await gate;
  });
  await inside;
  const results = await Promise.allSettled([store.record(event(1)), store.record(event(2)), store.probe()]);
  for (const r of results.slice(0, 2)) {
    t.equal(r.status, 'rejected', 'record fails instead of waiting');
    t.type((r as PromiseRejectedResult).reason, AuditWriteError);
  }
  const probe = (results[2] as PromiseFulfilledResult<Awaited<ReturnType<AuditStore['probe']>>>).value;
  t.match(probe, { reachable: false, writable: false, error: /timed out after 300 ms/ });

  release();
  await holder;
  const after = await store.record(event(3));
  t.equal(after.seq, 2, 'the events that failed were never written');
  t.same(await store.probe(), { reachable: true, writable: true }, 'healthy again');
  const report = await store.verify();
  t.equal(report.ok, true);
  t.equal(report.checked, 2);
});

t.test('the writer deadline drops queued events', async (t) => {
  const store = await AuditStore.open({ dataDir: `memory://deadline-${process.pid}`, timeoutMs: 60_000 });
  t.teardown(() => store.close());
  // A short writer deadline with a longer database bound: the writer's own deadline is what fires.
  const { AuditWriter } = await import('../../src/audit/index.js');
  const writer = new AuditWriter(store.db, { timeoutMs: BOUND_MS });
  let release!: () => void;
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  let entered!: () => void;
  const inside = new Promise<void>((resolve) => {
    entered = resolve;
  });
  const holder = store.db.transaction().execute(async () => {
    entered();
    await gate;
  });
  await inside;
  const first = writer.record(event(1)); // its transaction waits for the connection
  const queued = writer.record(event(2)); // waits in the writer's queue
  await t.rejects(first, /not committed within 300 ms/);
  await t.rejects(queued, /not committed within 300 ms/);
  t.equal(writer.stats.timeouts, 2);
  release();
  await holder;
  await writer.flushed();
  const head = await store.head();
  t.equal(head, null, 'neither was written: not the queued one, nor the one whose transaction waited');
  t.equal((await writer.record(event(3))).seq, 1, 'the writer works once the connection is free');
});
