// Audit write path: events/s and commit latency (p50/p99) at 1, 10 and 100 concurrent writers, and
// with 1 versus 3 writer processes on one database, each figure printed beside baselines measured in
// the same run:
//
// - `old path`: the writer's pre-0004 path (`path: 'transaction'`: BEGIN, lock + head, INSERT,
//   COMMIT, the chain lock held across four round trips);
// - `floor`: the same writers doing one plain single-row autocommit INSERT of the event's JSON into an
//   unindexed table, with no chain — what durably storing the event costs at all.
//
// Each writer records events one after another, awaiting each commit, like a gateway handling one call
// at a time per connection. Runs on embedded PGlite always and, when $DATABASE_URL reaches a server,
// on Postgres (a fresh database, dropped after). Several processes need a server: PGlite serves one
// process per data directory.
//
//   npm run bench:audit        AUDIT_BENCH_SECONDS=3 per run, AUDIT_BENCH_MAX_BATCH=256,
//                              AUDIT_BENCH_PROCESS_WRITERS=100 concurrent writers in each process
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import pg from 'pg';
import { type AuditEventInput, AuditStore, type AuditStoreOptions } from '../src/audit/index.js';

const seconds = Number(process.env.AUDIT_BENCH_SECONDS ?? 3);
const maxBatch = Number(process.env.AUDIT_BENCH_MAX_BATCH ?? 256);
const processWriters = Number(process.env.AUDIT_BENCH_PROCESS_WRITERS ?? 100);
const concurrencies = [1, 10, 100];

type Variant = 'new' | 'old' | 'floor';

function event(i: number): AuditEventInput {
  return {
    kind: 'decision',
    decisionId: `bench-${i}`,
    phase: 'request',
    user: { sub: `user-${i % 50}`, claims: { groups: ['eng'] } },
    agentId: `agent-${i % 7}`,
    model: { provider: 'anthropic', name: 'claude' },
    virtualServer: 'devops',
    upstreamServer: 'github',
    target: { type: 'tool', name: `tool_${i % 20}` },
    arguments: { repo: 'corp/payments', path: `/src/file-${i}.ts`, limit: 100 },
    effect: 'allow',
    reasons: [],
    bundleRevision: 'bench',
    timings: { policy_ms: 0.2 },
  };
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

interface Measured {
  events: number;
  perSecond: number;
  p50: number;
  p99: number;
  meanBatch: number;
}

/** `writers` concurrent loops recording until `until` (a performance.now() or Date.now() deadline). */
async function measure(
  store: AuditStore,
  variant: Variant,
  writers: number,
  until: { now: () => number; at: number },
): Promise<Measured> {
  const record =
    variant === 'floor'
      ? (e: AuditEventInput) =>
          sql`INSERT INTO audit_bench_floor (doc) VALUES (${JSON.stringify(e)}::jsonb)`.execute(store.db)
      : (e: AuditEventInput) => store.record(e);
  await record(event(-1)); // warm up
  const before = { ...store.writer.stats };
  const latencies: number[] = [];
  let n = 0;
  let count = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: writers }, async () => {
      while (until.now() < until.at) {
        const t0 = performance.now();
        await record(event(n++));
        latencies.push(performance.now() - t0);
        count++;
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const batches = store.writer.stats.batches - before.batches;
  return {
    events: count,
    perSecond: count / elapsed,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    meanBatch: variant === 'floor' ? 1 : (store.writer.stats.events - before.events) / Math.max(batches, 1),
  };
}

async function openStore(options: AuditStoreOptions, variant: Variant): Promise<AuditStore> {
  const store = await AuditStore.open({
    ...options,
    writer: { maxBatch, path: variant === 'old' ? 'transaction' : 'function' },
  });
  await sql`CREATE TABLE IF NOT EXISTS audit_bench_floor (id bigserial, doc jsonb NOT NULL)`.execute(
    store.db,
  );
  return store;
}

async function inProcess(options: AuditStoreOptions, variant: Variant, writers: number): Promise<Measured> {
  const store = await openStore(options, variant);
  try {
    return await measure(store, variant, writers, {
      now: () => performance.now(),
      at: performance.now() + seconds * 1000,
    });
  } finally {
    await store.close();
  }
}

// ------------------------------------------------------------------------------ writer processes

interface ChildJob {
  options: AuditStoreOptions;
  variant: Variant;
  writers: number;
}

async function childMain(): Promise<void> {
  const job = JSON.parse(process.env.AUDIT_BENCH_CHILD!) as ChildJob;
  const store = await openStore(job.options, job.variant);
  await store.record(event(-2)); // connected and warm before the start signal
  process.send?.({ ready: true });
  const at = await new Promise<number>((resolve) =>
    process.once('message', (m: { start: number }) => resolve(m.start)),
  );
  while (Date.now() < at) await new Promise((r) => setTimeout(r, 1));
  const r = await measure(store, job.variant, job.writers, {
    now: () => Date.now(),
    at: at + seconds * 1000,
  });
  await store.close();
  process.send?.({ result: r });
}

/** `count` processes with `writers` writers each, started together; their events/s summed. */
async function processes(
  options: AuditStoreOptions,
  variant: Variant,
  count: number,
  writers: number,
): Promise<{ perSecond: number; each: number[] }> {
  const children = Array.from({ length: count }, () =>
    fork(new URL(import.meta.url).pathname, [], {
      env: { ...process.env, AUDIT_BENCH_CHILD: JSON.stringify({ options, variant, writers }) },
      execArgv: process.execArgv,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    }),
  );
  const next = <T>(proc: (typeof children)[number], key: string) =>
    new Promise<T>((resolve, reject) => {
      const onMessage = (m: Record<string, unknown>) => {
        if (!(key in m)) return;
        proc.off('message', onMessage);
        resolve(m[key] as T);
      };
      proc.on('message', onMessage);
      proc.once('exit', (code) => reject(new Error(`writer process exited with ${code}`)));
    });
  try {
    await Promise.all(children.map((c) => next<boolean>(c, 'ready')));
    const results = children.map((c) => next<Measured>(c, 'result'));
    const start = Date.now() + 200;
    for (const c of children) c.send({ start });
    const each = (await Promise.all(results)).map((r) => r.perSecond);
    return { perSecond: each.reduce((a, b) => a + b, 0), each };
  } finally {
    for (const c of children) if (c.exitCode === null) c.kill();
  }
}

// ------------------------------------------------------------------------------------- printing

const ratio = (a: number, b: number) => `×${(a / b).toFixed(2)}`;

function table(header: string[], lines: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const fmt = (cells: string[]) => cells.map((c, i) => c.padStart(widths[i]!)).join('  ');
  console.log(fmt(header));
  for (const l of lines) console.log(fmt(l));
}

async function concurrencyTable(backend: string, options: AuditStoreOptions): Promise<void> {
  const lines: string[][] = [];
  for (const w of concurrencies) {
    const r: Partial<Record<Variant, Measured>> = {};
    // Interleaved per concurrency, so that drift (the table growing, other load) weighs on all alike.
    for (const v of ['new', 'old', 'floor'] as const) r[v] = await inProcess(options, v, w);
    const { new: n, old: o, floor: f } = r as Record<Variant, Measured>;
    lines.push([
      backend,
      String(w),
      n.perSecond.toFixed(0),
      `${n.p50.toFixed(2)}/${n.p99.toFixed(2)}`,
      n.meanBatch.toFixed(1),
      o.perSecond.toFixed(0),
      `${o.p50.toFixed(2)}/${o.p99.toFixed(2)}`,
      ratio(n.perSecond, o.perSecond),
      f.perSecond.toFixed(0),
      `${f.p50.toFixed(2)}/${f.p99.toFixed(2)}`,
      ratio(n.perSecond, f.perSecond),
    ]);
  }
  table(
    [
      'backend',
      'writers',
      'events/s',
      'p50/p99 ms',
      'batch',
      'old path/s',
      'old p50/p99',
      'vs old',
      'floor/s',
      'floor p50/p99',
      'vs floor',
    ],
    lines,
  );
}

async function verifyRate(options: AuditStoreOptions): Promise<string> {
  const store = await AuditStore.open(options);
  try {
    const t0 = performance.now();
    const report = await store.verify();
    const s = (performance.now() - t0) / 1000;
    return `verify: ${report.checked} events in ${s.toFixed(2)} s (${Math.round(report.checked / s)} events/s), ${report.ok ? 'intact' : `BROKEN: ${report.break?.kind} at seq ${report.break?.seq}`}`;
  } finally {
    await store.close();
  }
}

async function postgresTarget(): Promise<
  { options: AuditStoreOptions; cleanup: () => Promise<void> } | string
> {
  const url = process.env.DATABASE_URL;
  if (!url) return 'DATABASE_URL is not set';
  const admin = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  admin.on('error', () => {});
  try {
    await admin.connect();
  } catch (err) {
    return `unreachable (${(err as Error).message})`;
  }
  const name = `airlock_bench_${randomBytes(5).toString('hex')}`;
  await admin.query(`CREATE DATABASE ${name}`);
  const u = new URL(url);
  u.pathname = `/${name}`;
  return {
    options: { databaseUrl: u.toString() },
    cleanup: async () => {
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
    },
  };
}

async function main(): Promise<void> {
  console.log(
    `audit write path: ${seconds} s per run, maxBatch ${maxBatch}; machine load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')} at start`,
  );
  console.log(
    'events/s: this writer (one statement per batch, migration 0004); old path: BEGIN, lock + head, INSERT, COMMIT; floor: plain single-row INSERT, no chain',
  );

  const dir = mkdtempSync(join(tmpdir(), 'airlock-bench-audit-'));
  try {
    const keeper = await AuditStore.open({ dataDir: dir }); // one PGlite instance for all runs
    await concurrencyTable('pglite', { dataDir: dir });
    console.log(`pglite ${await verifyRate({ dataDir: dir })}`);
    console.log('pglite: 1 vs 3 writer processes not measured (PGlite serves one process per directory)');
    await keeper.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  const target = await postgresTarget();
  if (typeof target === 'string') {
    console.log(`postgres: skipped, ${target}`);
    return;
  }
  try {
    await concurrencyTable('postgres', target.options);
    const lines: string[][] = [];
    for (const v of ['new', 'old'] as const) {
      const one = await processes(target.options, v, 1, processWriters);
      const three = await processes(target.options, v, 3, processWriters);
      lines.push([
        v === 'new' ? 'this writer' : 'old path',
        one.perSecond.toFixed(0),
        three.perSecond.toFixed(0),
        three.each.map((e) => e.toFixed(0)).join(' + '),
        ratio(three.perSecond, one.perSecond),
      ]);
    }
    console.log(`\npostgres, writer processes with ${processWriters} concurrent writers each, one database:`);
    table(['path', '1 process/s', '3 processes/s', '(each)', '3 vs 1'], lines);
    console.log(`postgres ${await verifyRate(target.options)}`);
  } finally {
    await target.cleanup();
  }
}

if (process.env.AUDIT_BENCH_CHILD) await childMain();
else await main();
