// Checkpoints from serve: a real `airlock serve` with `audit.checkpoints` signs the chain head on its
// interval and at shutdown into a file sink; with the tail of the trail deleted afterwards (triggers
// off, as a superuser would), `airlock audit verify --checkpoint` against serve's own checkpoints
// fails, while the untampered trail passes. Then a restarted serve resumes from its sink and refuses to
// sign the shortened chain. On PGlite, and on Postgres when DATABASE_URL is set.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import pg from 'pg';
import pino from 'pino';
import t, { type Test } from 'tap';
import { generateSigningKey, openDatabase, parseCheckpoints } from '../../src/audit/index.js';
import { buildDevBundle } from '../../src/cli/commands/serve.js';
import { freshPgliteDir } from '../helpers/pglite-dir.js';
import { type AirlockProcess, runAirlock, startAirlockProcess } from './airlock-process.js';

// Real processes build and start slowly on a busy 2-core machine: this file's own bound.
t.setTimeout(900_000);

const SLOW = 300_000; // a busy shared machine
const request = readFileSync(new URL('../fixtures/decision-request.json', import.meta.url), 'utf8');
const tmp = mkdtempSync(join(tmpdir(), 'airlock-checkpoints-'));
const bundle = join(tmp, 'bundle.tar.gz');
const privateKey = join(tmp, 'signing.pem');
const publicKey = join(tmp, 'signing.pub.pem');
const running = new Set<AirlockProcess>();
t.teardown(async () => {
  for (const p of running) await p.stop();
  rmSync(tmp, { recursive: true, force: true });
});

t.before(async () => {
  await buildDevBundle('policies', bundle, pino({ level: 'silent' }));
  const { privateKeyPem, publicKeyPem } = generateSigningKey(); // what `airlock audit keygen` writes
  writeFileSync(privateKey, privateKeyPem, { mode: 0o600 });
  writeFileSync(publicKey, publicKeyPem);
});

interface Backend {
  /** The serve `database` section. */
  database: Record<string, unknown>;
  /** `audit verify` arguments naming the same database. */
  dbArgs: string[];
  /** Runs SQL as a superuser with serve stopped. */
  exec(statements: string[]): Promise<void>;
  teardown(): Promise<void>;
}

async function pgliteBackend(): Promise<Backend> {
  const dir = await freshPgliteDir(join(tmp, `data-${randomBytes(4).toString('hex')}`));
  return {
    database: { data_dir: dir },
    dbArgs: ['--data-dir', dir],
    async exec(statements) {
      const db = await openDatabase({ dataDir: dir });
      try {
        for (const s of statements) await sql.raw(s).execute(db.db);
      } finally {
        await db.close();
      }
    },
    async teardown() {},
  };
}

async function postgresBackend(adminUrl: string): Promise<Backend> {
  const name = `airlock_cp_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  const url = u.toString();
  return {
    database: { url },
    dbArgs: ['--database-url', url],
    async exec(statements) {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      try {
        for (const s of statements) await c.query(s);
      } finally {
        await c.end();
      }
    },
    async teardown() {
      const c = new pg.Client({ connectionString: adminUrl });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

async function serve(backend: Backend, sink: string, intervalSeconds = 1): Promise<AirlockProcess> {
  const p = await startAirlockProcess({
    config: {
      addr: '127.0.0.1:0',
      log_level: 'debug',
      bundle: { source: bundle, poll_interval_ms: 0 },
      database: backend.database,
      audit: {
        checkpoints: { interval_seconds: intervalSeconds, signing_key: { file: privateKey }, sink },
      },
    },
    env: { DATABASE_URL: '' },
    timeoutMs: SLOW,
  });
  running.add(p);
  return p;
}

const checkpointsIn = (file: string) => parseCheckpoints(readFileSync(file, 'utf8'), file);

async function decide(url: string): Promise<number> {
  const res = await fetch(`${url}/v1/data/airlock/decision`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: request,
  });
  await res.body?.cancel();
  return res.status;
}

/** Waits until the sink holds a checkpoint of at least `seq` (serve's timer writes it). */
async function sinkReaches(file: string, seq: number): Promise<boolean> {
  for (let i = 0; i < 240; i++) {
    try {
      if (checkpointsIn(file).some((c) => c.seq >= seq)) return true;
    } catch {
      // not created yet
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return false;
}

async function scenario(t: Test, backend: Backend) {
  t.teardown(() => backend.teardown());
  const sink = join(tmp, `checkpoints-${randomBytes(4).toString('hex')}.ndjson`);
  const verify = () =>
    runAirlock(
      ['audit', 'verify', '--checkpoint', sink, '--public-key', publicKey, ...backend.dbArgs],
      { DATABASE_URL: '' },
      SLOW,
    );

  const first = await serve(backend, sink);
  for (let i = 0; i < 5; i++) t.equal(await decide(first.url), 200, 'decision answered');
  t.ok(await sinkReaches(sink, 5), 'a timed checkpoint covers the five decisions');
  const metrics = await (await fetch(`${first.url}/metrics`)).text();
  t.match(metrics, /^airlock_audit_checkpoints_total [1-9]/m, 'checkpoints are counted in /metrics');
  t.match(metrics, /^airlock_audit_checkpoint_failures_total 0$/m);
  for (let i = 0; i < 2; i++) t.equal(await decide(first.url), 200);
  t.equal(await first.stop(), 0, 'serve stops cleanly');
  running.delete(first);
  const written = checkpointsIn(sink);
  t.equal(written.at(-1)?.seq, 7, 'the checkpoint written at shutdown covers the last decision');

  const intact = await verify();
  t.equal(intact.code, 0, `the untampered trail verifies: ${intact.stdout}${intact.stderr}`);
  t.match(intact.stdout, /audit chain OK: 7 events verified.*consistent with \d+ signed checkpoint/);

  // A superuser removes the newest rows: the chain that is left is internally consistent.
  await backend.exec([
    'ALTER TABLE audit_events DISABLE TRIGGER USER',
    'DELETE FROM audit_events WHERE seq > 4',
    'ALTER TABLE audit_events ENABLE TRIGGER USER',
  ]);
  const plain = await runAirlock(['audit', 'verify', ...backend.dbArgs], { DATABASE_URL: '' }, SLOW);
  t.equal(plain.code, 0, 'without checkpoints the shortened chain looks intact');
  const tampered = await verify();
  t.equal(tampered.code, 1, `serve's checkpoints expose the deleted tail: ${tampered.stdout}`);
  t.match(tampered.stdout, /BROKEN at seq 5 \(truncated\)/);
  return sink;
}

t.test('PGlite: serve checkpoints expose a deleted tail', async (t) => {
  const backend = await pgliteBackend();
  const sink = await scenario(t, backend);

  // A restarted serve resumes from its newest checkpoint and refuses to sign the shortened chain.
  const before = checkpointsIn(sink).length;
  const again = await serve(backend, sink);
  let refused = false;
  for (let i = 0; i < 240 && !refused; i++) {
    refused = again
      .logs()
      .some((l) => l.msg === 'audit checkpoint failed' && /refusing to sign/.test(String(l.err)));
    if (!refused) await new Promise((resolve) => setTimeout(resolve, 250));
  }
  t.ok(refused, 'the timed checkpoint refuses, and says so in the log');
  t.match(
    await (await fetch(`${again.url}/metrics`)).text(),
    /^airlock_audit_checkpoint_failures_total [1-9]/m,
    'the failure is counted',
  );
  t.match(
    again.logs().find((l) => l.msg === 'audit checkpoints started'),
    { resumed_from: 7 },
    'resumed from the newest checkpoint in the sink',
  );
  await again.stop();
  running.delete(again);
  t.equal(checkpointsIn(sink).length, before, 'nothing was signed over the shortened chain');
});

t.test('serve writes a checkpoint at shutdown', async (t) => {
  // An interval longer than the test: only the shutdown can have written a checkpoint.
  const sink = join(tmp, 'shutdown.ndjson');
  const p = await serve(await pgliteBackend(), sink, 3600);
  for (let i = 0; i < 3; i++) t.equal(await decide(p.url), 200);
  t.same(checkpointsIn(sink), [], 'nothing signed before shutdown');
  t.equal(await p.stop(), 0);
  running.delete(p);
  const cps = checkpointsIn(sink);
  t.equal(cps.length, 1, 'one checkpoint, written at shutdown');
  t.equal(cps[0]?.seq, 3, 'covering the last decision');
});

const adminUrl = process.env.DATABASE_URL;
t.test(
  'Postgres: serve checkpoints expose a deleted tail',
  { skip: adminUrl ? false : 'DATABASE_URL is not set' },
  async (t) => {
    await scenario(t, await postgresBackend(adminUrl!));
  },
);
