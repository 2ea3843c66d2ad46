// The decision service's fastify app: one encapsulated plugin per surface (OPA Data API, AuthZEN,
// native decisions, health and metrics), each with its own body parser and error shape.
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { AuditProbe } from '../audit/index.js';
import type { Engine, LiveData } from '../engine/index.js';
import type { Identity } from '../identity/index.js';
import { traceRequests } from '../telemetry/index.js';
import { type AccessOptions, callerOfRequest, installAccessControl } from './access.js';
import type { AdminAuthenticator } from './admin.js';
import { authzenPlugin } from './authzen.js';
import { type BodyLimits, DEFAULT_BODY_LIMITS } from './body.js';
import { Decider } from './decider.js';
import type { DecisionLog } from './decision-log.js';
import { decisionsPlugin } from './decisions.js';
import { replyProblem } from './errors.js';
import { forwardAuthPlugin } from './forward-auth.js';
import { healthPlugin, metricsPlugin } from './health.js';
import { hygieneFastifyOptions, hygienicLogger, installRequestHygiene } from './hygiene.js';
import { type ApiMetrics, createMetrics } from './metrics.js';
import { opaDataPlugin } from './opa-data.js';

export const DEFAULT_ADDR = '127.0.0.1:8181';

export interface ApiOptions {
  engine: Engine;
  liveData?: LiveData | undefined;
  /** Decision and data-change log (the audit trail). */
  log?: DecisionLog | undefined;
  logMode?: 'sync' | 'background' | 'off';
  /**
   * Who may use the API (src/api/access.ts). Required, so that no embedding forgets it: `authenticated`
   * authenticates every request and asks the authz entrypoint; `unauthenticated` is for loopback only.
   */
  access: AccessOptions;
  /** Data-write credentials of an unauthenticated API (authenticated APIs use the access hook's caller). */
  admin?: AdminAuthenticator | undefined;
  limits?: Partial<BodyLimits>;
  /** Entrypoint of the native and AuthZEN APIs (default airlock/decision). */
  decisionEntrypoint?: string;
  adminEntrypoint?: string;
  /** Base URL named by /.well-known/authzen-configuration (`authzen.base_url`). */
  authzenBaseUrl?: string | undefined;
  database?: { backend: string; location: string } | undefined;
  /** Bounded check of the audit database for /health/ready (AuditStore.probe). */
  databaseProbe?: (() => Promise<AuditProbe>) | undefined;
  /** A pino logger for requests and errors (default: no logging). */
  logger?: FastifyBaseLogger | undefined;
  defaultMetrics?: boolean;
  version?: string;
  /** Forward-auth for proxies (/v1/authz/http): bearer tokens verified by `identity`, decided by `entrypoint` (default airlock/http). */
  forwardAuth?: { identity: Identity; entrypoint?: string | undefined } | undefined;
}

export interface DecisionApi {
  app: FastifyInstance;
  metrics: ApiMetrics;
  decider: Decider;
}

/** Builds the app (not listening yet). */
export async function buildApi(options: ApiOptions): Promise<DecisionApi> {
  const limits: BodyLimits = { ...DEFAULT_BODY_LIMITS, ...options.limits };
  const app = Fastify({
    ...(options.logger ? { loggerInstance: hygienicLogger(options.logger) } : { logger: false }),
    ...hygieneFastifyOptions,
    bodyLimit: limits.maxBytes,
    routerOptions: { maxParamLength: 2048 },
    return503OnClosing: true,
  });
  // First hook: a credential in the query string is refused before anything else looks at the request.
  installRequestHygiene(app);
  const metrics = createMetrics(options.engine, { defaultMetrics: options.defaultMetrics ?? false });
  app.addHook('onClose', async () => metrics.close());
  // A span per request while tracing is on (before access control, whose stages it parents).
  traceRequests(app, { ignore: (path) => path === '/metrics' || path.startsWith('/health') });
  // Access control first: every route below (and any plugin registered later) is behind it.
  installAccessControl(app, options.access, { engine: options.engine, metrics });
  const decider = new Decider({
    engine: options.engine,
    log: options.log,
    logMode: options.logMode ?? 'sync',
    metrics,
    onLogError: (err) => app.log.error({ err: err.message }, 'decision not recorded in the audit trail'),
    onEvalError: (err) => app.log.error({ err }, 'policy evaluation failed unexpectedly'),
  });
  // Latency of every decision surface.
  app.addHook('onRequest', async (request) => {
    (request as unknown as { startedAt: bigint }).startedAt = process.hrtime.bigint();
  });
  app.addHook('onResponse', async (request) => {
    const url = request.routeOptions.url ?? '';
    const api = url.startsWith('/v1/data')
      ? 'data'
      : url.startsWith('/access/')
        ? 'authzen'
        : url === '/v1/decisions'
          ? 'decisions'
          : url.startsWith('/v1/authz/http')
            ? 'http'
            : undefined;
    if (!api || (api === 'data' && request.method !== 'POST' && request.method !== 'GET')) return;
    const started = (request as unknown as { startedAt: bigint }).startedAt;
    metrics.latency.observe({ api }, Number(process.hrtime.bigint() - started) / 1e9);
  });
  app.setNotFoundHandler((request, reply) =>
    replyProblem(
      reply,
      404,
      'not-found',
      'Not found',
      `no route for ${request.method} ${request.url.split('?')[0]}`,
    ),
  );
  const version = options.version ?? '0.1.0';
  await app.register(opaDataPlugin, {
    decider,
    limits,
    liveData: options.liveData,
    log: options.log,
    admin: options.access.mode === 'authenticated' ? callerOfRequest : options.admin,
    ...(options.adminEntrypoint ? { adminEntrypoint: options.adminEntrypoint } : {}),
    version,
  });
  await app.register(authzenPlugin, {
    decider,
    limits,
    baseUrl: options.authzenBaseUrl,
    ...(options.decisionEntrypoint ? { entrypoint: options.decisionEntrypoint } : {}),
  });
  await app.register(decisionsPlugin, {
    decider,
    limits,
    ...(options.decisionEntrypoint ? { entrypoint: options.decisionEntrypoint } : {}),
  });
  if (options.forwardAuth)
    await app.register(forwardAuthPlugin, {
      decider,
      identity: options.forwardAuth.identity,
      ...(options.forwardAuth.entrypoint ? { entrypoint: options.forwardAuth.entrypoint } : {}),
    });
  await app.register(healthPlugin, {
    engine: options.engine,
    liveData: options.liveData,
    database: options.database,
    probe: options.databaseProbe,
  });
  await app.register(metricsPlugin, { metrics });
  return { app, metrics, decider };
}

/** `host:port` → listen options (IPv6 in brackets). */
export function parseAddr(addr: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(addr);
  const port = Number(m?.[3]);
  if (!m || port > 65535)
    throw new Error(`--addr must be host:port (e.g. 127.0.0.1:8181), got ${JSON.stringify(addr)}`);
  return { host: m[1] ?? (m[2] || '127.0.0.1'), port };
}
