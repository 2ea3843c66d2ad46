// The parked-call store against real databases: embedded PGlite always, and Postgres when DATABASE_URL
// is set (a database created for this file). Expiry is driven by an injected clock, never by sleeping.

import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sql } from 'kysely';
import pg from 'pg';
import t, { type Test } from 'tap';
import { type AuditStore, migrationSql, openDatabase } from '../../src/audit/index.js';
import { pendingMigrationsOf } from '../../src/audit/migrations/index.js';
import {
  APPROVAL_MIGRATIONS,
  approvalsMigrationSql,
  approvalsRoleSql,
} from '../../src/gateway/approval-schema.js';
import {
  type Approval,
  ApprovalError,
  type ApprovalStore,
  argumentsHash,
  ApprovalStore as Store,
} from '../../src/gateway/approvals.js';
import { type Backend, pgliteBackend, postgresBackend } from '../audit/backends.js';
import { parkRequest } from './approval-fixture.js';

const START = Date.parse('2026-01-06T16:00:00.000Z');

const bob = { sub: 'bob', groups: ['security'] };

async function refusedWith(t: Test, p: Promise<unknown>, reason: ApprovalError['reason'], what: string) {
  try {
    await p;
    t.fail(`${what}: expected ApprovalError(${reason}), but it succeeded`);
  } catch (err) {
    t.ok(err instanceof ApprovalError, `${what}: an ApprovalError`);
    t.equal((err as ApprovalError).reason, reason, what);
  }
}

function storeSuite(t: Test, backend: Backend): void {
  let clock = START;
  const now = () => clock;
  const audits: AuditStore[] = [];
  const stores: ApprovalStore[] = [];
  const errors: Error[] = [];
  const open = async (options: Parameters<typeof Store.open>[1] = {}) => {
    const audit = await backend.open();
    audits.push(audit);
    const store = await Store.open(audit.db, {
      now,
      pollIntervalMs: 5000, // long: wake-ups in these tests must come from notifications
      onError: (e) => errors.push(e),
      ...options,
    });
    stores.push(store);
    return store;
  };
  let store: ApprovalStore;
  t.before(async () => {
    store = await open();
  });
  t.teardown(async () => {
    for (const s of stores) await s.close();
    for (const a of audits) await a.close();
    await backend.teardown();
  });
  t.beforeEach(() => {
    clock += 86_400_000; // each test starts a day later: earlier approvals have expired
  });

  t.test('migrations are idempotent and the store listens for answers', async (t) => {
    t.ok(store.listening, `LISTEN is active on ${backend.name}`);
    const again = await open();
    t.ok(again, 'a second open on a migrated database succeeds');
  });

  t.test('park, then get and list', async (t) => {
    const a = await store.park(parkRequest({ arguments: { id: 'c-1', note: 'bye' } }));
    t.match(a.id, /^[0-9a-f-]{36}$/);
    t.equal(a.status, 'pending');
    t.same(a.arguments, { id: 'c-1', note: 'bye' }, 'the exact arguments are kept');
    t.equal(a.argumentsHash, argumentsHash({ note: 'bye', id: 'c-1' }), 'hash of the canonical form');
    t.equal(a.createdAt.getTime(), clock, 'created at the store clock');
    t.equal(a.expiresAt.getTime(), clock + 3_600_000, 'expires after ttlSeconds');
    t.same(a.requester, { sub: 'alice', agent: 'devops-agent' });
    t.same(a.approvers, ['group:security']);
    t.equal(a.answeredBy, null);
    t.same(await store.get(a.id), a, 'get returns what park returned');
    t.equal(await store.get('00000000-0000-4000-8000-000000000000'), undefined, 'unknown id');
    t.equal(await store.get('not-a-uuid'), undefined, 'malformed id is unknown, not an error');

    clock += 1;
    const b = await store.park(parkRequest({ arguments: { id: 'c-2' } }));
    const pending = await store.list({ status: 'pending' });
    t.same(
      pending.map((x) => x.id),
      [a.id, b.id],
      'pending approvals, oldest first (earlier days have expired)',
    );
    t.same(
      (await store.list({ status: 'pending', limit: 1 })).map((x) => x.id),
      [a.id],
      'limit',
    );
    t.same(
      (await store.list({ status: 'pending', after: a.id })).map((x) => x.id),
      [b.id],
      'after an id cursor',
    );
    const c = await store.park(parkRequest({ ttlSeconds: 1 }));
    clock += 1000;
    t.same(
      (await store.list({ status: 'expired' })).map((x) => x.id),
      [c.id],
      'an expired one is listed as expired…',
    );
    t.same(
      (await store.list({ status: 'pending' })).map((x) => x.id),
      [a.id, b.id],
      '…and no longer as pending',
    );
    t.equal((await store.list()).length, 3, 'no filter: all of them');
    await t.rejects(store.park(parkRequest({ ttlSeconds: 0 })), /ttlSeconds must be a positive number/);
    await t.rejects(store.park(parkRequest({ arguments: { s: 'a\u0000b' } })), /U\+0000/);
  });

  t.test('approve, consume once, then replay is refused', async (t) => {
    const a = await store.park(parkRequest());
    await refusedWith(t, store.consume(a.id, a.argumentsHash), 'pending', 'consume before any answer');
    clock += 1000;
    const answered = await store.answer(a.id, { status: 'approved', by: bob, reasons: ['ok'] });
    t.equal(answered.status, 'approved');
    t.same(answered.answeredBy, bob);
    t.equal(answered.answeredAt?.getTime(), clock);
    t.same(answered.answerReasons, ['ok']);
    await refusedWith(
      t,
      store.answer(a.id, { status: 'denied', by: bob }),
      'answered',
      'a second answer is refused',
    );
    await refusedWith(t, store.consume(a.id, argumentsHash({ id: 'c-43' })), 'edited', 'other arguments');
    const used = await store.consume(a.id, a.argumentsHash);
    t.equal(used.status, 'consumed');
    t.equal(used.consumedAt?.getTime(), clock);
    await refusedWith(t, store.consume(a.id, a.argumentsHash), 'replayed', 'the second consume');
    await refusedWith(
      t,
      store.consume('00000000-0000-4000-8000-000000000000', a.argumentsHash),
      'unknown',
      'unknown id',
    );
    await refusedWith(
      t,
      store.answer('00000000-0000-4000-8000-000000000000', { status: 'approved', by: bob }),
      'unknown',
      'answering an unknown id',
    );
  });

  t.test('a denied approval cannot be consumed', async (t) => {
    const a = await store.park(parkRequest());
    const denied = await store.answer(a.id, { status: 'denied', by: bob, reasons: ['not today'] });
    t.equal(denied.status, 'denied');
    await refusedWith(t, store.consume(a.id, a.argumentsHash), 'denied', 'consume after deny');
  });

  t.test('expiry follows the clock: no answer and no consume after it', async (t) => {
    const late = await store.park(parkRequest({ ttlSeconds: 60 }));
    clock += 60_000;
    t.equal((await store.get(late.id))?.status, 'expired', 'exactly at expires_at it has expired');
    await refusedWith(t, store.answer(late.id, { status: 'approved', by: bob }), 'expired', 'late answer');

    const a = await store.park(parkRequest({ ttlSeconds: 60 }));
    await store.answer(a.id, { status: 'approved', by: bob });
    clock += 59_999;
    t.equal((await store.get(a.id))?.status, 'approved', 'one millisecond before, still approved');
    clock += 1;
    t.equal((await store.get(a.id))?.status, 'expired', 'then expired');
    await refusedWith(t, store.consume(a.id, a.argumentsHash), 'expired', 'consume after expiry');
    t.same(
      (await store.list({ status: 'expired' })).filter((x) => x.id === a.id || x.id === late.id).length,
      2,
      'both are listed as expired',
    );
  });

  t.test('findOpen finds only exactly the same call, while open', async (t) => {
    const args = { id: 'c-77' };
    const hash = argumentsHash(args);
    const key = {
      sub: 'alice',
      agent: 'devops-agent',
      virtual: 'devops',
      upstream: 'crm',
      tool: 'delete_customer',
      argumentsHash: hash,
    };
    t.equal(await store.findOpen(key), undefined, 'nothing parked yet');
    const a = await store.park(parkRequest({ arguments: args }));
    t.equal((await store.findOpen(key))?.id, a.id, 'the pending approval');
    for (const [field, value] of [
      ['sub', 'mallory'],
      ['agent', 'other-agent'],
      ['virtual', 'sales'],
      ['upstream', 'github'],
      ['tool', 'lookup_customer'],
      ['argumentsHash', argumentsHash({ id: 'c-78' })],
    ] as const)
      t.equal(await store.findOpen({ ...key, [field]: value }), undefined, `not for another ${field}`);
    await store.answer(a.id, { status: 'approved', by: bob });
    t.equal((await store.findOpen(key))?.status, 'approved', 'the approved one, not yet consumed');
    await store.consume(a.id, hash);
    t.equal(await store.findOpen(key), undefined, 'not once consumed');

    const d = await store.park(parkRequest({ arguments: args }));
    await store.answer(d.id, { status: 'denied', by: bob });
    t.equal(await store.findOpen(key), undefined, 'not when denied');

    await store.park(parkRequest({ arguments: args, ttlSeconds: 10 }));
    t.ok(await store.findOpen(key), 'a fresh one is open…');
    clock += 10_000;
    t.equal(await store.findOpen(key), undefined, '…and not once expired');
  });

  t.test('waitForAnswer wakes on an answer given by another store (another replica)', async (t) => {
    const replica = await open();
    const a = await store.park(parkRequest());
    const started = Date.now();
    const waiting = store.waitForAnswer(a.id, 10_000);
    setTimeout(() => void replica.answer(a.id, { status: 'approved', by: bob }), 50);
    const woken = await waiting;
    const took = Date.now() - started;
    t.equal(woken.status, 'approved', 'the waiter sees the approval');
    t.ok(took < 2000, `woken by notification in ${took} ms, well before the 5 s poll`);
    t.comment(`${backend.name}: cross-store wake-up took ${took} ms`);

    const b = await store.park(parkRequest());
    const t0 = Date.now();
    const timedOut = await store.waitForAnswer(b.id, 150);
    t.equal(timedOut.status, 'pending', 'at the timeout, the current (pending) state');
    t.ok(Date.now() - t0 >= 140, 'after the timeout');

    const ac = new AbortController();
    const aborted = store.waitForAnswer(b.id, 10_000, ac.signal);
    setTimeout(() => ac.abort(), 30);
    t.equal((await aborted).status, 'pending', 'an abort returns the current state');

    const answered = await store.waitForAnswer(a.id, 10_000);
    t.equal(answered.status, 'approved', 'an approval answered already returns at once');
    await refusedWith(
      t,
      store.waitForAnswer('00000000-0000-4000-8000-000000000000', 10),
      'unknown',
      'unknown id',
    );
  });

  t.test('polling wakes a waiter when no notification arrives', async (t) => {
    const deaf = await open({ listen: false, pollIntervalMs: 50 });
    t.notOk(deaf.listening);
    const a = await deaf.park(parkRequest());
    const waiting = deaf.waitForAnswer(a.id, 10_000);
    setTimeout(() => void store.answer(a.id, { status: 'denied', by: bob }), 20);
    const started = Date.now();
    t.equal((await waiting).status, 'denied');
    t.ok(Date.now() - started < 2000, 'found by polling');
  });

  t.test('ten concurrent consumes: exactly one succeeds', async (t) => {
    const replica = await open();
    const a = await store.park(parkRequest());
    await replica.answer(a.id, { status: 'approved', by: bob });
    const results = await Promise.allSettled(
      Array.from({ length: 10 }, (_, i) => (i % 2 ? replica : store).consume(a.id, a.argumentsHash)),
    );
    const ok = results.filter((r) => r.status === 'fulfilled');
    t.equal(ok.length, 1, 'one consume won');
    const reasons = results.flatMap((r) =>
      r.status === 'rejected' ? [(r.reason as ApprovalError).reason] : [],
    );
    t.same([...new Set(reasons)], ['replayed'], 'the nine others were refused as replays');
  });

  t.test('concurrent answers: exactly one wins', async (t) => {
    const replica = await open();
    const a = await store.park(parkRequest());
    const results = await Promise.allSettled([
      store.answer(a.id, { status: 'approved', by: bob }),
      replica.answer(a.id, { status: 'denied', by: { sub: 'carol', groups: ['security'] } }),
      store.answer(a.id, { status: 'denied', by: { sub: 'dave', groups: ['security'] } }),
    ]);
    t.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
    const final = await store.get(a.id);
    const winner = results.find((r) => r.status === 'fulfilled') as PromiseFulfilledResult<Approval>;
    t.equal(final?.status, winner.value.status, 'the stored answer is the winner');
  });

  t.test('a failing beforeCommit leaves the approval pending and answerable', async (t) => {
    const a = await store.park(parkRequest());
    await t.rejects(
      store.answer(
        a.id,
        { status: 'approved', by: bob },
        { beforeCommit: async () => Promise.reject(new Error('audit down')) },
      ),
      /audit down/,
    );
    t.equal((await store.get(a.id))?.status, 'pending', 'still pending');
    let seen: Approval | undefined;
    const answered = await store.answer(
      a.id,
      { status: 'approved', by: bob },
      {
        beforeCommit: async (x) => {
          seen = x;
          t.equal((await store.get(a.id))?.status, 'pending', 'not approved before the hook returns');
          await refusedWith(t, store.consume(a.id, a.argumentsHash), 'pending', 'nor consumable');
          await refusedWith(
            t,
            store.answer(a.id, { status: 'denied', by: bob }),
            'answered',
            'a concurrent answer is refused',
          );
        },
      },
    );
    t.equal(seen?.status, 'approved', 'the hook saw the answer to come');
    t.equal(answered.status, 'approved');
  });

  t.test('webhook: a real receiver gets the request; a dead one does not fail park', async (t) => {
    const received: { body: unknown; headers: IncomingMessage['headers'] }[] = [];
    const server = createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      received.push({ body: JSON.parse(Buffer.concat(chunks).toString()), headers: req.headers });
      res.writeHead(204).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    t.teardown(() => new Promise<void>((r) => server.close(() => r())));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
    const hooked = await open({ webhook: { url, headers: { 'x-hook-secret': 's3cret' } } });
    const a = await hooked.park(parkRequest({ arguments: { id: 'c-9' } }));
    for (let i = 0; i < 100 && received.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    t.equal(received.length, 1, 'one POST');
    t.same(received[0]?.body, {
      type: 'approval.requested',
      approval: {
        id: a.id,
        tool: 'delete_customer',
        upstream: 'crm',
        virtual: 'devops',
        requester: { sub: 'alice', agent: 'devops-agent' },
        approvers: ['group:security'],
        reasons: a.reasons,
        expires_at: a.expiresAt.toISOString(),
        arguments: { id: 'c-9' },
      },
      links: { approve: `/v1/approvals/${a.id}/approve`, deny: `/v1/approvals/${a.id}/deny` },
    });
    t.equal(received[0]?.headers['x-hook-secret'], 's3cret', 'configured headers are sent');
    t.match(received[0]?.headers['content-type'], /application\/json/);

    // A port nobody listens on, and a receiver that never answers.
    const dead = createServer();
    await new Promise<void>((r) => dead.listen(0, '127.0.0.1', r));
    const deadPort = (dead.address() as AddressInfo).port;
    await new Promise<void>((r) => dead.close(() => r()));
    const hung = createServer(() => {});
    await new Promise<void>((r) => hung.listen(0, '127.0.0.1', r));
    t.teardown(() => {
      hung.closeAllConnections();
      return new Promise<void>((r) => hung.close(() => r()));
    });
    const before = errors.length;
    for (const [what, hookUrl] of [
      ['refused', `http://127.0.0.1:${deadPort}/hook`],
      ['hung', `http://127.0.0.1:${(hung.address() as AddressInfo).port}/hook`],
    ] as const) {
      const s = await open({ webhook: { url: hookUrl, timeoutMs: 100 } });
      const started = Date.now();
      const parked = await s.park(parkRequest());
      t.ok(Date.now() - started < 1000, `${what}: park does not wait for the webhook`);
      t.equal((await s.get(parked.id))?.status, 'pending', `${what}: the call is parked`);
      await s.close(); // waits for the webhook attempt
    }
    const reported = errors.slice(before).map((e) => e.message);
    t.equal(reported.length, 2, 'both failures were reported to onError');
    t.match(reported[1], /no answer within 100 ms/);
    t.notOk(reported.join(' ').includes('s3cret'), 'no header value in the reports');
  });

  if (backend.name === 'postgres')
    t.test('a lost LISTEN connection is reported and re-established', async (t) => {
      const replica = await open();
      const before = errors.length;
      const lostReported = () =>
        errors.slice(before).some((e) => /lost the LISTEN connection/.test(e.message));
      const killed = await sql<{ n: number }>`
        SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity
        WHERE datname = current_database() AND query = 'LISTEN airlock_approvals'`.execute(audits[0]!.db);
      const n = killed.rows[0]?.n ?? 0;
      t.ok(n >= 2, `terminated ${n} listening sessions`);
      for (let i = 0; i < 100 && !lostReported(); i++) await new Promise((r) => setTimeout(r, 20));
      t.ok(lostReported(), 'the loss was reported to onError');
      // Reconnected (after 1 s) and LISTENing again: the server shows every store's session back.
      let listening = 0;
      for (let i = 0; i < 150 && listening < n; i++) {
        await new Promise((r) => setTimeout(r, 20));
        const { rows } = await sql<{ n: number }>`
          SELECT count(*)::int AS n FROM pg_stat_activity
          WHERE datname = current_database() AND query = 'LISTEN airlock_approvals'`.execute(audits[0]!.db);
        listening = rows[0]?.n ?? 0;
      }
      t.ok(store.listening && listening === n, `${listening} sessions listening again`);
      const a = await store.park(parkRequest());
      const waiting = store.waitForAnswer(a.id, 10_000);
      setTimeout(() => void replica.answer(a.id, { status: 'approved', by: bob }), 20);
      const started = Date.now();
      t.equal((await waiting).status, 'approved');
      t.ok(Date.now() - started < 2000, 'woken by notification again, not by the 5 s poll');
    });

  if (backend.name === 'postgres')
    t.test(
      'the gateway role can park, answer and consume, but not rewrite arguments nor delete',
      async (t) => {
        const owner = audits[0]!;
        const role = `airlock_gw_apv_${Math.random().toString(16).slice(2, 10)}`;
        await sql.raw(`CREATE ROLE ${role}`).execute(owner.db);
        for (const s of approvalsRoleSql(role)) await sql.raw(s).execute(owner.db);
        const a = await store.park(parkRequest());
        await owner.db.connection().execute(async (c) => {
          await sql.raw(`SET ROLE ${role}`).execute(c);
          try {
            await t.rejects(
              sql`UPDATE airlock_approvals SET arguments = '{}'::jsonb WHERE id = ${a.id}`.execute(c),
              /permission denied/,
              'arguments cannot be rewritten',
            );
            await t.rejects(
              sql`DELETE FROM airlock_approvals WHERE id = ${a.id}`.execute(c),
              /permission denied/,
              'no delete',
            );
            const r =
              await sql`UPDATE airlock_approvals SET status = 'denied' WHERE id = ${a.id} RETURNING id`.execute(
                c,
              );
            t.equal(r.rows.length, 1, 'answer columns can be updated');
          } finally {
            await sql.raw('RESET ROLE').execute(c);
            await sql.raw(`DROP OWNED BY ${role}`).execute(c);
            await sql.raw(`DROP ROLE ${role}`).execute(c);
          }
        });
      },
    );
}

t.test('PGlite', async (t) => storeSuite(t, pgliteBackend()));

// What `airlock migrate --print-sql` gives a DBA, applied by hand, lets the gateway role run approvals.
t.test(
  'the printed approvals SQL, applied by hand, serves the gateway role',
  { skip: !process.env.DATABASE_URL && 'DATABASE_URL is not set' },
  async (t) => {
    const adminUrl = process.env.DATABASE_URL as string;
    const admin = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 3000 });
    await admin.connect();
    const suffix = randomBytes(5).toString('hex');
    const dbName = `airlock_test_apv_sql_${suffix}`;
    const role = `airlock_gw_apv_sql_${suffix}`;
    await admin.query(`CREATE DATABASE ${dbName}`);
    await admin.query(`CREATE ROLE ${role} LOGIN`);
    t.teardown(async () => {
      await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
      await admin.query(`DROP ROLE IF EXISTS ${role}`);
      await admin.end();
    });
    const url = (user?: string) => {
      const u = new URL(adminUrl);
      u.pathname = `/${dbName}`;
      if (user) {
        u.username = user;
        u.password = '';
      }
      return u.toString();
    };
    const dba = new pg.Client({ connectionString: url() });
    await dba.connect();
    await dba.query(`${migrationSql(role)}\n${approvalsMigrationSql(role)}`);
    await dba.end();
    const gateway = await openDatabase({ databaseUrl: url(role) });
    t.teardown(() => gateway.close());
    t.same(await pendingMigrationsOf(gateway.db, APPROVAL_MIGRATIONS), [], 'nothing pending');
    const store = await Store.open(gateway.db);
    t.teardown(() => store.close());
    const a = await store.park(parkRequest());
    await store.answer(a.id, { status: 'approved', by: bob });
    t.equal(
      (await store.consume(a.id, a.argumentsHash)).status,
      'consumed',
      'park, answer, consume as the gateway role',
    );
    await t.rejects(
      sql`UPDATE airlock_approvals SET arguments = '{}'::jsonb`.execute(gateway.db),
      /permission denied/,
      'but it cannot rewrite parked arguments',
    );
  },
);

const postgres = await postgresBackend();
if (typeof postgres === 'string') {
  t.comment(`NOTICE: Postgres approvals suite skipped: ${postgres}`);
  t.test(`Postgres (${postgres})`, { skip: postgres }, () => {});
} else t.test('Postgres', async (t) => storeSuite(t, postgres));
