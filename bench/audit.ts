// Audit write path: events/s and commit latency (p50/p99) for 1, 10 and 100 concurrent writers on
// embedded PGlite and, when $DATABASE_URL reaches a server, on Postgres. Each writer records events
// one after another, awaiting each commit, like a gateway handling one call at a time per connection.
//
//   npm run bench:audit                     (AUDIT_BENCH_SECONDS=3 per run by default)
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { type AuditEventInput, AuditStore, type AuditStoreOptions } from '../src/audit/index.js';

const seconds = Number(process.env.AUDIT_BENCH_SECONDS ?? 3);
const maxBatch = Number(process.env.AUDIT_BENCH_MAX_BATCH ?? 256);
const concurrencies = [1, 10, 100];

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

interface Row {
  backend: string;
  writers: number;
  events: number;
  perSecond: number;
  p50: number;
  p99: number;
  meanBatch: number;
  largestBatch: number;
}

async function run(backend: string, options: AuditStoreOptions, writers: number): Promise<Row> {
  const store = await AuditStore.open({ ...options, writer: { maxBatch } });
  try {
    await store.record(event(-1)); // warm up
    const before = { ...store.writer.stats };
    const latencies: number[] = [];
    const deadline = performance.now() + seconds * 1000;
    let n = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: writers }, async () => {
        while (performance.now() < deadline) {
          const t0 = performance.now();
          await store.record(event(n++));
          latencies.push(performance.now() - t0);
        }
      }),
    );
    const elapsed = (performance.now() - started) / 1000;
    latencies.sort((a, b) => a - b);
    const batches = store.writer.stats.batches - before.batches;
    const events = store.writer.stats.events - before.events;
    return {
      backend,
      writers,
      events,
      perSecond: events / elapsed,
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      meanBatch: events / Math.max(batches, 1),
      largestBatch: store.writer.stats.largestBatch,
    };
  } finally {
    await store.close();
  }
}

async function verifyRate(options: AuditStoreOptions): Promise<string> {
  const store = await AuditStore.open(options);
  try {
    const t0 = performance.now();
    const report = await store.verify();
    const s = (performance.now() - t0) / 1000;
    return `verify: ${report.checked} events in ${s.toFixed(2)} s (${Math.round(report.checked / s)} events/s), ${report.ok ? 'intact' : 'BROKEN'}`;
  } finally {
    await store.close();
  }
}

function print(rows: Row[]): void {
  const header = [
    'backend',
    'writers',
    'events',
    'events/s',
    'p50 ms',
    'p99 ms',
    'mean batch',
    'largest batch',
  ];
  const lines = rows.map((r) => [
    r.backend,
    String(r.writers),
    String(r.events),
    r.perSecond.toFixed(0),
    r.p50.toFixed(2),
    r.p99.toFixed(2),
    r.meanBatch.toFixed(1),
    String(r.largestBatch),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const fmt = (cells: string[]) => cells.map((c, i) => c.padStart(widths[i]!)).join('  ');
  console.log(fmt(header));
  for (const l of lines) console.log(fmt(l));
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

const rows: Row[] = [];
console.log(
  `audit write path: ${seconds} s per run, maxBatch ${maxBatch} (group commit: batches form while a commit is in flight)`,
);

const dir = mkdtempSync(join(tmpdir(), 'airlock-bench-audit-'));
try {
  const keeper = await AuditStore.open({ dataDir: dir }); // one PGlite instance for all runs
  for (const w of concurrencies) rows.push(await run('pglite', { dataDir: dir }, w));
  console.log(await verifyRate({ dataDir: dir }));
  await keeper.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const pgTarget = await postgresTarget();
if (typeof pgTarget === 'string') {
  console.log(`postgres: skipped, ${pgTarget}`);
} else {
  try {
    for (const w of concurrencies) rows.push(await run('postgres', pgTarget.options, w));
    console.log(await verifyRate(pgTarget.options));
  } finally {
    await pgTarget.cleanup();
  }
}
print(rows);
