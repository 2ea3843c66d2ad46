// The audit store's behaviour, run unchanged against every backend (see pglite.test.ts, postgres.test.ts).
import { generateKeyPairSync } from 'node:crypto';
import { CompiledQuery, type Kysely, sql } from 'kysely';
import type { Test } from 'tap';
import { measuredEvent } from '../../src/audit/canonical.js';
import {
  type AuditEventInput,
  type AuditSchema,
  type AuditStore,
  AuditWriteError,
  AuditWriter,
  Checkpointer,
  type CheckpointSink,
  chainHash,
  InvalidEventError,
  migrateToLatest,
  pendingMigrations,
  type Recorded,
  signCheckpoint,
  verifyChain,
} from '../../src/audit/index.js';
import { AUDIT_MIGRATIONS, applyMigrations, type MigrationSet } from '../../src/audit/migrations/index.js';
import { buildQuery, rowToEvent } from '../../src/audit/query.js';
import type { Backend } from './backends.js';

const users = ['alice', 'bob', 'carol', 'dave'];
const agents = ['devops-agent', 'support-agent', 'finance-agent'];
const tools = ['read_file', 'query_salaries', 'delete_repo', 'send_mail', 'list_issues'];

/** A varied event; `i` picks user, agent and tool round-robin. */
export function sampleEvent(i: number, over: Partial<AuditEventInput> = {}): AuditEventInput {
  return {
    kind: 'decision',
    decisionId: `dec-${i}`,
    phase: 'request',
    user: { sub: users[i % users.length]!, claims: { email: `u${i}@corp.example`, groups: ['eng'] } },
    agentId: agents[i % agents.length]!,
    actor: { sub: agents[i % agents.length]! },
    model: { provider: 'anthropic', name: 'claude', attested: false },
    virtualServer: 'devops',
    upstreamServer: 'github',
    target: { type: 'tool', name: tools[i % tools.length]! },
    arguments: { n: i, path: `/srv/${i}`, nested: { ok: true, ratio: i / 7, text: 'zürich ✓ \u2028 "q"' } },
    effect: i % 5 === 0 ? 'deny' : 'allow',
    reasons: i % 5 === 0 ? ['destructive tools need approval'] : [],
    bundleRevision: 'rev-1',
    timings: { policy_ms: 0.25 },
    ...over,
  };
}

const run = (db: Kysely<AuditSchema>, text: string) => sql.raw(text).execute(db);

async function count(db: Kysely<AuditSchema>): Promise<number> {
  const r = await db
    .selectFrom('audit_events')
    .select((eb) => eb.fn.countAll().as('n'))
    .executeTakeFirstOrThrow();
  return Number(r.n);
}

/** Rejects with the database's message, or fails the test when `p` resolves. */
async function refused(t: Test, p: Promise<unknown>, pattern: RegExp, what: string): Promise<void> {
  try {
    await p;
    t.fail(`${what}: expected a refusal`);
  } catch (err) {
    t.match((err as Error).message, pattern, what);
  }
}

/** Runs `tamper` as a superuser with the triggers off, checks verify's verdict, then restores the chain. */
async function tampered(
  t: Test,
  store: AuditStore,
  tamper: (db: Kysely<AuditSchema>) => Promise<unknown>,
  check: (report: Awaited<ReturnType<typeof verifyChain>>) => void,
  verifyOptions: Parameters<typeof verifyChain>[1] = {},
): Promise<void> {
  const db = store.db;
  await run(db, 'DROP TABLE IF EXISTS audit_snapshot');
  await run(db, 'CREATE TABLE audit_snapshot AS SELECT * FROM audit_events');
  await run(db, 'ALTER TABLE audit_events DISABLE TRIGGER USER');
  try {
    await tamper(db);
  } finally {
    await run(db, 'ALTER TABLE audit_events ENABLE TRIGGER USER');
  }
  check(await verifyChain(db, verifyOptions));
  await run(db, 'ALTER TABLE audit_events DISABLE TRIGGER USER');
  await run(db, 'DELETE FROM audit_events');
  await run(db, 'INSERT INTO audit_events SELECT * FROM audit_snapshot');
  await run(db, 'ALTER TABLE audit_events ENABLE TRIGGER USER');
  await run(db, 'DROP TABLE audit_snapshot');
  t.ok((await verifyChain(db)).ok, 'chain restored after the tamper case');
}

/** Moves rows with seq > k up by `by` (negative to move down), trigger-free, avoiding key clashes. */
async function renumber(db: Kysely<AuditSchema>, k: number, by: number): Promise<void> {
  await run(db, `UPDATE audit_events SET seq = seq + 1000000 WHERE seq > ${k}`);
  await run(db, `UPDATE audit_events SET seq = seq - 1000000 + (${by}) WHERE seq > 1000000`);
}

async function rowAt(db: Kysely<AuditSchema>, seq: number) {
  return rowToEvent(
    await db.selectFrom('audit_events').selectAll().where('seq', '=', seq).executeTakeFirstOrThrow(),
  );
}

export function auditSuite(t: Test, backend: Backend): void {
  let store: AuditStore;

  t.before(async () => {
    store = await backend.open();
  });
  t.teardown(async () => {
    await store?.close();
    await backend.teardown();
  });

  t.test('migrations are idempotent', async (t) => {
    t.same(await pendingMigrations(store.db), [], 'nothing pending after open');
    t.same(await migrateToLatest(store.db), { applied: [] }, 'a second run applies nothing');
    const again = await backend.open();
    t.same(await pendingMigrations(again.db), [], 'reopening does not migrate again');
    await again.close();
  });

  t.test('record resolves after commit with its place in the chain', async (t) => {
    const r1 = await store.record(sampleEvent(1));
    const r2 = await store.record(
      sampleEvent(2, { kind: 'call_result', phase: 'response', result: { rows: [1, 2] } }),
    );
    t.equal(r1.seq, 1);
    t.equal(r2.seq, 2);
    t.ok(r2.time.getTime() >= r1.time.getTime(), 'time never goes backwards');
    const stored = await rowAt(store.db, 2);
    t.equal(stored.hash, r2.hash, 'the resolved hash is the stored hash');
    t.equal(stored.prevHash, r1.hash, 'linked to its predecessor');
    t.equal(chainHash(stored, stored.prevHash), stored.hash, 'hash recomputes from the stored row');
    t.same(stored.arguments, sampleEvent(2).arguments, 'arguments round-trip exactly');
    t.same(stored.result, { rows: [1, 2] });
    t.equal(stored.userSub, 'carol');
    t.same(stored.userClaims, { email: 'u2@corp.example', groups: ['eng'] });
    t.equal(stored.targetType, 'tool');
    t.equal(stored.targetName, 'delete_repo');
    t.same(stored.reasons, []);
    const report = await store.verify();
    t.ok(report.ok, 'verify passes');
    t.same(report.head, { seq: 2, hash: r2.hash });
  });

  t.test('bad events are refused before the database and leave no trace', async (t) => {
    const before = await count(store.db);
    await t.rejects(store.record(sampleEvent(3, { arguments: { s: 'a\u0000b' } })), InvalidEventError);
    await t.rejects(
      store.record({ ...sampleEvent(3), kind: 'nonsense' } as unknown as AuditEventInput),
      /kind: expected one of/,
    );
    await t.rejects(store.record(sampleEvent(3, { result: { x: Number.NaN } })), /result\/x/);
    t.equal(await count(store.db), before, 'nothing written');
  });

  t.test('50 concurrent writers produce one gap-free, valid chain', async (t) => {
    // Five writers (replicas: separate connections on Postgres) with ten concurrent callers each.
    const replicas = await Promise.all(Array.from({ length: 5 }, () => backend.open()));
    const start = (await store.head())?.seq ?? 0;
    const acked: Recorded[] = [];
    await Promise.all(
      replicas.flatMap((replica, r) =>
        Array.from({ length: 10 }, async (_, c) => {
          for (let k = 0; k < 4; k++)
            acked.push(await replica.record(sampleEvent(1000 + r * 100 + c * 10 + k)));
        }),
      ),
    );
    for (const replica of replicas) await replica.close();
    t.equal(acked.length, 200);
    const seqs = acked.map((a) => a.seq).sort((a, b) => a - b);
    t.same(
      seqs,
      Array.from({ length: 200 }, (_, i) => start + 1 + i),
      'every seq used once, no gaps',
    );
    const report = await store.verify();
    t.ok(report.ok, 'the chain verifies');
    t.equal(report.head?.seq, start + 200);
    for (const a of acked.slice(0, 20))
      t.equal((await rowAt(store.db, a.seq)).hash, a.hash, `seq ${a.seq} as acked`);
  });

  t.test('group commit shares transactions among concurrent callers', async (t) => {
    const writer = new AuditWriter(store.db, { maxBatch: 16 });
    const acked = await Promise.all(
      Array.from({ length: 40 }, (_, i) => writer.record(sampleEvent(2000 + i))),
    );
    t.equal(writer.stats.events, 40);
    t.ok(writer.stats.batches < 40, `40 events in ${writer.stats.batches} transactions`);
    t.ok(writer.stats.largestBatch <= 16, 'batches respect maxBatch');
    const seqs = acked.map((a) => a.seq);
    t.same(
      seqs,
      [...seqs].sort((a, b) => a - b),
      'callers get seqs in call order',
    );
    await writer.close();
    await t.rejects(writer.record(sampleEvent(1)), AuditWriteError, 'a closed writer refuses');
    const tiny = new AuditWriter(store.db, { maxBatchBytes: 1 });
    await Promise.all(Array.from({ length: 5 }, (_, i) => tiny.record(sampleEvent(2100 + i))));
    t.equal(tiny.stats.batches, 5, 'a byte budget below one event: one event per transaction');
    const lingering = new AuditWriter(store.db, { lingerMs: 50 });
    const first = lingering.record(sampleEvent(2200));
    await new Promise((r) => setImmediate(r));
    await Promise.all([first, lingering.record(sampleEvent(2201))]);
    t.equal(lingering.stats.batches, 1, 'lingerMs gathers calls from later ticks into one transaction');
    t.ok((await store.verify()).ok);
  });

  t.test('the database refuses UPDATE, DELETE and TRUNCATE, even from the owner', async (t) => {
    const db = store.db;
    await refused(
      t,
      run(db, `UPDATE audit_events SET effect = 'allow' WHERE seq = 1`),
      /append-only: UPDATE/,
      'UPDATE',
    );
    await refused(t, run(db, 'DELETE FROM audit_events WHERE seq = 1'), /append-only: DELETE/, 'DELETE');
    await refused(
      t,
      run(db, 'DELETE FROM audit_events WHERE false'),
      /append-only: DELETE/,
      'DELETE of no rows',
    );
    await refused(t, run(db, 'TRUNCATE audit_events'), /append-only: TRUNCATE/, 'TRUNCATE');
    t.ok((await store.verify()).ok, 'chain untouched');
  });

  t.test('the gateway role can only INSERT and SELECT', async (t) => {
    await backend.asGateway(async (gw) => {
      const r = await gw.record(sampleEvent(3000));
      t.ok(r.seq > 0, 'the gateway role records events');
      const page = await gw.query({ decisionId: 'dec-3000' });
      t.equal(page.events.length, 1, 'and reads them');
      const db = gw.db;
      await refused(t, run(db, `UPDATE audit_events SET effect = 'allow'`), /permission denied/, 'UPDATE');
      await refused(t, run(db, 'DELETE FROM audit_events'), /permission denied/, 'DELETE');
      await refused(t, run(db, 'TRUNCATE audit_events'), /permission denied/, 'TRUNCATE');
      await refused(
        t,
        run(db, 'ALTER TABLE audit_events DISABLE TRIGGER USER'),
        /must be owner/,
        'disabling triggers',
      );
      await refused(t, run(db, 'DROP TABLE audit_events'), /must be owner/, 'DROP');
    });
    t.ok((await store.verify()).ok);
  });

  t.test('inserts that do not extend the chain are refused', async (t) => {
    const head = (await store.head())!;
    const base = await rowAt(store.db, head.seq);
    const forged = { ...base, seq: head.seq + 1, time: base.time };
    const insert = (seq: number, prev: string) =>
      run(
        store.db,
        `INSERT INTO audit_events (seq, time, kind, prev_hash, hash) VALUES (${seq}, now(), 'decision', '${prev}', '${chainHash({ ...forged, seq }, prev)}')`,
      );
    await refused(t, insert(head.seq + 1, '1'.repeat(64)), /prev_hash of seq/, 'wrong prev_hash');
    await refused(t, insert(head.seq + 5, head.hash), /does not extend the chain/, 'a gap');
    await refused(t, insert(head.seq, base.prevHash), /duplicate key|unique/, 'an existing seq');
    t.equal((await store.head())?.seq, head.seq);
  });

  t.test(
    'migration 0004 upgrades an existing trail: rows from before and after form one chain',
    async (t) => {
      const database = await backend.fresh();
      try {
        const db = database.db;
        // The schema as it was before 0004, with a trail written the way the writer wrote it then.
        const before: MigrationSet = {
          ...AUDIT_MIGRATIONS,
          migrations: AUDIT_MIGRATIONS.migrations.slice(0, 3),
        };
        await applyMigrations(db, before);
        t.same(
          await pendingMigrations(db),
          ['0004_append', '0005_model_index'],
          'an existing database is behind by 0004 and what follows',
        );
        const old = new AuditWriter(db, { path: 'transaction' });
        const early = await Promise.all(
          Array.from({ length: 12 }, (_, i) => old.record(sampleEvent(9000 + i))),
        );
        await refused(
          t,
          new AuditWriter(db).record(sampleEvent(9050)),
          /airlock_audit_append/,
          'the new writer needs the migration (it fails closed, it does not fall back)',
        );
        t.same(
          await migrateToLatest(db),
          { applied: ['0004_append', '0005_model_index'] },
          'the upgrade applies 0004 and what follows, nothing else',
        );
        const writer = new AuditWriter(db);
        const late = await Promise.all(
          Array.from({ length: 12 }, (_, i) => writer.record(sampleEvent(9100 + i))),
        );
        t.same(
          [...early, ...late].map((r) => r.seq),
          Array.from({ length: 24 }, (_, i) => i + 1),
          'the chain continues from the old head without a gap',
        );
        t.equal(
          (await rowAt(db, 13)).prevHash,
          early.at(-1)!.hash,
          'the first new row links to the last old one',
        );
        for (const r of late) t.equal((await rowAt(db, r.seq)).hash, r.hash, `seq ${r.seq} as acked`);
        const report = await verifyChain(db);
        t.ok(report.ok, 'verify proves old and new rows alike');
        t.equal(report.checked, 24);
      } finally {
        await database.close();
      }
    },
  );

  t.test('the old and the new append path share the chain lock', async (t) => {
    const start = (await store.head())?.seq ?? 0;
    const writers = [
      new AuditWriter(store.db, { path: 'transaction', maxBatch: 7 }),
      new AuditWriter(store.db, { maxBatch: 5 }),
    ];
    const acked = await Promise.all(
      Array.from({ length: 60 }, (_, i) => writers[i % 2]!.record(sampleEvent(9200 + i))),
    );
    t.same(
      acked.map((a) => a.seq).sort((a, b) => a - b),
      Array.from({ length: 60 }, (_, i) => start + 1 + i),
      'every seq used once, no gaps',
    );
    for (const a of acked) {
      const row = await rowAt(store.db, a.seq);
      if (row.hash !== a.hash || row.time.getTime() !== a.time.getTime())
        t.fail(`seq ${a.seq} differs from its ack`);
    }
    t.ok((await store.verify()).ok, 'the chain verifies');
  });

  t.test('the append function stores exactly what it hashed and refuses anything else', async (t) => {
    const head = (await store.head())!;
    const append = (parts: string[], at = new Date()) =>
      sql<{
        appended_seq: string | number;
        appended_hash: string;
      }>`SELECT * FROM airlock_audit_append(${parts}::text[], ${at.toISOString()}::timestamptz)`.execute(
        store.db,
      );
    const { parts } = measuredEvent(sampleEvent(9300, { details: { note: 'ünïcødé \u2028 "q"', n: 1e21 } }));
    const p = [parts.beforeSeq, parts.beforeTime, parts.rest];
    const past = new Date(head.time.getTime() - 3_600_000);
    const { rows } = await append(p, past);
    const row = await rowAt(store.db, head.seq + 1);
    t.equal(Number(rows[0]!.appended_seq), head.seq + 1);
    t.equal(row.hash, rows[0]!.appended_hash);
    t.equal(chainHash(row, row.prevHash), row.hash, 'the stored columns rehash to the server-computed hash');
    t.same(row.details, { note: 'ünïcødé \u2028 "q"', n: 1e21 });
    t.equal(row.time.getTime(), head.time.getTime(), 'a time before the head is raised to the head');
    await refused(t, append(p.slice(0, 2)), /three parts per event/, 'a part missing');
    await refused(t, append([]), /three parts per event/, 'no events');
    await refused(t, append(['{"v":1,"x":', ',"y":"', '"}']), /not a canonical encoding/, 'not an event');
    await refused(t, append(['{"v":1,"seq":', ',"time":"', '"']), /json/i, 'not JSON');
    await refused(
      t,
      append([...p, '{"v":1,"seq":', ',"time":"', '","kind":"nonsense"}']),
      /check constraint|violates/,
      'a bad event fails the whole batch',
    );
    t.equal((await store.head())?.seq, head.seq + 1, 'nothing else was written');
    t.ok((await store.verify()).ok);
  });

  t.test('verify names the first broken link after superuser tampering', async (t) => {
    // A short, fresh stretch of chain so the cases below have rows to work on.
    for (let i = 0; i < 10; i++) await store.record(sampleEvent(4000 + i));
    const head = (await store.head())!.seq;
    const k = head - 6; // a row in the middle

    await tampered(
      t,
      store,
      (db) => run(db, `UPDATE audit_events SET arguments = '{"n":"forged"}' WHERE seq = ${k}`),
      (r) => t.match(r.break, { kind: 'changed', seq: k }, 'an edited row'),
    );
    await tampered(
      t,
      store,
      async (db) => {
        // A smarter edit: change the row and recompute its own hash.
        const row = await rowAt(db, k);
        const edited = { ...row, effect: 'allow' as const, reasons: ['looked fine'] };
        await run(
          db,
          `UPDATE audit_events SET effect = 'allow', reasons = '["looked fine"]', hash = '${chainHash(edited, row.prevHash)}' WHERE seq = ${k}`,
        );
      },
      (r) => t.match(r.break, { kind: 'changed', seq: k }, 'an edited and re-hashed row'),
    );
    await tampered(
      t,
      store,
      (db) => run(db, `DELETE FROM audit_events WHERE seq = ${k}`),
      (r) => t.match(r.break, { kind: 'deleted', seq: k }, 'a deleted middle row'),
    );
    await tampered(
      t,
      store,
      async (db) => {
        await run(db, `DELETE FROM audit_events WHERE seq = ${k}`);
        await renumber(db, k, -1);
      },
      (r) => t.match(r.break, { kind: 'deleted', seq: k }, 'a deleted row with later rows renumbered'),
    );
    await tampered(
      t,
      store,
      async (db) => {
        // A forged row with a correctly computed hash, slipped in after k.
        const prev = await rowAt(db, k);
        await renumber(db, k, 1);
        const forged = { ...prev, seq: k + 1, decisionId: 'forged', effect: 'allow' as const };
        await run(
          db,
          `INSERT INTO audit_events (seq, time, kind, decision_id, effect, prev_hash, hash)
           SELECT ${k + 1}, time, kind, 'forged', 'allow', '${prev.hash}', '${chainHash(
             {
               ...forged,
               userSub: null,
               userClaims: null,
               requestedBy: null,
               agentId: null,
               actor: null,
               model: null,
               phase: null,
               virtualServer: null,
               upstreamServer: null,
               targetType: null,
               targetName: null,
               arguments: null,
               result: null,
               reasons: null,
               approvalId: null,
               bundleRevision: null,
               timings: null,
               details: null,
             },
             prev.hash,
           )}' FROM audit_events WHERE seq = ${k}`,
        );
        const check = await rowAt(db, k + 1);
        t.equal(chainHash(check, check.prevHash), check.hash, 'the forged row is self-consistent');
      },
      (r) => t.match(r.break, { kind: 'inserted', seq: k + 1 }, 'an inserted row'),
    );
    await tampered(
      t,
      store,
      async (db) => {
        // A naive forgery at a free seq: garbage hashes.
        await renumber(db, k, 1);
        await run(
          db,
          `INSERT INTO audit_events (seq, time, kind, prev_hash, hash) VALUES (${k + 1}, now(), 'decision', '${'a'.repeat(64)}', '${'b'.repeat(64)}')`,
        );
      },
      (r) => t.match(r.break, { kind: 'inserted', seq: k + 1 }, 'an inserted row with made-up hashes'),
    );
    await tampered(
      t,
      store,
      async (db) => {
        await run(db, `UPDATE audit_events SET seq = 1000000 WHERE seq = ${k}`);
        await run(db, `UPDATE audit_events SET seq = ${k} WHERE seq = ${k + 1}`);
        await run(db, `UPDATE audit_events SET seq = ${k + 1} WHERE seq = 1000000`);
      },
      (r) => t.match(r.break, { kind: 'reordered', seq: k }, 'two rows swapped'),
    );
  });

  t.test('signed checkpoints catch a truncated tail and a recomputed history', async (t) => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const head = (await store.head())!;
    const cp = signCheckpoint(head, privateKey);
    const cut = head.seq - 3;

    await tampered(
      t,
      store,
      (db) => run(db, `DELETE FROM audit_events WHERE seq > ${cut}`),
      (r) => t.ok(r.ok, 'without a checkpoint, a cut tail looks like a shorter chain (the documented limit)'),
    );
    await tampered(
      t,
      store,
      (db) => run(db, `DELETE FROM audit_events WHERE seq > ${cut}`),
      (r) => t.match(r.break, { kind: 'truncated', seq: cut + 1 }, 'the checkpoint reveals the truncation'),
      { checkpoints: [cp], publicKey },
    );
    const rewrite = async (db: Kysely<AuditSchema>) => {
      // Edit a row and recompute every later hash: the chain links again.
      const rows = (
        await db.selectFrom('audit_events').selectAll().where('seq', '>=', cut).orderBy('seq').execute()
      ).map(rowToEvent);
      let prev = rows[0]!.prevHash;
      for (const row of rows) {
        const edited =
          row.seq === cut
            ? { ...row, effect: row.effect === 'deny' ? ('allow' as const) : ('deny' as const) }
            : row;
        const hash = chainHash(edited, prev);
        await run(
          db,
          `UPDATE audit_events SET effect = ${edited.effect === null ? 'NULL' : `'${edited.effect}'`}, prev_hash = '${prev}', hash = '${hash}' WHERE seq = ${row.seq}`,
        );
        prev = hash;
      }
    };
    await tampered(t, store, rewrite, (r) =>
      t.ok(r.ok, 'a full recomputation passes verify without a checkpoint'),
    );
    await tampered(
      t,
      store,
      rewrite,
      (r) => t.match(r.break, { kind: 'rewritten', seq: head.seq }, 'but not against the checkpoint'),
      { checkpoints: [cp], publicKey },
    );
    const other = generateKeyPairSync('ed25519');
    await t.rejects(
      store.verify({ checkpoints: [cp], publicKey: other.publicKey }),
      /invalid signature or another key/,
      'a checkpoint from another key is refused',
    );
    t.ok(
      (await store.verify({ checkpoints: [cp], publicKey })).ok,
      'the intact chain agrees with its checkpoint',
    );
  });

  t.test('the checkpointer signs verified heads and refuses a tampered tail', async (t) => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const written: ReturnType<typeof signCheckpoint>[] = [];
    const sink: CheckpointSink = { name: 'memory', write: async (cp) => void written.push(cp) };
    const cpr = new Checkpointer(store.db, { privateKey, sink, intervalMs: 0 }).start();
    const first = await cpr.checkpoint();
    t.equal(first?.seq, (await store.head())?.seq, 'first checkpoint at the head');
    t.equal(await cpr.checkpoint(), null, 'nothing new: no checkpoint');
    await store.record(sampleEvent(5000));
    const second = await cpr.checkpoint();
    t.equal(second?.seq, first!.seq + 1);
    t.equal(written.length, 2, 'both went to the sink');
    t.ok((await store.verify({ checkpoints: written, publicKey })).ok);
    await store.record(sampleEvent(5001));
    await tampered(
      t,
      store,
      async (db) => {
        await run(db, `UPDATE audit_events SET arguments = '{}' WHERE seq = ${second!.seq + 1}`);
        await t.rejects(cpr.checkpoint(), /refusing to sign a checkpoint: changed/);
      },
      () => {},
    );
    await tampered(
      t,
      store,
      async (db) => {
        await run(db, `DELETE FROM audit_events WHERE seq > ${second!.seq - 1}`);
        await t.rejects(cpr.checkpoint(), /does not extend the checkpoint at seq \d+: rows were removed/);
      },
      () => {},
    );
    await tampered(
      t,
      store,
      async (db) => {
        await run(db, `UPDATE audit_events SET arguments = '{}' WHERE seq = 3`);
        const fresh = new Checkpointer(db, { privateKey, sink, intervalMs: 0 });
        await t.rejects(
          fresh.checkpoint(),
          /refusing to sign a checkpoint: changed at seq 3/,
          'a new checkpointer verifies from the genesis',
        );
        const trusting = new Checkpointer(db, { privateKey, sink, intervalMs: 0, verifiedFrom: second! });
        t.equal(
          (await trusting.checkpoint())?.seq,
          second!.seq + 1,
          'verifiedFrom skips what was already checkpointed',
        );
        const wrong = new Checkpointer(db, {
          privateKey,
          sink,
          intervalMs: 0,
          verifiedFrom: { seq: second!.seq, hash: 'f'.repeat(64) },
        });
        await t.rejects(wrong.checkpoint(), /refusing to sign a checkpoint: changed at seq/);
      },
      () => {},
    );
    t.throws(
      () => new Checkpointer(store.db, { privateKey: generateKeyPairSync('x25519').privateKey, sink }),
      /must be Ed25519/,
    );
    const last = await cpr.stop();
    t.equal(last?.seq, second!.seq + 1, 'stop writes a final checkpoint');
  });

  t.test('a store with checkpoints configured signs on a timer and at close', async (t) => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const written: ReturnType<typeof signCheckpoint>[] = [];
    let ticked: () => void = () => {};
    const firstTick = new Promise<void>((resolve) => (ticked = resolve));
    const sink: CheckpointSink = {
      name: 'memory',
      write: async (cp) => {
        written.push(cp);
        ticked();
      },
    };
    const s = await backend.open({ checkpoints: { privateKey, sink, intervalMs: 20 } });
    await firstTick;
    t.equal(written[0]?.seq, (await s.head())?.seq, 'the timer signed the head');
    const last = await s.record(sampleEvent(5100));
    await s.close();
    t.equal(written.at(-1)?.seq, last.seq, 'close signed the final head');
    t.ok((await store.verify({ checkpoints: written, publicKey })).ok);
  });

  t.test('query filters, paginates by seq and uses indexes', async (t) => {
    // Enough rows for the planner to care; times spread over a day.
    const writer = new AuditWriter(store.db, { maxBatch: 500 });
    const day = Date.parse('2030-01-06T00:00:00Z');
    let tick = 0;
    const timed = new AuditWriter(store.db, { clock: () => new Date(day + tick * 60_000) });
    for (tick = 0; tick < 24 * 6; tick++)
      await timed.record(sampleEvent(6000 + tick, { decisionId: `timed-${tick}` }));
    await Promise.all(Array.from({ length: 1500 }, (_, i) => writer.record(sampleEvent(7000 + i))));
    const otherModel = { provider: 'openai', name: 'gpt-test', attested: true };
    for (let i = 0; i < 30; i++)
      await writer.record(sampleEvent(8600 + i, { model: otherModel, decisionId: `model-${i}` }));

    const all: number[] = [];
    let after: number | undefined;
    for (;;) {
      const page = await store.query({ user: 'alice', limit: 37, after });
      t.ok(page.events.every((e) => e.userSub === 'alice'));
      all.push(...page.events.map((e) => e.seq));
      if (page.next === null) break;
      after = page.next;
    }
    t.same(
      all,
      [...all].sort((a, b) => a - b),
      'ascending by seq',
    );
    t.equal(new Set(all).size, all.length, 'no duplicates across pages');
    const direct = await store.db
      .selectFrom('audit_events')
      .select('seq')
      .where('user_sub', '=', 'alice')
      .orderBy('seq')
      .execute();
    t.same(
      all,
      direct.map((r) => Number(r.seq)),
      'pages cover exactly the matching rows',
    );

    const desc = await store.query({ agent: 'finance-agent', order: 'desc', limit: 5 });
    const desc2 = await store.query({ agent: 'finance-agent', order: 'desc', limit: 5, after: desc.next! });
    const seqs = [...desc.events, ...desc2.events].map((e) => e.seq);
    t.same(
      seqs,
      [...seqs].sort((a, b) => b - a),
      'descending pages continue downwards',
    );
    t.ok(desc2.events.every((e) => e.agentId === 'finance-agent'));

    const since = new Date(day + 60 * 60_000);
    const until = new Date(day + 2 * 60 * 60_000);
    const window = await store.query({ tool: 'query_salaries', since, until, limit: 1000 });
    t.ok(window.events.length > 0, 'something in the window');
    t.ok(
      window.events.every((e) => e.targetName === 'query_salaries' && e.time >= since && e.time < until),
      'tool and time window respected',
    );
    t.equal(
      window.events.length,
      Array.from({ length: 60 }, (_, m) => 6060 + m).filter((i) => i % 5 === 1).length,
    );
    const one = await store.query({ decisionId: 'timed-7' });
    t.equal(one.events.length, 1);
    t.equal(one.events[0]?.decisionId, 'timed-7');
    t.equal(one.next, null);
    const byModel = await store.query({ model: 'gpt-test', limit: 1000 });
    t.same(
      byModel.events.map((e) => e.decisionId),
      Array.from({ length: 30 }, (_, i) => `model-${i}`),
      "the model filter matches the model's name, and only it",
    );
    t.equal((await store.query({ model: 'gpt' })).events.length, 0, 'exactly, not as a prefix');
    const denied = await store.query({ effect: 'deny', kind: 'decision', limit: 10 });
    t.ok(denied.events.length > 0 && denied.events.every((e) => e.effect === 'deny'));
    await t.rejects(store.query({ limit: 5000 }), /limit must be an integer from 1 to 1000/);

    await run(store.db, 'ANALYZE audit_events');
    const plans: Record<string, string> = {};
    await store.db.connection().execute(async (conn) => {
      await run(conn, 'SET enable_seqscan = off');
      const explain = async (q: Parameters<typeof buildQuery>[1]) => {
        const c = buildQuery(conn, q).compile();
        const r = await conn.executeQuery<{ 'QUERY PLAN': string }>(
          CompiledQuery.raw(`EXPLAIN ${c.sql}`, [...c.parameters]),
        );
        return r.rows.map((row) => row['QUERY PLAN']).join('\n');
      };
      plans.user = await explain({ user: 'alice', since, until });
      plans.agent = await explain({ agent: 'devops-agent', since, until });
      plans.tool = await explain({ tool: 'query_salaries', since, until });
      plans.model = await explain({ model: 'gpt-test', since, until });
      plans.decision = await explain({ decisionId: 'timed-7' });
      plans.cursor = await explain({ user: 'alice', after: 100 });
      await run(conn, 'RESET enable_seqscan');
    });
    t.match(plans.user, /audit_events_user_time_idx/, 'user + time uses its index');
    t.match(plans.agent, /audit_events_agent_time_idx/, 'agent + time uses its index');
    t.match(plans.tool, /audit_events_target_time_idx/, 'tool + time uses its index');
    t.match(plans.model, /audit_events_model_time_idx/, 'model + time uses its index');
    t.match(plans.decision, /audit_events_decision_idx/, 'decision id uses its index');
    t.match(plans.cursor, /audit_events_user_time_idx/, 'a cursor page uses the user index');
    t.comment(`EXPLAIN user + time:\n${plans.user}`);
    t.ok((await store.verify({ pageSize: 333, progressEvery: 500, onProgress: () => {} })).ok);
  });

  t.test('verify reports progress on long chains', async (t) => {
    const seen: [number, number][] = [];
    const report = await store.verify({
      pageSize: 250,
      progressEvery: 400,
      onProgress: (c, n) => seen.push([c, n]),
    });
    t.ok(report.ok);
    t.ok(seen.length >= 2, 'several progress reports');
    t.same(seen.at(-1), [report.checked, report.head!.seq], 'the last one is complete');
  });

  t.test('an outage makes record fail; committed events survive it', async (t) => {
    const h = await backend.outage();
    try {
      const w1 = new AuditWriter(h.db());
      const acked = await Promise.all(Array.from({ length: 20 }, (_, i) => w1.record(sampleEvent(8000 + i))));
      await h.cut();
      await t.rejects(w1.record(sampleEvent(8100)), AuditWriteError, 'record fails during the outage');
      await t.rejects(
        Promise.all([w1.record(sampleEvent(8101)), w1.record(sampleEvent(8102))]),
        AuditWriteError,
        'every caller sees the failure',
      );
      await h.restore();
      const report = await verifyChain(h.db());
      t.ok(report.ok, 'the chain is intact after the outage');
      t.equal(report.head?.seq, 20, 'all 20 committed events are there, and none of the failed ones');
      for (const a of acked) t.equal((await rowAt(h.db(), a.seq)).hash, a.hash);
      const w2 = new AuditWriter(h.db());
      const next = await w2.record(sampleEvent(8200));
      t.equal(next.seq, 21, 'the chain continues');
      t.ok((await verifyChain(h.db())).ok);
    } finally {
      await h.close();
    }
  });
}
