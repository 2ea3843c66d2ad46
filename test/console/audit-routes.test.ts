// The audit explorer's chain status and exports over a real server (fastify on loopback, PGlite audit
// store, the reference bundle in a real engine), signed in by a console session: CSV and NDJSON carry
// exactly the filter's events, oldest first, across the server's pages of 1000; the limit bounds an
// export; a row changed behind the trail's back shows as a broken chain; the last signed checkpoint is
// reported and held against the chain; who may not read the trail gets nothing.
import { generateKeyPairSync } from 'node:crypto';
import Fastify from 'fastify';
import { sql } from 'kysely';
import t from 'tap';
import type { Checkpoint } from '../../src/audit/checkpoint.js';
import { EXPORT_PAGE, MAX_EXPORT_EVENTS } from '../../src/console/audit-routes.js';
import { ConsoleService, consolePlugin, SessionStore } from '../../src/console/index.js';
import { referenceEngine } from '../gateway/harness.js';
import { freshPgliteStore } from '../helpers/pglite-dir.js';

t.setTimeout(90_000);
const engine = await referenceEngine();
const { store, drop } = await freshPgliteStore();
const written: Checkpoint[] = [];
store.startCheckpoints({
  privateKey: generateKeyPairSync('ed25519').privateKey,
  sink: { name: 'memory', write: async (cp) => void written.push(cp) },
  intervalMs: 0,
});
const sessions = new SessionStore({ ttlMs: 3_600_000, idleMs: 3_600_000, max: 10 });
const service = new ConsoleService({
  engine,
  sessions,
  signIn: undefined as never,
  sessionTtlSeconds: 3600,
});
const app = Fastify();
await app.register(consolePlugin, {
  service,
  audit: store,
  approvals: { list: async () => [] },
  assets: new Map(),
});
const base = await app.listen({ host: '127.0.0.1', port: 0 });
t.teardown(async () => {
  await app.close();
  await drop();
  await engine.close();
});

// More events than one export page holds: alice's and bob's calls, interleaved.
const TOTAL = 2 * EXPORT_PAGE;
for (let i = 0; i < TOTAL; i++)
  store.record({
    kind: 'decision',
    decisionId: `d-${i}`,
    phase: 'request',
    user: { sub: i % 3 === 0 ? 'bob' : 'alice' },
    agentId: 'devops-agent',
    target: { type: 'tool', name: i % 2 ? 'list_repos' : 'get_file' },
    effect: 'allow',
    reasons: [],
  });
await store.record({
  kind: 'decision',
  user: { sub: 'carol, "quoted"' },
  model: { provider: 'openai', name: 'gpt-test', attested: false },
  effect: 'deny',
  reasons: ['x'],
});
const aliceCount = Array.from({ length: TOTAL }, (_, i) => i).filter((i) => i % 3 !== 0).length;

const cookieOf = (sub: string, groups: string[]) => `airlock_console=${sessions.create({ sub, groups }).id}`;
const bob = cookieOf('bob', ['security']);
const alice = cookieOf('alice', ['eng']);
const get = (path: string, cookie?: string) => fetch(`${base}${path}`, { headers: cookie ? { cookie } : {} });

t.test('who may not read the trail gets neither chain status nor an export', async (t) => {
  for (const path of ['/console/api/audit/chain', '/console/api/audit/export?format=csv']) {
    const anonymous = await get(path);
    t.equal(anonymous.status, 401, `${path} without a session`);
    const refused = await get(path, alice);
    t.equal(refused.status, 403, `${path} for a requester`);
    t.match(await refused.json(), { type: /console-forbidden$/, detail: /alice may not audit\.read/ });
  }
});

t.test('NDJSON export: the filter, oldest first, across pages, every event once', async (t) => {
  const res = await get('/console/api/audit/export?format=ndjson&user=alice', bob);
  t.equal(res.status, 200);
  t.match(res.headers.get('content-type'), /^application\/x-ndjson/);
  t.match(res.headers.get('content-disposition'), /^attachment; filename="airlock-audit-.+\.ndjson"$/);
  const lines = (await res.text()).trimEnd().split('\n');
  const events = lines.map((l) => JSON.parse(l) as { seq: number; user_sub: string });
  t.equal(events.length, aliceCount, 'every matching event');
  t.ok(aliceCount > EXPORT_PAGE, 'more than one page');
  t.ok(
    events.every((e) => e.user_sub === 'alice'),
    'only the filter',
  );
  t.ok(
    events.every((e, i) => i === 0 || e.seq > events[i - 1]!.seq),
    'ascending by sequence, no repeats',
  );
});

t.test('CSV export: a header, one row per event, quoting; the limit bounds it', async (t) => {
  const res = await get('/console/api/audit/export?format=csv&limit=5', bob);
  t.equal(res.status, 200);
  t.match(res.headers.get('content-type'), /^text\/csv/);
  t.equal(res.headers.get('x-airlock-export-limit'), '5');
  const rows = (await res.text()).split('\r\n').filter(Boolean);
  t.match(rows[0], /^seq,time,kind/);
  t.equal(rows.length, 6, 'the header and five events');
  const all = await (await get('/console/api/audit/export?format=csv&effect=deny', bob)).text();
  t.match(all, /"carol, ""quoted"""/, 'fields with commas and quotes are quoted');
  const full = await (await get('/console/api/audit/export?format=csv', bob)).text();
  t.equal(full.split('\r\n').filter(Boolean).length, TOTAL + 2, 'without a limit: everything');
});

t.test('the model filter, on a page and on an export', async (t) => {
  const page = (await (await get('/console/api/audit?model=gpt-test', bob)).json()) as {
    events: { user_sub?: string; userSub?: string }[];
  };
  t.equal(page.events.length, 1, 'one event names that model');
  const csv = await (await get('/console/api/audit/export?format=csv&model=gpt-test', bob)).text();
  t.equal(csv.split('\r\n').filter(Boolean).length, 2, 'the header and that event');
  t.match(csv, /carol/);
});

t.test('bad export parameters are precise 400s', async (t) => {
  for (const [q, detail] of [
    ['format=xml', /format must be csv or ndjson/],
    [`limit=${MAX_EXPORT_EVENTS + 1}`, /limit must be a whole number from 1 to 100000/],
    ['after=3', /unknown parameter "after"/],
    ['since=yesterday', /since must be an RFC 3339 time/],
  ] as const) {
    const res = await get(`/console/api/audit/export?${q}`, bob);
    t.equal(res.status, 400, q);
    t.match(await res.json(), { detail });
  }
});

t.test('chain status: intact with the last checkpoint; a changed row is found', async (t) => {
  let res = await get('/console/api/audit/chain', bob);
  let body = (await res.json()) as Record<string, unknown>;
  t.match(body, { ok: true, checked: TOTAL + 1, checkpoints: 'configured', last_checkpoint: null });
  const cp = await store.checkpointer!.checkpoint();
  t.ok(cp);
  res = await get('/console/api/audit/chain', bob);
  body = (await res.json()) as Record<string, unknown>;
  t.match(body, { ok: true, last_checkpoint: { seq: TOTAL + 1, hash: cp!.hash, key_id: cp!.key_id } });
  t.same(written, [cp], 'the one the sink holds');

  // Behind the trail's back: past the append-only trigger, as someone with the table's ownership could.
  await sql`ALTER TABLE audit_events DISABLE TRIGGER USER`.execute(store.db);
  await sql`UPDATE audit_events SET effect = 'deny' WHERE seq = 7`.execute(store.db);
  res = await get('/console/api/audit/chain', bob);
  body = (await res.json()) as Record<string, unknown>;
  t.match(body, { ok: false, break: { kind: 'changed', seq: 7 } });
});
