// `airlock serve` configuration: defaults < YAML file (validated by schema/serve.schema.json) <
// environment < flags.
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { parse as parseYaml } from 'yaml';
import type { StaticAdminToken } from '../api/index.js';
import { type GatewayConfig, GatewayConfigError, parseGatewayConfig } from '../gateway/index.js';
import type { IdentityConfig } from '../identity/index.js';

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
    memory_max_pages?: number;
    strict_builtin_errors?: boolean;
    decision_entrypoint?: string;
    admin_entrypoint?: string;
  };
  database?: { url?: string; data_dir?: string };
  live_data?: { poll_interval_ms?: number };
  decision_log?: 'sync' | 'background' | 'off';
  authzen?: { base_url?: string };
  limits?: { body_bytes?: number; json_depth?: number };
  admin?: { tokens?: { sha256?: string; env?: string; sub: string; groups?: string[] }[] };
  /** schema/identity.schema.json */
  identity?: IdentityConfig;
  /** schema/gateway.schema.json */
  gateway?: GatewayConfig;
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
  if (flags.databaseUrl) c.database = { url: flags.databaseUrl };
  else if (flags.dataDir) c.database = { data_dir: flags.dataDir };
  else if (env.DATABASE_URL) c.database = { ...c.database, url: env.DATABASE_URL };
  else if (env.AIRLOCK_DATA_DIR) c.database = { ...c.database, data_dir: env.AIRLOCK_DATA_DIR };
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

/** Admin tokens from the configuration (tokens named by environment variable are read now). */
export function adminTokens(c: ServeConfig, env: NodeJS.ProcessEnv = process.env): StaticAdminToken[] {
  const out: StaticAdminToken[] = [];
  for (const t of c.admin?.tokens ?? []) {
    if (t.sha256) out.push({ token: `sha256:${t.sha256}`, sub: t.sub, groups: t.groups ?? [] });
    else if (t.env) {
      const v = env[t.env];
      if (!v) throw new ConfigError(`admin token variable ${t.env} is not set`);
      out.push({ token: v, sub: t.sub, groups: t.groups ?? [] });
    }
  }
  return out;
}
