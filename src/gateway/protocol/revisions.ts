// The MCP protocol revisions Airlock serves and speaks, and the vocabulary that tells them apart.
// Revisions up to 2025-11-25 ("session revisions") negotiate once with `initialize`; 2026-07-28
// ("per-request revision") has no handshake: every request names its revision, client and client
// capabilities in `params._meta`, and HTTP requests repeat the method and its target in headers.

/** The per-request revision. */
export const PER_REQUEST_REVISION = '2026-07-28';

/** Per-request revisions Airlock serves (advertised by `server/discover`). */
export const PER_REQUEST_REVISIONS: readonly string[] = [PER_REQUEST_REVISION];

/**
 * Whether `version` belongs to the per-request family: 2026-07-28 or any later date. Revisions are
 * dates, so they compare as strings.
 */
export function isPerRequestRevision(version: string): boolean {
  return /^\d{4}-\d{2}-\d{2}$/.test(version) && version >= PER_REQUEST_REVISION;
}

/** Reserved `_meta` keys of the per-request envelope. */
export const META = {
  protocolVersion: 'io.modelcontextprotocol/protocolVersion',
  clientInfo: 'io.modelcontextprotocol/clientInfo',
  clientCapabilities: 'io.modelcontextprotocol/clientCapabilities',
  logLevel: 'io.modelcontextprotocol/logLevel',
  serverInfo: 'io.modelcontextprotocol/serverInfo',
} as const;

/** HTTP headers of the Streamable HTTP binding (lower case, as Node presents them). */
export const HEADER = {
  protocolVersion: 'mcp-protocol-version',
  method: 'mcp-method',
  name: 'mcp-name',
} as const;

/** JSON-RPC error codes the per-request revision adds. */
export const RevisionErrorCode = {
  /** HTTP headers and body disagree (HTTP 400). */
  HeaderMismatch: -32020,
  /** The request names a revision the server does not serve; `data.supported` lists those it does. */
  UnsupportedProtocolVersion: -32022,
} as const;

/** Methods whose target the `Mcp-Name` header repeats, and the params field holding it. */
export const NAME_SOURCE: Readonly<Record<string, string>> = {
  'tools/call': 'name',
  'prompts/get': 'name',
  'resources/read': 'uri',
};

/** Results that carry cache hints (`ttlMs`, `cacheScope`) on the per-request revision. */
export const CACHEABLE = new Set([
  'tools/list',
  'prompts/list',
  'resources/list',
  'resources/templates/list',
  'resources/read',
  'server/discover',
]);

export interface ClientInfo {
  name: string;
  version: string;
}

/** What the envelope of one request says, apart from the request's other `_meta` keys. */
export interface Envelope {
  protocolVersion: string;
  clientInfo?: ClientInfo;
  clientCapabilities: Record<string, unknown>;
  logLevel?: string;
}

/** MCP's log levels (RFC 5424), least severe first. */
export const LOG_LEVELS = ['debug', 'info', 'notice', 'warning', 'error', 'critical', 'alert', 'emergency'];

/** A JSON object (not null, not an array). */
export const isObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);

/** The request's `_meta`, when it is an object. */
export function metaOf(params: unknown): Record<string, unknown> | undefined {
  const meta = isObject(params) ? params._meta : undefined;
  return isObject(meta) ? meta : undefined;
}

/** Whether `params._meta` names a protocol version at all (the envelope's claim). */
export function claimsRevision(params: unknown): boolean {
  const meta = metaOf(params);
  return meta !== undefined && Object.hasOwn(meta, META.protocolVersion);
}

/** The first thing wrong with an envelope, or the envelope. */
export function readEnvelope(meta: Record<string, unknown>): Envelope | { problem: string } {
  const version = meta[META.protocolVersion];
  if (typeof version !== 'string' || version === '')
    return { problem: `${META.protocolVersion}: expected a protocol version string` };
  const capabilities = meta[META.clientCapabilities];
  if (!isObject(capabilities))
    return { problem: `${META.clientCapabilities}: expected an object (the client's capabilities)` };
  const info = meta[META.clientInfo];
  if (
    info !== undefined &&
    !(isObject(info) && typeof info.name === 'string' && typeof info.version === 'string')
  )
    return { problem: `${META.clientInfo}: expected {name, version}` };
  const level = meta[META.logLevel];
  if (level !== undefined && !LOG_LEVELS.includes(level as string))
    return { problem: `${META.logLevel}: expected a log level (${LOG_LEVELS.join(', ')})` };
  return {
    protocolVersion: version,
    clientCapabilities: capabilities,
    ...(info ? { clientInfo: { name: info.name as string, version: info.version as string } } : {}),
    ...(typeof level === 'string' ? { logLevel: level } : {}),
  };
}

/** `_meta` without the envelope's reserved keys: what belongs to the request itself. */
export function withoutEnvelope(
  meta: Record<string, unknown> | undefined,
): Record<string, unknown> | undefined {
  if (!meta) return undefined;
  const rest: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(meta))
    if (
      k !== META.protocolVersion &&
      k !== META.clientInfo &&
      k !== META.clientCapabilities &&
      k !== META.logLevel
    )
      rest[k] = v;
  return Object.keys(rest).length > 0 ? rest : undefined;
}
