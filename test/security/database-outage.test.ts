// Bounded waits and honest health against a real outage: a real `airlock serve` on a private Postgres
// cluster whose processes are frozen with SIGSTOP (a hung server: connections accepted, nothing
// answered) and then stopped. Decisions must fail closed with a 5xx within the configured bound, never
// hang; /health/ready and /health must say 503 while /health/live says 200; and the service recovers
// by itself once the database is back.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import t from 'tap';
import { buildDevBundle } from '../../src/cli/commands/serve.js';
import { type AirlockProcess, startAirlockProcess } from './airlock-process.js';
import { clusterUnavailable, type PgCluster, startCluster } from './pg-cluster.js';

const BOUND_MS = 1000;
/** The test's own limit: a request still unanswered after this is a hang. */
const HANG_MS = 8 * BOUND_MS;

const why = clusterUnavailable();
if (why) {
  t.plan(0, why);
} else {
  const request = readFileSync(new URL('../fixtures/decision-request.json', import.meta.url), 'utf8');
  const tmp = mkdtempSync(join(tmpdir(), 'airlock-outage-'));
  const bundle = join(tmp, 'bundle.tar.gz');
  let cluster: PgCluster | undefined;
  let serve: AirlockProcess | undefined;
  t.teardown(async () => {
    cluster?.destroy();
    await serve?.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  /** A request that must be answered before HANG_MS; undefined if it was not (a hang). */
  const answer = async (path: string, init: RequestInit = {}) => {
    try {
      const res = await fetch(`${serve!.url}${path}`, { ...init, signal: AbortSignal.timeout(HANG_MS) });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    } catch (err) {
      if ((err as Error).name === 'TimeoutError') return undefined;
      throw err;
    }
  };
  const decide = () =>
    answer('/v1/data/airlock/decision', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: request,
    });
  /** Polls readiness until it is 200 (the service came back) or the attempts run out. */
  const readyAgain = async () => {
    for (let i = 0; i < 60; i++) {
      const r = await answer('/health/ready');
      if (r?.status === 200) return r;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    return answer('/health/ready');
  };

  t.before(async () => {
    await buildDevBundle('policies', bundle, pino({ level: 'silent' }));
    cluster = await startCluster();
    serve = await startAirlockProcess({
      config: {
        addr: '127.0.0.1:0',
        bundle: { source: bundle, poll_interval_ms: 0 },
        database: { url: cluster.url, timeout_ms: BOUND_MS },
        live_data: { poll_interval_ms: 200 },
      },
      env: { DATABASE_URL: '' },
      timeoutMs: 300_000, // a busy shared machine
    });
  });

  t.test('healthy: decisions are answered and ready is 200', async (t) => {
    const d = await decide();
    t.equal(d?.status, 200);
    t.ok(d?.body.decision_id);
    const ready = await answer('/health/ready');
    t.equal(ready?.status, 200);
    t.match(ready?.body, {
      status: 'ok',
      checks: { bundle: { ok: true }, database: { ok: true }, audit: { ok: true } },
    });
    t.equal((await answer('/health'))?.status, 200);
  });

  t.test('frozen database (SIGSTOP): fail-closed errors within the bound, honest health', async (t) => {
    const pids = cluster!.freeze();
    t.ok(pids.length > 1, 'the postmaster and its backends are frozen');
    try {
      const [d1, d2, ready, health, live] = await Promise.all([
        decide(),
        decide(),
        answer('/health/ready'),
        answer('/health'),
        answer('/health/live'),
      ]);
      for (const d of [d1, d2]) {
        t.ok(d, 'the decision request is answered, not left hanging');
        t.ok(d && d.status >= 500 && d.status < 600, `a 5xx error (got ${d?.status})`);
        // On Postgres the look for other replicas' live data writes comes first (docs/api.md).
        t.match(d?.body, {
          code: 'internal_error',
          message: /live data could not be checked|could not be recorded in the audit trail/,
        });
        t.notMatch(
          JSON.stringify(d?.body),
          /127\.0\.0\.1|postgres:\/\//,
          'no database address in the answer',
        );
        t.notOk(d?.body.result, 'no decision result is given out');
      }
      t.equal(ready?.status, 503, '/health/ready: 503');
      t.match(ready?.body, { status: 'unavailable', failing: ['database', 'audit'] });
      t.equal(health?.status, 503, '/health: 503 too');
      t.equal(live?.status, 200, '/health/live: the process is up');
      // Still bounded on a second round, with connections stuck from the first.
      const again = await decide();
      t.ok(again && again.status >= 500, 'a later decision also fails closed in time');
    } finally {
      cluster!.thaw();
    }
    const back = await readyAgain();
    t.equal(back?.status, 200, 'ready again after SIGCONT');
    const d = await decide();
    t.equal(d?.status, 200, 'decisions succeed again');
  });

  t.test('stopped database: fail-closed errors and 503, then recovery', async (t) => {
    cluster!.stop();
    try {
      const d = await decide();
      t.ok(d && d.status >= 500 && d.status < 600, `a 5xx error (got ${d?.status})`);
      t.notOk(d?.body.result);
      const ready = await answer('/health/ready');
      t.equal(ready?.status, 503);
      t.match(ready?.body, { failing: ['database', 'audit'] });
      t.equal((await answer('/health'))?.status, 503);
      t.equal((await answer('/health/live'))?.status, 200);
    } finally {
      cluster!.start();
    }
    const back = await readyAgain();
    t.equal(back?.status, 200, 'ready again once the server is back');
    t.equal((await decide())?.status, 200);
  });
}
