// Gateway configuration: upstream MCP servers (Streamable HTTP or stdio) and the virtual servers
// that aggregate them. Validated against schema/gateway.schema.json.
import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';

export interface HttpUpstream {
  name: string;
  transport: 'http';
  url: string;
  /** Per-request timeout in milliseconds (default 30 000). */
  timeoutMs?: number;
}

export interface StdioUpstream {
  name: string;
  transport: 'stdio';
  command: string;
  args?: string[];
  env?: Record<string, string>;
  timeoutMs?: number;
}

export type UpstreamConfig = HttpUpstream | StdioUpstream;

export interface VirtualServerConfig {
  name: string;
  /** Names of upstreams whose tools this virtual server aggregates. */
  upstreams: string[];
}

export interface GatewayConfig {
  upstreams: UpstreamConfig[];
  virtualServers: VirtualServerConfig[];
}

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
  for (const v of config.virtualServers) {
    if (virtuals.has(v.name)) throw new GatewayConfigError(`virtual server ${v.name} is defined twice`);
    virtuals.add(v.name);
    for (const u of v.upstreams)
      if (!names.has(u)) throw new GatewayConfigError(`virtual server ${v.name} names unknown upstream ${u}`);
  }
  return config;
}
