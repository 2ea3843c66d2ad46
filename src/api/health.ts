// Health: GET /health/live (the process answers: 200), GET /health/ready (200 only when a bundle is
// active, the audit database answers within its bound and the trail can be appended to; 503 naming
// what fails), and GET /health (the same answer as ready, with the bundle's details). Registered on
// every listener. GET /metrics (Prometheus text) is a separate plugin, for the API listener only.
import type { FastifyInstance } from 'fastify';
import type { AuditProbe } from '../audit/index.js';
import type { Engine, LiveData } from '../engine/index.js';
import type { ApiMetrics } from './metrics.js';

export interface HealthOptions {
  engine: Engine;
  liveData?: LiveData | undefined;
  database?: { backend: string; location: string } | undefined;
  /** A bounded check of the audit database (AuditStore.probe); without it the database is not checked. */
  probe?: (() => Promise<AuditProbe>) | undefined;
}

export interface Check {
  ok: boolean;
  error?: string;
}

/** Whether the service can decide and record: each check, and the names of those failing. */
export async function readiness(
  options: HealthOptions,
): Promise<{ ready: boolean; checks: Record<string, Check>; failing: string[] }> {
  const s = options.engine.status();
  const checks: Record<string, Check> = {
    bundle: s.ready ? { ok: true } : { ok: false, error: 'no bundle is active' },
  };
  if (options.probe) {
    const p = await options.probe();
    checks.database = p.reachable ? { ok: true } : { ok: false, error: p.error ?? 'database unreachable' };
    checks.audit = p.writable
      ? { ok: true }
      : { ok: false, error: p.reachable ? (p.error ?? 'not writable') : 'the database does not answer' };
  }
  const failing = Object.entries(checks)
    .filter(([, c]) => !c.ok)
    .map(([name]) => name);
  return { ready: failing.length === 0, checks, failing };
}

export async function healthPlugin(app: FastifyInstance, options: HealthOptions): Promise<void> {
  app.get('/health/live', async (_request, reply) => reply.code(200).send({ status: 'ok' }));
  const ready = async (_request: unknown, reply: import('fastify').FastifyReply) => {
    const s = options.engine.status();
    const r = await readiness(options);
    const body = {
      status: r.ready ? 'ok' : 'unavailable',
      ...(r.ready ? {} : { failing: r.failing }),
      checks: r.checks,
      bundle: s.bundle,
      last_load_failure: s.lastFailure,
      activations: s.activations,
      load_failures: s.loadFailures,
      evaluation_timeouts: s.evaluationTimeouts,
      live_data: options.liveData ? { enabled: true, version: options.liveData.version } : { enabled: false },
      ...(options.database ? { database: options.database } : {}),
    };
    return reply
      .code(r.ready ? 200 : 503)
      .header('cache-control', 'no-store')
      .send(body);
  };
  app.get('/health/ready', ready);
  app.get('/health', ready);
}

export async function metricsPlugin(app: FastifyInstance, options: { metrics: ApiMetrics }): Promise<void> {
  app.get('/metrics', async (_request, reply) => {
    const text = await options.metrics.registry.metrics();
    return reply.type(options.metrics.registry.contentType).send(text);
  });
}
