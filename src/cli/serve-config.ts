// `airlock serve` configuration: defaults < YAML file (validated by schema/serve.schema.json) <
// environment < flags.
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { parse as parseYaml } from 'yaml';
import type { StaticAdminToken } from '../api/index.js';
import type { CheckpointConfig } from '../audit/index.js';
import type { ConsoleConfig } from '../console/index.js';
import { type GatewayConfig, GatewayConfigError, parseGatewayConfig } from '../gateway/index.js';
import { type IdentityConfig, loadSecret, SecretUnavailableError } from '../identity/index.js';

export interface ServeConfig {
  addr?: string;
  log_level?: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  bundle?: {
    source?: string;
    policies?: string;
    poll_interval_ms?: number;
    max_backoff_ms?: number;
    max_bytes?: number;
    verification?: { key_file: string; algorithm?: string; key_id?: string; scope?: string };
  };
  engine?: {
    timeout_ms?: number;
    workers?: number;
    worker_memory_mb?: number;
    queue_length?: number;
    queue_wait_ms?: number;
    input_limits?: { max_bytes?: number; max_depth?: number; max_nodes?: number };
    memory_max_pages?: number;
    strict_builtin_errors?: boolean;
    decision_entrypoint?: string;
    admin_entrypoint?: string;
  };
  database?: { url?: string; data_dir?: string; timeout_ms?: number };
  audit?: { checkpoints?: CheckpointConfig };
  live_data?: { poll_interval_ms?: number };
  decision_log?: 'sync' | 'background' | 'off';
  authzen?: { base_url?: string };
  limits?: { body_bytes?: number; json_depth?: number };
  /** Data-write credentials (kept for compatibility: each is also an API client, see `api.clients`). */
  admin?: { tokens?: { sha256?: string; env?: string; sub: string; groups?: string[] }[] };
  /** Access control of the API listener (docs/api.md). */
  api?: {
    authz_entrypoint?: string;
    allow_unauthenticated?: boolean;
    clients?: ApiClientConfig[];
  };
  /** schema/identity.schema.json */
  identity?: IdentityConfig;
  /** schema/gateway.schema.json */
  gateway?: GatewayConfig;
  /** The console (docs/console.md; needs `gateway` and `identity`). */
  console?: ConsoleConfig;
  /** Forward-auth for proxies (/v1/authz/http; served when `identity` is configured). */
  forward_auth?: { entrypoint?: string };
  /** OpenTelemetry traces (docs/telemetry.md): off unless `traces.endpoint` is set. */
  telemetry?: TelemetryConfig;
}

export interface TelemetryConfig {
  traces?: {
    /** OTLP/HTTP traces URL of the collector, e.g. http://127.0.0.1:4318/v1/traces. */
    endpoint: string;
    /** Export headers, each value read from an environment variable or a file (API keys). */
    headers?: Record<string, { env: string } | { file: string }>;
    service_name?: string;
    sample_ratio?: number;
    export_delay_ms?: number;
    timeout_ms?: number;
  };
}

/** A static API client credential: its secret as a SHA-256, an environment variable or a secret source. */
export interface ApiClientConfig {
  sub: string;
  groups?: string[];
  sha256?: string;
  env?: string;
  secret?: { env: string } | { file: string };
}

export interface ServeFlags {
  config?: string;
  addr?: string;
  bundle?: string;
  policies?: string;
  verificationKey?: string;
  verificationAlg?: string;
  databaseUrl?: string;
  dataDir?: string;
  logLevel?: string;
  decisionLog?: string;
  otlpEndpoint?: string;
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

let validate: ReturnType<Ajv2020['compile']> | undefined;

export function validateServeConfig(doc: unknown, origin: string): ServeConfig {
  if (!validate) {
    const schema = JSON.parse(
      readFileSync(new URL('../../schema/serve.schema.json', import.meta.url), 'utf8'),
    ) as object;
    validate = new Ajv2020({ allErrors: true, strict: false }).compile(schema);
  }
  if (!validate(doc)) {
    const why = (validate.errors ?? [])
      .map((e) => `${e.instancePath || '/'} ${e.message ?? 'is invalid'}`)
      .join('; ');
    throw new ConfigError(`${origin}: ${why}`);
  }
  const config = doc as ServeConfig;
  if (config.gateway) {
    try {
      parseGatewayConfig(config.gateway);
    } catch (err) {
      if (err instanceof GatewayConfigError) throw new ConfigError(`${origin}: gateway: ${err.message}`);
      throw err;
    }
    if (!config.identity)
      throw new ConfigError(
        `${origin}: gateway needs an identity section: every MCP caller must present a verified token`,
      );
  }
  if (config.console && !config.gateway)
    throw new ConfigError(`${origin}: console needs a gateway section: it is served on the agents' listener`);
  return config;
}

/** The effective configuration from a file (optional), the environment and flags. */
export async function resolveServeConfig(
  flags: ServeFlags,
  env: NodeJS.ProcessEnv = process.env,
): Promise<ServeConfig> {
  let file: ServeConfig = {};
  if (flags.config) {
    let text: string;
    try {
      text = await readFile(flags.config, 'utf8');
    } catch (err) {
      throw new ConfigError(`cannot read ${flags.config}: ${(err as Error).message}`);
    }
    let doc: unknown;
    try {
      doc = parseYaml(text) ?? {};
    } catch (err) {
      throw new ConfigError(`${flags.config}: invalid YAML: ${(err as Error).message}`);
    }
    file = validateServeConfig(doc, flags.config);
  }
  const c: ServeConfig = structuredClone(file);
  const pick = (flag: string | undefined, name: string): string | undefined =>
    flag ?? (env[name] || undefined);
  const addr = pick(flags.addr, 'AIRLOCK_ADDR');
  if (addr) c.addr = addr;
  const level = pick(flags.logLevel, 'AIRLOCK_LOG_LEVEL');
  if (level) c.log_level = level as ServeConfig['log_level'];
  const source = pick(flags.bundle, 'AIRLOCK_BUNDLE');
  if (source) c.bundle = { ...c.bundle, source };
  const policies = pick(flags.policies, 'AIRLOCK_POLICIES');
  if (policies) c.bundle = { ...c.bundle, policies };
  if (flags.verificationKey)
    c.bundle = {
      ...c.bundle,
      verification: {
        ...c.bundle?.verification,
        key_file: flags.verificationKey,
        ...(flags.verificationAlg ? { algorithm: flags.verificationAlg } : {}),
      },
    };
  const bound = c.database?.timeout_ms === undefined ? {} : { timeout_ms: c.database.timeout_ms };
  if (flags.databaseUrl) c.database = { ...bound, url: flags.databaseUrl };
  else if (flags.dataDir) c.database = { ...bound, data_dir: flags.dataDir };
  else if (env.DATABASE_URL) c.database = { ...c.database, url: env.DATABASE_URL };
  else if (env.AIRLOCK_DATA_DIR) c.database = { ...c.database, data_dir: env.AIRLOCK_DATA_DIR };
  const otlp = pick(flags.otlpEndpoint, 'AIRLOCK_OTLP_ENDPOINT');
  if (otlp) c.telemetry = { ...c.telemetry, traces: { ...c.telemetry?.traces, endpoint: otlp } };
  const log = pick(flags.decisionLog, 'AIRLOCK_DECISION_LOG');
  if (log) c.decision_log = log as ServeConfig['decision_log'];
  if (env.AIRLOCK_ADMIN_TOKEN) {
    // The reference admin policy (policies/admin.rego) lets group `admins` write revocations.
    const groups = (env.AIRLOCK_ADMIN_GROUPS ?? 'admins')
      .split(',')
      .map((g) => g.trim())
      .filter((g) => g !== '');
    c.admin = { tokens: [...(c.admin?.tokens ?? []), { env: 'AIRLOCK_ADMIN_TOKEN', sub: 'admin', groups }] };
  }
  // Re-validate: flags and environment obey the same schema as the file.
  const { database, ...rest } = c;
  validateServeConfig(
    { ...rest, ...(database ? { database } : {}) },
    'configuration (file, environment and flags)',
  );
  return c;
}

/**
 * Static API client credentials: `api.clients` and (for compatibility) `admin.tokens`, which includes
 * AIRLOCK_ADMIN_TOKEN. Secrets named by environment variable or file are read now.
 */
export function apiClients(c: ServeConfig, env: NodeJS.ProcessEnv = process.env): StaticAdminToken[] {
  const out: StaticAdminToken[] = [];
  for (const t of [...(c.api?.clients ?? []), ...(c.admin?.tokens ?? [])] as ApiClientConfig[]) {
    if (t.sub === 'anonymous')
      throw new ConfigError('API client sub "anonymous" is reserved for unauthenticated callers');
    if (t.secret) {
      try {
        out.push({ token: loadSecret(t.secret, env).reveal(), sub: t.sub, groups: t.groups ?? [] });
      } catch (err) {
        if (err instanceof SecretUnavailableError)
          throw new ConfigError(`API client ${t.sub}: ${err.message}`);
        throw err;
      }
      continue;
    }
    if (t.sha256) out.push({ token: `sha256:${t.sha256}`, sub: t.sub, groups: t.groups ?? [] });
    else if (t.env) {
      const v = env[t.env];
      if (!v) throw new ConfigError(`API client ${t.sub}: variable ${t.env} is not set`);
      out.push({ token: v, sub: t.sub, groups: t.groups ?? [] });
    }
  }
  return out;
}

/** Admin tokens: the static API client credentials (kept name). */
export const adminTokens = apiClients;
