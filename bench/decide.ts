// Decision throughput on loopback: autocannon against POST /v1/data/airlock/decision served by
// `airlock serve`'s stack (reference policy from policies/, embedded PGlite audit trail), and against
// a bare fastify route returning a constant (the ceiling of this machine and HTTP stack); the ratio.
// The servers run in a child process so that the load generator does not share their event loop.
//
//   npm run bench:decide            DECIDE_BENCH_SECONDS=10 DECIDE_BENCH_CONNECTIONS=10
//
// Three policy runs: the audit trail written before answering (`sync`, the default: fail closed),
// written after answering (`background`), and off (the engine and HTTP alone). The ratios to the
// ceiling are printed beside issue 14's goals (audit off ≥ 0.60, synchronous audit ≥ 0.30).
import { fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const seconds = Number(process.env.DECIDE_BENCH_SECONDS ?? 10);
const connections = Number(process.env.DECIDE_BENCH_CONNECTIONS ?? 10);

interface Result {
  requests: { average: number };
  latency: { p50: number; p99: number; average: number };
  non2xx: number;
  errors: number;
}
type Autocannon = (opts: Record<string, unknown>) => Promise<Result>;

async function serve(mode: string): Promise<void> {
  const Fastify = (await import('fastify')).default;
  if (mode === 'bare') {
    const app = Fastify();
    app.post('/v1/data/airlock/decision', async () => ({
      result: { effect: 'allow', reasons: [] },
      decision_id: 'constant',
    }));
    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    process.send?.({ url });
    return;
  }
  const { loadPolicyTree } = await import('../src/cli/policy-files.js');
  const { buildBundle, Engine, LiveData } = await import('../src/engine/index.js');
  const { AuditStore } = await import('../src/audit/index.js');
  const { buildApi, auditDecisionLog } = await import('../src/api/index.js');
  const tree = await loadPolicyTree(['policies']);
  const built = buildBundle(tree, { entrypoints: ['airlock/decision'], revision: 'bench' });
  const engine = new Engine();
  await engine.activate(built.bundle, 'policies/');
  const store = await AuditStore.open({ dataDir: `memory://bench-${process.pid}` });
  const liveData = await LiveData.open(store.db, engine);
  const { app } = await buildApi({
    access: { mode: 'unauthenticated', via: 'loopback' },
    engine,
    liveData,
    log: auditDecisionLog(store),
    logMode: mode as 'sync' | 'background' | 'off',
  });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  process.send?.({ url });
}

async function measure(mode: string, autocannon: Autocannon, body: string) {
  const child = fork(new URL(import.meta.url).pathname, [], {
    env: { ...process.env, DECIDE_BENCH_SERVER: mode },
    execArgv: process.execArgv,
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  try {
    const url = await new Promise<string>((resolve, reject) => {
      child.once('message', (m) => resolve((m as { url: string }).url));
      child.once('exit', (code) => reject(new Error(`${mode} server exited with ${code}`)));
    });
    const opts = {
      url: `${url}/v1/data/airlock/decision`,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
      connections,
    };
    await autocannon({ ...opts, duration: 2 }); // warm-up (JIT, PGlite)
    const r = await autocannon({ ...opts, duration: seconds });
    return r;
  } finally {
    child.kill();
  }
}

if (process.env.DECIDE_BENCH_SERVER) {
  await serve(process.env.DECIDE_BENCH_SERVER);
} else {
  const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;
  const input = JSON.parse(readFileSync('test/fixtures/decision-input.json', 'utf8'));
  const body = JSON.stringify({ input });
  console.log(
    `autocannon, ${connections} connections, ${seconds} s per run, loopback, input test/fixtures/decision-input.json`,
  );
  const rows: [string, Result][] = [];
  for (const mode of ['bare', 'sync', 'background', 'off']) {
    const r = await measure(mode, autocannon, body);
    rows.push([mode, r]);
    const label =
      mode === 'bare' ? 'bare fastify constant route (ceiling)' : `reference policy, audit ${mode}`;
    console.log(
      `${label.padEnd(40)} ${r.requests.average.toFixed(0).padStart(7)} req/s   p50 ${String(r.latency.p50).padStart(3)} ms   p99 ${String(r.latency.p99).padStart(4)} ms   errors ${r.errors + r.non2xx}`,
    );
  }
  const ceiling = rows[0]![1].requests.average;
  // Issue 14's goals for the decision API: audit off ≥ 0.60 of the ceiling, synchronous audit ≥ 0.30.
  const goals: Record<string, number> = { sync: 0.3, off: 0.6 };
  for (const [mode, r] of rows.slice(1)) {
    const ratio = r.requests.average / ceiling;
    const want = goals[mode];
    const verdict =
      want === undefined ? '' : `   goal ≥ ${want.toFixed(2)}: ${ratio >= want ? 'met' : 'NOT met'}`;
    console.log(`ratio policy (audit ${mode}) / ceiling: ${ratio.toFixed(3)}${verdict}`);
  }
}
