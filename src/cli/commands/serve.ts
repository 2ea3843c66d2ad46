// `airlock serve`: the decision service. With no arguments it serves bundles/airlock.tar.gz (built
// from policies/ when missing) with the embedded database, on 127.0.0.1:8181.
import { access, mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Command } from 'commander';
import pino from 'pino';
import { approvalsPlugin } from '../../api/approvals.js';
import { requestLogSerializers } from '../../api/hygiene.js';
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
import { AuditStore, databaseConfigFrom } from '../../audit/index.js';
import { type BundleSource, buildBundle, bundleSource, Engine, LiveData } from '../../engine/index.js';
import { ApprovalStore } from '../../gateway/approvals.js';
import { gatewayPlugin, parseGatewayConfig } from '../../gateway/index.js';
import {
  createIdentity,
  type Identity,
  IdentityConfigError,
  identityPlugin,
  PINO_REDACT_PATHS,
  SecretUnavailableError,
} from '../../identity/index.js';
import type { CliContext } from '../main.js';
import { loadPolicyTree } from '../policy-files.js';
import {
  adminTokens,
  ConfigError,
  resolveServeConfig,
  type ServeConfig,
  type ServeFlags,
} from '../serve-config.js';

export const DEFAULT_BUNDLE = 'bundles/airlock.tar.gz';
export const DEFAULT_POLICIES = 'policies';

export interface RunningServer {
  /** `http://host:port` actually bound. */
  url: string;
  engine: Engine;
  close(): Promise<void>;
}

const exists = (p: string) =>
  access(p).then(
    () => true,
    () => false,
  );

/** Builds `policies` into a bundle tarball at `output` (entrypoints airlock/decision and, if all are defined, airlock/admin and airlock/approve). */
export async function buildDevBundle(policies: string, output: string, log: pino.Logger): Promise<void> {
  const tree = await loadPolicyTree([policies]);
  if (tree.sources.length === 0)
    throw new ConfigError(`no bundle at ${output} and no .rego files under ${policies} to build one from`);
  let built: ReturnType<typeof buildBundle>;
  try {
    built = buildBundle(tree, {
      entrypoints: ['airlock/decision', 'airlock/admin', 'airlock/approve'],
      revision: 'dev',
    });
  } catch {
    built = buildBundle(tree, { entrypoints: ['airlock/decision'], revision: 'dev' });
  }
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
    memory: config.engine?.memory_max_pages ? { maximumPages: config.engine.memory_max_pages } : undefined,
    strict: config.engine?.strict_builtin_errors,
    logger: log,
  });
  const store = await AuditStore.open({
    ...databaseConfigFrom({ databaseUrl: config.database?.url, dataDir: config.database?.data_dir }, {}),
    onConnectionError: (err) => log.error({ err: err.message }, 'database connection error'),
  });
  let bundles: BundleSource | undefined;
  let live: LiveData | undefined;
  let approvals: ApprovalStore | undefined;
  try {
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
      onError: (err) => log.error({ err: err.message }, 'live data refresh failed'),
    });
    const identity = config.identity
      ? createIdentity(config.identity, { warn: (message) => log.warn(message) })
      : undefined;
    const tokens = adminTokens(config);
    const admins: AdminAuthenticator[] = [
      ...(tokens.length > 0 ? [staticTokenAuthenticator(tokens)] : []),
      ...(identity ? [identityAuthenticator(identity)] : []),
    ];
    const { app } = await buildApi({
      engine,
      liveData: live,
      log: auditDecisionLog(store),
      logMode: config.decision_log ?? 'sync',
      admin: admins.length > 0 ? anyAuthenticator(admins) : undefined,
      limits: {
        ...(config.limits?.body_bytes ? { maxBytes: config.limits.body_bytes } : {}),
        ...(config.limits?.json_depth ? { maxDepth: config.limits.json_depth } : {}),
      },
      ...(config.engine?.decision_entrypoint
        ? { decisionEntrypoint: config.engine.decision_entrypoint }
        : {}),
      ...(config.engine?.admin_entrypoint ? { adminEntrypoint: config.engine.admin_entrypoint } : {}),
      database: { backend: store.backend, location: store.location },
      ...(config.authzen?.base_url ? { authzenBaseUrl: config.authzen.base_url } : {}),
      logger: log,
      defaultMetrics: true,
    });
    if (identity) await app.register(identityPlugin, { identity });
    if (config.gateway && identity) {
      approvals = await mountGateway(app, config, { engine, store, identity, log });
    }
    const { host, port } = parseAddr(config.addr ?? DEFAULT_ADDR);
    const address = await app.listen({ host, port });
    log.info(
      {
        address,
        bundle: engine.bundle?.revision ?? null,
        database: store.location,
        gateway: config.gateway
          ? config.gateway.virtual_servers.map((v) => `${address}/mcp/${v.name}`)
          : null,
      },
      config.gateway ? 'airlock gateway listening' : 'airlock decision service listening',
    );
    const b = bundles;
    const l = live;
    const a = approvals;
    return {
      url: address,
      engine,
      async close() {
        b.stop();
        l.stop();
        await app.close();
        await a?.close();
        await store.close();
      },
    };
  } catch (err) {
    bundles?.stop();
    live?.stop();
    await approvals?.close();
    await store.close();
    throw err;
  }
}

/** Mounts /mcp/{virtual} and the approver API /v1/approvals; returns the approval store to close. */
async function mountGateway(
  app: Awaited<ReturnType<typeof buildApi>>['app'],
  config: ServeConfig,
  parts: { engine: Engine; store: AuditStore; identity: Identity; log: pino.Logger },
): Promise<ApprovalStore> {
  const { engine, store, identity, log } = parts;
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
    await app.register(gatewayPlugin, { config: gateway, engine, audit: store, identity, approvals });
    await app.register(approvalsPlugin, {
      store: approvals,
      engine,
      audit: store,
      authenticate: async (request) => {
        // Identity errors carry their status: an unreachable IdP answers 503, a bad token 401.
        const p = await identity.authenticate({ authorization: request.headers.authorization });
        return { sub: p.user.sub, groups: p.user.groups };
      },
    });
  } catch (err) {
    await approvals.close();
    throw err;
  }
  return approvals;
}

interface ServeOptions extends ServeFlags {}

export function registerServe(cli: Command, ctx: CliContext): void {
  cli
    .command('serve')
    .description(
      'Serve decisions (OPA Data API, AuthZEN, /v1/decisions, live data, /health, /metrics) and, with a gateway section, the MCP gateway (/mcp/{virtual}) and approver API (/v1/approvals)',
    )
    .option('--addr <host:port>', `listen address (default ${DEFAULT_ADDR}; env AIRLOCK_ADDR)`)
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
    .addHelpText(
      'after',
      '\nFlags override environment variables, which override the config file.\n' +
        'AIRLOCK_ADMIN_TOKEN=… enables live data writes for subject "admin" (groups: $AIRLOCK_ADMIN_GROUPS, default admins);\n' +
        'the admin policy (entrypoint airlock/admin) decides each write.\n' +
        'With `gateway:` and `identity:` sections in the config file (schema/gateway.schema.json,\n' +
        'schema/identity.schema.json) it also serves the MCP gateway; see docs/gateway.md.\n' +
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
