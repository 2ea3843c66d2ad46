// `airlock serve`: the decision service. With no arguments it serves bundles/airlock.tar.gz (built
// from policies/ when missing) with the embedded database, on 127.0.0.1:8181.
import { access, mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Command } from 'commander';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import pino from 'pino';
import { Counter, type Registry } from 'prom-client';
import { type AccessOptions, DEFAULT_AUTHZ_ENTRYPOINT } from '../../api/access.js';
import { approvalsPlugin } from '../../api/approvals.js';
import { replyProblem } from '../../api/errors.js';
import { healthPlugin } from '../../api/health.js';
import {
  hygieneFastifyOptions,
  hygienicLogger,
  installRequestHygiene,
  requestLogSerializers,
} from '../../api/hygiene.js';
import {
  type AdminAuthenticator,
  anyAuthenticator,
  auditDecisionLog,
  buildApi,
  DEFAULT_ADDR,
  identityAuthenticator,
  parseAddr,
  staticTokenAuthenticator,
} from '../../api/index.js';
import type { ApiMetrics } from '../../api/metrics.js';
import {
  AuditStore,
  CheckpointConfigError,
  databaseConfigFrom,
  type PreparedCheckpoints,
  prepareCheckpoints,
} from '../../audit/index.js';
import {
  ConsoleConfigError,
  consoleApprover,
  consolePlugin,
  createConsoleService,
  installConsoleApprovals,
} from '../../console/index.js';
import { type BundleSource, buildBundle, bundleSource, Engine, LiveData } from '../../engine/index.js';
import { ApprovalStore } from '../../gateway/approvals.js';
import {
  gatewayPlugin,
  NameConflictError,
  originGuardPlugin,
  parseGatewayConfig,
} from '../../gateway/index.js';
import {
  createIdentity,
  type Identity,
  IdentityConfigError,
  identityPlugin,
  loadSecret,
  PINO_REDACT_PATHS,
  SecretUnavailableError,
} from '../../identity/index.js';
import { startTracing, type Tracing } from '../../telemetry/index.js';
import type { CliContext } from '../main.js';
import { loadPolicyTree } from '../policy-files.js';
import {
  apiClients,
  ConfigError,
  resolveServeConfig,
  type ServeConfig,
  type ServeFlags,
  type TelemetryConfig,
} from '../serve-config.js';

export const DEFAULT_BUNDLE = 'bundles/airlock.tar.gz';
/** The agents' listener of a configured gateway. */
export const DEFAULT_GATEWAY_ADDR = '127.0.0.1:8080';
export const DEFAULT_POLICIES = 'policies';

export interface RunningServer {
  /** `http://host:port` of the API listener actually bound (decisions, Data API, AuthZEN, metrics). */
  url: string;
  /** `http://host:port` of the agents' listener (MCP, approver API), when a gateway is configured. */
  gatewayUrl?: string;
  engine: Engine;
  close(): Promise<void>;
}

const exists = (p: string) =>
  access(p).then(
    () => true,
    () => false,
  );

/** The reference bundle's entrypoints, as `airlock serve` builds it from policies/. */
export const DEV_ENTRYPOINTS = [
  'airlock/decision',
  'airlock/admin',
  'airlock/approve',
  'airlock/system/authz',
  'airlock/http',
  'airlock/console',
];

/**
 * Builds `policies` into a bundle tarball at `output`: every entrypoint of DEV_ENTRYPOINTS when all are
 * defined; else airlock/decision with airlock/system/authz; else airlock/decision alone (then every
 * authenticated API request is refused: no authz entrypoint, fail closed).
 */
export async function buildDevBundle(policies: string, output: string, log: pino.Logger): Promise<void> {
  const tree = await loadPolicyTree([policies]);
  if (tree.sources.length === 0)
    throw new ConfigError(`no bundle at ${output} and no .rego files under ${policies} to build one from`);
  let built: ReturnType<typeof buildBundle> | undefined;
  for (const entrypoints of [
    DEV_ENTRYPOINTS,
    ['airlock/decision', DEFAULT_AUTHZ_ENTRYPOINT],
    ['airlock/decision'],
  ]) {
    try {
      built = buildBundle(tree, { entrypoints, revision: 'dev' });
      break;
    } catch (err) {
      if (entrypoints.length === 1) throw err;
    }
  }
  if (!built) throw new ConfigError(`cannot build a bundle from ${policies}`);
  if (!built.bundle.entrypoints.includes(DEFAULT_AUTHZ_ENTRYPOINT))
    log.warn(
      { policies },
      `${policies} defines no ${DEFAULT_AUTHZ_ENTRYPOINT}: every authenticated API request will be refused`,
    );
  await mkdir(dirname(output), { recursive: true });
  await writeFile(output, built.tarball);
  log.info({ output, entrypoints: built.bundle.entrypoints }, `built ${output} from ${policies}`);
}

/** Starts the service described by `config`; resolves once listening. */
export async function startServer(config: ServeConfig, logger?: pino.Logger): Promise<RunningServer> {
  const log =
    logger ??
    pino({
      level: config.log_level ?? 'info',
      // Request lines show the path and masked query only; credential headers never.
      serializers: requestLogSerializers,
      redact: PINO_REDACT_PATHS,
    });
  const apiAddr = config.addr ?? DEFAULT_ADDR;
  const gatewayAddr = config.gateway ? (config.gateway.addr ?? DEFAULT_GATEWAY_ADDR) : undefined;
  const apiListen = parseAddr(apiAddr);
  const gatewayListen = gatewayAddr ? parseAddr(gatewayAddr) : undefined;
  if (gatewayListen && gatewayListen.port !== 0 && gatewayAddr === apiAddr)
    throw new ConfigError(
      `gateway.addr and addr are both ${apiAddr}: the agents' listener and the API listener must differ`,
    );
  // Read the API client secrets and check that a non-loopback API is not open, before anything starts.
  const clients = apiClients(config);
  const authenticated = clients.length > 0 || config.identity !== undefined;
  if (!authenticated && !isLoopback(apiListen.host) && config.api?.allow_unauthenticated !== true)
    throw new ConfigError(
      `addr ${apiAddr} is not a loopback address and the API has no authentication: configure identity or api.clients (or AIRLOCK_ADMIN_TOKEN), or set api.allow_unauthenticated: true to serve it open`,
    );
  const checkpoints = await loadCheckpoints(config, log);
  const tracingOptions = tracingFrom(config.telemetry);
  const source = config.bundle?.source ?? DEFAULT_BUNDLE;
  const isUrl = /^https?:\/\//i.test(source);
  if (!isUrl && !(await exists(source))) {
    const policies = config.bundle?.policies ?? DEFAULT_POLICIES;
    if (!(await exists(policies)))
      throw new ConfigError(
        `bundle ${source} does not exist, and there is no ${policies} directory to build it from`,
      );
    await buildDevBundle(config.bundle?.policies ?? DEFAULT_POLICIES, source, log);
  }
  const v = config.bundle?.verification;
  const engine = new Engine({
    verification: v
      ? {
          key: await readFile(v.key_file, 'utf8'),
          ...(v.algorithm ? { algorithm: v.algorithm } : {}),
          ...(v.key_id ? { keyId: v.key_id } : {}),
          ...(v.scope ? { scope: v.scope } : {}),
        }
      : undefined,
    timeoutMs: config.engine?.timeout_ms,
    workers: config.engine?.workers,
    workerMemoryMb: config.engine?.worker_memory_mb,
    queueLength: config.engine?.queue_length,
    queueWaitMs: config.engine?.queue_wait_ms,
    inputLimits: inputLimitsFrom(config),
    memory: config.engine?.memory_max_pages ? { maximumPages: config.engine.memory_max_pages } : undefined,
    strict: config.engine?.strict_builtin_errors,
    logger: log,
  });
  const store = await AuditStore.open({
    ...databaseConfigFrom({ databaseUrl: config.database?.url, dataDir: config.database?.data_dir }, {}),
    ...(config.database?.timeout_ms ? { timeoutMs: config.database.timeout_ms } : {}),
    onConnectionError: (err) => log.error({ err: err.message }, 'database connection error'),
  });
  let bundles: BundleSource | undefined;
  let tracing: Tracing | undefined;
  let live: LiveData | undefined;
  let approvals: ApprovalStore | undefined;
  let apiApp: FastifyInstance | undefined;
  let agentsApp: FastifyInstance | undefined;
  try {
    // Before any listener is built: the request spans are installed with the routes.
    if (tracingOptions) {
      tracing = startTracing(tracingOptions);
      log.info(
        { endpoint: tracingOptions.endpoint, sample_ratio: tracingOptions.sampleRatio ?? 1 },
        'OpenTelemetry traces exported over OTLP/HTTP',
      );
    }
    bundles = bundleSource(source, engine, {
      pollIntervalMs: config.bundle?.poll_interval_ms ?? (isUrl ? 10_000 : 2_000),
      maxBackoffMs: config.bundle?.max_backoff_ms ?? 60_000,
      ...(config.bundle?.max_bytes ? { maxBytes: config.bundle.max_bytes } : {}),
    });
    try {
      await bundles.start();
    } catch (err) {
      // Keep serving (fail closed: decisions error until a bundle loads); the poller retries.
      log.error(
        { source, err: (err as Error).message },
        'no bundle loaded yet; decisions fail closed until one loads',
      );
    }
    live = await LiveData.open(store.db, engine, {
      pollIntervalMs: config.live_data?.poll_interval_ms ?? 1000,
      // Other replicas may write a Postgres database: every decision first looks for their writes.
      checkBeforeEvaluation: store.backend === 'postgres',
      onError: (err) => log.error({ err: err.message }, 'live data refresh failed'),
    });
    const identity = config.identity
      ? createIdentity(config.identity, { warn: (message) => log.warn(message) })
      : undefined;
    // Static client credentials first (no network), then tokens verified by the identity part.
    const authenticators: AdminAuthenticator[] = [
      ...(clients.length > 0 ? [staticTokenAuthenticator(clients)] : []),
      ...(identity ? [identityAuthenticator(identity)] : []),
    ];
    let access: AccessOptions;
    if (authenticators.length > 0)
      access = {
        mode: 'authenticated',
        authenticate: anyAuthenticator(authenticators),
        authzEntrypoint: config.api?.authz_entrypoint ?? DEFAULT_AUTHZ_ENTRYPOINT,
      };
    else if (isLoopback(apiListen.host)) {
      access = { mode: 'unauthenticated', via: 'loopback' };
      log.warn(
        { address: apiAddr },
        'the API has no authentication (no identity section, no api.clients): serving it on loopback only, every caller recorded as requested_by "anonymous"',
      );
    } else {
      access = { mode: 'unauthenticated', via: 'unauthenticated' };
      log.error(
        { address: apiAddr, setting: 'api.allow_unauthenticated' },
        'SECURITY: the API is served WITHOUT AUTHENTICATION beyond loopback (api.allow_unauthenticated: true): anyone who reaches it may ask decisions and read all data',
      );
    }
    const { app, metrics } = await buildApi({
      engine,
      liveData: live,
      log: auditDecisionLog(store),
      logMode: config.decision_log ?? 'sync',
      access,
      limits: {
        ...(config.limits?.body_bytes ? { maxBytes: config.limits.body_bytes } : {}),
        ...(config.limits?.json_depth ? { maxDepth: config.limits.json_depth } : {}),
      },
      ...(config.engine?.decision_entrypoint
        ? { decisionEntrypoint: config.engine.decision_entrypoint }
        : {}),
      ...(config.engine?.admin_entrypoint ? { adminEntrypoint: config.engine.admin_entrypoint } : {}),
      database: { backend: store.backend, location: store.location },
      databaseProbe: () => store.probe(),
      ...(config.authzen?.base_url ? { authzenBaseUrl: config.authzen.base_url } : {}),
      logger: log,
      defaultMetrics: true,
      // Forward-auth (/v1/authz/http) needs verified bearer tokens: served with an identity section.
      forwardAuth: identity ? { identity, entrypoint: config.forward_auth?.entrypoint } : undefined,
    });
    if (checkpoints) startCheckpoints(store, checkpoints, metrics, log);
    apiApp = app;
    if (config.gateway && identity && gatewayListen) {
      // The agents' listener: MCP, the approver API, RFC 9728 metadata and /health; never the decision API.
      const agents: FastifyInstance = Fastify({
        loggerInstance: hygienicLogger(log as FastifyBaseLogger),
        ...hygieneFastifyOptions,
        routerOptions: { maxParamLength: 2048 },
        return503OnClosing: true,
      });
      // As on the API listener: credentials in the query string are refused, query values never logged.
      installRequestHygiene(agents);
      // Host and Origin checks (DNS-rebinding protection) and CORS, before any route.
      await agents.register(originGuardPlugin, {
        settings: config.gateway.http,
        resource: identity.settings.resource,
        extraHeaders: [identity.settings.modelHeader],
        anyHostPaths: ['/health', '/health/live', '/health/ready'],
      });
      agentsApp = agents;
      agents.setNotFoundHandler((request, reply) =>
        replyProblem(
          reply,
          404,
          'not-found',
          'Not found',
          `no route for ${request.method} ${request.url.split('?')[0]} on the agents' listener`,
        ),
      );
      await agents.register(healthPlugin, {
        engine,
        liveData: live,
        database: { backend: store.backend, location: store.location },
        probe: () => store.probe(),
      });
      await agents.register(identityPlugin, { identity });
      const consoleService = config.console
        ? createConsoleService(config.console, { identity, engine })
        : undefined;
      if (consoleService) installConsoleApprovals(agents, consoleService);
      approvals = await mountGateway(agents, config, {
        engine,
        store,
        identity,
        log,
        registry: metrics.registry,
      });
      if (consoleService)
        await agents.register(consolePlugin, {
          service: consoleService,
          audit: store,
          approvals,
          liveData: live,
          adminEntrypoint: config.engine?.admin_entrypoint,
        });
    }
    const address = await app.listen(apiListen);
    const gatewayAddress = agentsApp && gatewayListen ? await agentsApp.listen(gatewayListen) : undefined;
    log.info(
      {
        address,
        ...(gatewayAddress ? { gateway_address: gatewayAddress } : {}),
        api_access: access.mode,
        bundle: engine.bundle?.revision ?? null,
        database: store.location,
        gateway: config.gateway
          ? config.gateway.virtual_servers.map((v) => `${gatewayAddress}/mcp/${v.name}`)
          : null,
      },
      config.gateway ? 'airlock gateway listening' : 'airlock decision service listening',
    );
    const b = bundles;
    const l = live;
    const a = approvals;
    const agents = agentsApp;
    const t = tracing;
    return {
      url: address,
      ...(gatewayAddress ? { gatewayUrl: gatewayAddress } : {}),
      engine,
      async close() {
        b.stop();
        l.stop();
        await Promise.all([app.close(), agents?.close()]);
        await a?.close();
        await engine.close();
        // The spans of the last requests go out before the process ends.
        await t
          ?.shutdown()
          .catch((err: Error) => log.warn({ err: err.message }, 'the last spans could not be exported'));
        // Drains the audit writer, then writes the final checkpoint.
        await store
          .close()
          .catch((err: Error) =>
            log.error(
              { err: err.message },
              'audit store did not close cleanly (final checkpoint not written?)',
            ),
          );
      },
    };
  } catch (err) {
    bundles?.stop();
    live?.stop();
    await Promise.allSettled([apiApp?.close(), agentsApp?.close()]);
    await approvals?.close();
    await engine.close();
    await store.close();
    await tracing?.shutdown().catch(() => {});
    throw err;
  }
}

function inputLimitsFrom(config: ServeConfig) {
  const l = config.engine?.input_limits;
  if (!l) return undefined;
  return {
    ...(l.max_bytes !== undefined ? { maxBytes: l.max_bytes } : {}),
    ...(l.max_depth !== undefined ? { maxDepth: l.max_depth } : {}),
    ...(l.max_nodes !== undefined ? { maxNodes: l.max_nodes } : {}),
  };
}

/** The tracer settings of `telemetry`, its header secrets read now; undefined when tracing is off. */
function tracingFrom(telemetry: TelemetryConfig | undefined): Parameters<typeof startTracing>[0] | undefined {
  const t = telemetry?.traces;
  if (!t?.endpoint) return undefined;
  const headers: Record<string, string> = {};
  for (const [name, source] of Object.entries(t.headers ?? {})) {
    try {
      headers[name] = loadSecret(source).reveal();
    } catch (err) {
      if (err instanceof SecretUnavailableError)
        throw new ConfigError(`telemetry.traces.headers.${name}: ${err.message}`);
      throw err;
    }
  }
  return {
    endpoint: t.endpoint,
    headers,
    serviceName: t.service_name,
    serviceVersion: '0.1.0',
    sampleRatio: t.sample_ratio,
    exportDelayMs: t.export_delay_ms,
    timeoutMs: t.timeout_ms,
  };
}

/** True for addresses only this host can reach: 127.0.0.0/8, ::1 and localhost. */
export function isLoopback(host: string): boolean {
  const h = host.toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/** Reads `audit.checkpoints` (key, sink, where to resume); a setting that cannot be used is a ConfigError. */
async function loadCheckpoints(
  config: ServeConfig,
  log: pino.Logger,
): Promise<PreparedCheckpoints | undefined> {
  const section = config.audit?.checkpoints;
  if (!section) return undefined;
  try {
    const prepared = await prepareCheckpoints(section);
    if (prepared.ignoredLines > 0)
      log.warn(
        { sink: prepared.sink.name, lines: prepared.ignoredLines },
        'checkpoint sink holds lines that are not checkpoints signed by this key (ignored for resuming)',
      );
    return prepared;
  } catch (err) {
    if (err instanceof CheckpointConfigError) throw new ConfigError(err.message);
    throw err;
  }
}

/** Signs the chain head every interval and at close; failures are logged and counted in /metrics. */
function startCheckpoints(
  store: AuditStore,
  prepared: PreparedCheckpoints,
  metrics: ApiMetrics,
  log: pino.Logger,
): void {
  const written = new Counter({
    name: 'airlock_audit_checkpoints_total',
    help: 'Signed checkpoints of the audit chain head written to the sink',
    registers: [metrics.registry],
  });
  const failed = new Counter({
    name: 'airlock_audit_checkpoint_failures_total',
    help: 'Timed checkpoints that failed (sink unreachable, database unavailable, chain not extending the last checkpoint)',
    registers: [metrics.registry],
  });
  const from = prepared.resumeFrom;
  store.startCheckpoints({
    privateKey: prepared.privateKey,
    sink: prepared.sink,
    intervalMs: prepared.intervalMs,
    ...(from ? { verifiedFrom: { seq: from.seq, hash: from.hash } } : {}),
    onCheckpoint: (cp) => {
      written.inc();
      log.debug({ seq: cp.seq, sink: prepared.sink.name }, 'audit checkpoint written');
    },
    onError: (err) => {
      failed.inc();
      log.error({ err: err.message, sink: prepared.sink.name }, 'audit checkpoint failed');
    },
  });
  log.info(
    {
      sink: prepared.sink.name,
      interval_seconds: prepared.intervalMs / 1000,
      resumed_from: from ? from.seq : null,
    },
    'audit checkpoints started',
  );
}

/** Mounts /mcp/{virtual} and the approver API /v1/approvals; returns the approval store to close. */
async function mountGateway(
  app: FastifyInstance,
  config: ServeConfig,
  parts: { engine: Engine; store: AuditStore; identity: Identity; log: pino.Logger; registry: Registry },
): Promise<ApprovalStore> {
  const { engine, store, identity, log, registry } = parts;
  const gateway = parseGatewayConfig(config.gateway);
  const missing = gateway.upstreams
    .filter((u) => u.transport === 'http' && !identity.settings.upstreams[u.name])
    .map((u) => u.name);
  if (missing.length > 0)
    throw new ConfigError(
      `identity.upstreams has no credential mode for ${missing.join(', ')}: say on_behalf_of, static or none for each HTTP upstream`,
    );
  const approvals = await ApprovalStore.open(store.db, {
    ...(gateway.approvals?.poll_interval_ms ? { pollIntervalMs: gateway.approvals.poll_interval_ms } : {}),
    ...(gateway.approvals?.webhook
      ? {
          webhook: {
            url: gateway.approvals.webhook.url,
            ...(gateway.approvals.webhook.timeout_ms
              ? { timeoutMs: gateway.approvals.webhook.timeout_ms }
              : {}),
          },
        }
      : {}),
    onError: (err) => log.warn({ err: err.message }, 'approval notification failed'),
  });
  try {
    await app.register(gatewayPlugin, {
      config: gateway,
      engine,
      audit: store,
      identity,
      approvals,
      metricsRegistry: registry,
    });
    await app.register(approvalsPlugin, {
      store: approvals,
      engine,
      audit: store,
      metricsRegistry: registry,
      authenticate: async (request) => {
        // Someone signed in to the console (session cookie, CSRF and airlock/console checked).
        const signedIn = request.headers.authorization === undefined ? consoleApprover(request) : undefined;
        if (signedIn) return signedIn;
        // Identity errors carry their status: an unreachable IdP answers 503, a bad token 401.
        const p = await identity.authenticate({ authorization: request.headers.authorization });
        return { sub: p.user.sub, groups: p.user.groups };
      },
    });
  } catch (err) {
    await approvals.close();
    // Tool or prompt names that collide or are too long: the configuration's to fix (docs/gateway.md).
    if (err instanceof NameConflictError) throw new ConfigError(`gateway: ${err.message}`);
    throw err;
  }
  return approvals;
}

interface ServeOptions extends ServeFlags {}

export function registerServe(cli: Command, ctx: CliContext): void {
  cli
    .command('serve')
    .description(
      'Serve decisions (OPA Data API, AuthZEN, /v1/decisions, live data, /health, /metrics) on --addr and, with a gateway section, the MCP gateway (/mcp/{virtual}) and approver API (/v1/approvals) on gateway.addr',
    )
    .option('--addr <host:port>', `API listen address (default ${DEFAULT_ADDR}; env AIRLOCK_ADDR)`)
    .option('-c, --config <file>', 'YAML configuration file (schema/serve.schema.json)')
    .option(
      '-b, --bundle <source>',
      `bundle file, directory or http(s) URL (default ${DEFAULT_BUNDLE}; env AIRLOCK_BUNDLE)`,
    )
    .option(
      '--policies <dir>',
      `build the bundle from this Rego directory when it is missing (default ${DEFAULT_POLICIES})`,
    )
    .option(
      '--verification-key <file>',
      'PEM public key (or HMAC secret file): refuse bundles not signed with it',
    )
    .option('--verification-alg <alg>', 'signature algorithm (default RS256)')
    .option('--database-url <url>', 'Postgres URL (default $DATABASE_URL; else embedded PGlite)')
    .option('--data-dir <dir>', 'embedded PGlite directory (default ./.airlock/data; env AIRLOCK_DATA_DIR)')
    .option('--decision-log <mode>', 'sync | background | off (default sync)')
    .option('--log-level <level>', 'fatal | error | warn | info | debug | trace | silent (default info)')
    .option(
      '--otlp-endpoint <url>',
      'export OpenTelemetry traces to this OTLP/HTTP traces URL, e.g. http://127.0.0.1:4318/v1/traces (default off; env AIRLOCK_OTLP_ENDPOINT)',
    )
    .addHelpText(
      'after',
      '\nFlags override environment variables, which override the config file.\n' +
        '\nAPI access: every request but /health needs `Authorization: Bearer …` — a token from an identity\n' +
        'issuer (identity section) or a static API client credential (api.clients; AIRLOCK_ADMIN_TOKEN=… is\n' +
        'one, subject "admin", groups $AIRLOCK_ADMIN_GROUPS or admins) — and the bundle entrypoint\n' +
        'airlock/system/authz (api.authz_entrypoint) decides each request; airlock/admin decides data writes.\n' +
        'With no credential configured the API is served unauthenticated on a loopback addr only (callers\n' +
        'recorded as "anonymous"); a non-loopback --addr without credentials exits 2 unless the config sets\n' +
        'api.allow_unauthenticated: true. See docs/api.md.\n' +
        'With `gateway:` and `identity:` sections in the config file (schema/gateway.schema.json,\n' +
        'schema/identity.schema.json) it also serves the MCP gateway on gateway.addr (default\n' +
        '127.0.0.1:8080), apart from the API; see docs/gateway.md.\n' +
        '\nExample:\n  airlock serve\n  curl -s localhost:8181/v1/data/airlock/decision -d @input.json\n',
    )
    .action(async (opts: ServeOptions) => {
      let server: RunningServer;
      try {
        const config = await resolveServeConfig(opts);
        server = await startServer(config);
      } catch (err) {
        if (
          err instanceof ConfigError ||
          err instanceof IdentityConfigError ||
          err instanceof ConsoleConfigError ||
          err instanceof SecretUnavailableError ||
          (err as Error).name === 'BundleError' ||
          (err as Error).name === 'DataDirInUseError'
        ) {
          ctx.err(`airlock serve: ${(err as Error).message}\n`);
          ctx.exitCode = 2;
          return;
        }
        throw err;
      }
      await new Promise<void>((resolve) => {
        const stop = () => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          server.close().then(resolve, resolve);
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
    });
}
