// Gateway configuration: upstream MCP servers (Streamable HTTP or stdio), the virtual servers that
// aggregate them, limits and approvals. Validated against schema/gateway.schema.json; the file's
// snake_case names are kept as they are.
import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import type { ClientSessionSettings } from './client-sessions.js';
import { namingProblems } from './names.js';
import type { HttpSettings } from './origin-guard.js';

/** How upstream sessions are kept (src/gateway/upstream-sessions.ts). */
export interface UpstreamSessions {
  /** Default: `per_caller` for HTTP (when the upstream keeps sessions), `shared` for stdio. */
  isolation?: 'per_caller' | 'shared';
  /** Most sessions open at once on this upstream (default 256). */
  max?: number;
  /** A session without a request in flight is closed after this long (default 300000). */
  idle_ms?: number;
}

export interface HttpUpstream {
  name: string;
  transport: 'http';
  url: string;
  timeout_ms?: number;
  protocol_revision?: UpstreamRevision;
  /** A call reporting progress may run this long in all (default 600000). */
  max_timeout_ms?: number;
  sessions?: UpstreamSessions;
}

export interface StdioUpstream {
  name: string;
  transport: 'stdio';
  command: string;
  args?: string[];
  /** Added to a minimal safe environment; the gateway's own environment is never passed on. */
  env?: Record<string, string>;
  cwd?: string;
  timeout_ms?: number;
  protocol_revision?: UpstreamRevision;
  max_timeout_ms?: number;
  /** `per_caller` starts one process per caller (bounded by `max`). */
  sessions?: UpstreamSessions;
}

/** Which MCP protocol revision to speak to an upstream (schema/gateway.schema.json says what each means). */
export type UpstreamRevision = 'auto' | '2026-07-28' | '2025-11-25';

export type UpstreamConfig = HttpUpstream | StdioUpstream;

export interface VirtualServerConfig {
  name: string;
  /** Names of the upstreams this virtual server aggregates. */
  upstreams: string[];
  /** How tools and prompts are named: `<upstream>__<name>` (default) or the upstream's own name. */
  tool_names?: 'prefixed' | 'bare';
  /** Names shown instead: kind → upstream → the upstream's own name → the alias. */
  aliases?: {
    tools?: Record<string, Record<string, string>>;
    prompts?: Record<string, Record<string, string>>;
  };
}

export interface GatewayLimits {
  body_bytes?: number;
  json_depth?: number;
  concurrent_calls_per_agent?: number;
}

export interface ApprovalSettings {
  hold_seconds?: number;
  poll_interval_ms?: number;
  webhook?: { url: string; timeout_ms?: number };
}

export interface GatewayConfig {
  /** The agents' listener (default 127.0.0.1:8080), apart from the API listener. */
  addr?: string;
  upstreams: UpstreamConfig[];
  virtual_servers: VirtualServerConfig[];
  limits?: GatewayLimits;
  approvals?: ApprovalSettings;
  /** Host and Origin checks and CORS on the agents' listener (origin-guard.ts). */
  http?: HttpSettings;
  /** Session ids issued to clients of the session revisions (client-sessions.ts). */
  client_sessions?: ClientSessionSettings;
}

export const DEFAULT_LIMITS: Required<GatewayLimits> = {
  body_bytes: 4 * 1024 * 1024,
  json_depth: 64,
  concurrent_calls_per_agent: 16,
};

export class GatewayConfigError extends Error {
  override name = 'GatewayConfigError';
}

const schema = JSON.parse(
  readFileSync(new URL('../../schema/gateway.schema.json', import.meta.url), 'utf8'),
) as object;
const validate = new Ajv({ allErrors: true }).compile(schema);

/** Validates `raw` (schema plus cross-references) and returns it typed; throws GatewayConfigError. */
export function parseGatewayConfig(raw: unknown): GatewayConfig {
  if (!validate(raw)) {
    const detail = (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''}`);
    throw new GatewayConfigError(`invalid gateway configuration: ${detail.join('; ')}`);
  }
  const config = raw as GatewayConfig;
  const names = new Set<string>();
  for (const u of config.upstreams) {
    if (names.has(u.name)) throw new GatewayConfigError(`upstream ${u.name} is defined twice`);
    names.add(u.name);
  }
  const virtuals = new Set<string>();
  for (const v of config.virtual_servers) {
    if (virtuals.has(v.name)) throw new GatewayConfigError(`virtual server ${v.name} is defined twice`);
    virtuals.add(v.name);
    for (const u of v.upstreams)
      if (!names.has(u)) throw new GatewayConfigError(`virtual server ${v.name} names unknown upstream ${u}`);
    const problems = namingProblems(v);
    if (problems.length > 0) throw new GatewayConfigError(problems.join('; '));
  }
  return config;
}
