// What the look for other replicas' live data writes costs per evaluation (docs/api.md, "Live data
// across replicas"): the reference decision evaluated with the check off (the baseline) and on, in
// the same run, interleaved, sequentially and with concurrent callers sharing looks. Postgres only:
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
  const one = () => engine.evaluate('airlock/decision', input);
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
  const run = async (check: boolean) => {
    engine.setFreshnessCheck(check ? () => live.refresh() : undefined);
    for (let i = 0; i < 200; i++) await one(); // warm-up
    return { ...(await sequential()), perSecond: await concurrent() };
  };
  const results: Record<'off' | 'on', { p50: number; p99: number; perSecond: number }[]> = {
    off: [],
    on: [],
  };
  for (let round = 0; round < 2; round++) {
    results.off.push(await run(false));
    results.on.push(await run(true));
  }
  const best = (rs: { p50: number; p99: number; perSecond: number }[]) => ({
    p50: Math.min(...rs.map((r) => r.p50)),
    p99: Math.min(...rs.map((r) => r.p99)),
    perSecond: Math.max(...rs.map((r) => r.perSecond)),
  });
  const off = best(results.off);
  const on = best(results.on);
  const ms = (x: number) => `${x.toFixed(3)} ms`;
  console.log(
    `reference decision, ${N} evaluations per variant and round, 2 rounds interleaved (best round)`,
  );
  console.log(
    `load average at the end: ${(await import('node:os'))
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  console.log(
    `check off (baseline): p50 ${ms(off.p50)}  p99 ${ms(off.p99)}  ${CONCURRENCY} callers ${off.perSecond.toFixed(0)}/s`,
  );
  console.log(
    `check on            : p50 ${ms(on.p50)}  p99 ${ms(on.p99)}  ${CONCURRENCY} callers ${on.perSecond.toFixed(0)}/s`,
  );
  console.log(
    `cost of the check   : p50 +${ms(on.p50 - off.p50)}  throughput ×${(on.perSecond / off.perSecond).toFixed(2)}`,
  );
  live.stop();
  await engine.close();
} finally {
  await store.close();
  await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.end();
}
