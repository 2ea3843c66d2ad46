// GET /health: 200 when a bundle is active (with its details and the last load failure, if any),
// 503 before. GET /metrics: Prometheus text.
import type { FastifyInstance } from 'fastify';
import type { Engine, LiveData } from '../engine/index.js';
import type { ApiMetrics } from './metrics.js';

export interface HealthOptions {
  engine: Engine;
  liveData?: LiveData | undefined;
  metrics: ApiMetrics;
  database?: { backend: string; location: string } | undefined;
  /** Serve /metrics too (default true; the agents' listener does not). */
  serveMetrics?: boolean;
}

export async function healthPlugin(app: FastifyInstance, options: HealthOptions): Promise<void> {
  app.get('/health', async (_request, reply) => {
    const s = options.engine.status();
    const body = {
      status: s.ready ? 'ok' : 'unavailable',
      bundle: s.bundle,
      last_load_failure: s.lastFailure,
      activations: s.activations,
      load_failures: s.loadFailures,
      evaluation_timeouts: s.evaluationTimeouts,
      live_data: options.liveData ? { enabled: true, version: options.liveData.version } : { enabled: false },
      ...(options.database ? { database: options.database } : {}),
    };
    return reply.code(s.ready ? 200 : 503).send(body);
  });
  if (options.serveMetrics === false) return;
  app.get('/metrics', async (_request, reply) => {
    const text = await options.metrics.registry.metrics();
    return reply.type(options.metrics.registry.contentType).send(text);
  });
}
