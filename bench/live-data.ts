// What the look for other replicas' live data writes costs per request (docs/api.md, "Live data
// across replicas"): a request of three evaluations of the reference decision (as a tools/call
// makes) with the check off (the baseline), on with a look per evaluation, and on with the three
// sharing one look (the gateway's freshness mark), in the same run, interleaved, sequentially and
// with concurrent callers. Postgres only:
// it is the one database several replicas share (on PGlite serve makes no check).
//
//   DATABASE_URL=postgres://… npm run bench:live-data      LIVE_BENCH_N=2000 LIVE_BENCH_CONCURRENCY=10
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { AuditStore } from '../src/audit/index.js';
import { loadPolicyTree } from '../src/cli/policy-files.js';
import { buildBundle, Engine, LiveData } from '../src/engine/index.js';

const N = Number(process.env.LIVE_BENCH_N ?? 2000);
const CONCURRENCY = Number(process.env.LIVE_BENCH_CONCURRENCY ?? 10);
const adminUrl = process.env.DATABASE_URL;
if (!adminUrl) {
  console.log('bench:live-data needs DATABASE_URL (a Postgres server): nothing measured');
  process.exit(0);
}

const admin = new pg.Client({ connectionString: adminUrl });
await admin.connect();
const name = `airlock_bench_live_${randomBytes(4).toString('hex')}`;
await admin.query(`CREATE DATABASE ${name}`);
const url = new URL(adminUrl);
url.pathname = `/${name}`;
const store = await AuditStore.open({ databaseUrl: url.toString() });
try {
  const tree = await loadPolicyTree(['policies']);
  const engine = new Engine();
  await engine.activate(buildBundle(tree, { entrypoints: ['airlock/decision'] }).bundle, 'bench');
  const live = await LiveData.open(store.db, engine, { pollIntervalMs: 0 });
  await live.write({ op: 'put', path: ['revocations', 'users', 'mallory'], value: true }, 'bench');
  const input = {
    phase: 'request',
    action: 'tools/call',
    user: { sub: 'alice', groups: ['eng'] },
    agent: { id: 'devops-agent' },
    server: { name: 'github', virtual: 'devops' },
    tool: { name: 'list_repos' },
    arguments: {},
  };
  type Mode = 'off' | 'on' | 'shared';
  let mode: Mode = 'off';
  const one = async () => {
    const freshSince = mode === 'shared' ? engine.freshnessMark() : undefined;
    for (let i = 0; i < 3; i++) await engine.evaluate('airlock/decision', input, { freshSince });
  };
  const sequential = async () => {
    const times: number[] = [];
    for (let i = 0; i < N; i++) {
      const t0 = performance.now();
      await one();
      times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    return { p50: times[Math.floor(N * 0.5)]!, p99: times[Math.floor(N * 0.99)]! };
  };
  const concurrent = async () => {
    const t0 = performance.now();
    let left = N;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (left-- > 0) await one();
      }),
    );
    return N / ((performance.now() - t0) / 1000);
  };
  const run = async (m: Mode) => {
    mode = m;
    engine.setFreshnessCheck(m === 'off' ? undefined : live);
    for (let i = 0; i < 200; i++) await one(); // warm-up
    return { ...(await sequential()), perSecond: await concurrent() };
  };
  const results: Record<Mode, { p50: number; p99: number; perSecond: number }[]> = {
    off: [],
    on: [],
    shared: [],
  };
  for (let round = 0; round < 2; round++) {
    for (const m of ['off', 'on', 'shared'] as const) results[m].push(await run(m));
  }
  const best = (rs: { p50: number; p99: number; perSecond: number }[]) => ({
    p50: Math.min(...rs.map((r) => r.p50)),
    p99: Math.min(...rs.map((r) => r.p99)),
    perSecond: Math.max(...rs.map((r) => r.perSecond)),
  });
  const off = best(results.off);
  const on = best(results.on);
  const shared = best(results.shared);
  const ms = (x: number) => `${x.toFixed(3)} ms`;
  console.log(
    `requests of 3 reference decisions, ${N} requests per variant and round, 2 rounds interleaved (best round)`,
  );
  console.log(
    `load average at the end: ${(await import('node:os'))
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  console.log(
    `check off (baseline)           : p50 ${ms(off.p50)}  p99 ${ms(off.p99)}  ${CONCURRENCY} callers ${off.perSecond.toFixed(0)}/s`,
  );
  const row = (label: string, r: typeof off) =>
    console.log(
      `${label}: p50 ${ms(r.p50)}  p99 ${ms(r.p99)}  ${CONCURRENCY} callers ${r.perSecond.toFixed(0)}/s  ` +
        `(p50 +${ms(r.p50 - off.p50)}, throughput ×${(r.perSecond / off.perSecond).toFixed(2)})`,
    );
  row('check on, a look per evaluation', on);
  row('check on, one look per request ', shared);
  live.stop();
  await engine.close();
} finally {
  await store.close();
  await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.end();
}
