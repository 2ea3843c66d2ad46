// Who may address the agents' listener from where: the Host header checked against the names the
// listener answers to (DNS-rebinding protection), the Origin header against the browser origins
// allowed to call it, and CORS for those origins (preflights answered, MCP headers allowed and
// exposed). A fastify plugin applying to every route of the instance it is registered on; refused
// requests get 403 problem+json before any body is read or any MCP processing happens.
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';

export interface HttpSettings {
  /**
   * Host header values the listener answers to: `name` (any port) or `name:port`; `*` allows any.
   * Default: the loopback names on connections that arrive on a loopback address, plus the host of
   * the identity resource; anything when neither applies (no identity, not loopback).
   */
  allowed_hosts?: string[];
  /**
   * Browser origins (`scheme://host[:port]`) allowed to call, CORS included; `*` allows any.
   * Default: loopback origins on loopback connections. Same-origin requests are always allowed.
   */
  allowed_origins?: string[];
  cors?: {
    /** Methods a preflight allows (default GET, POST, DELETE). */
    methods?: string[];
    /** Request headers a preflight allows besides the MCP ones. */
    headers?: string[];
    /** How long a browser may cache a preflight (default 600). */
    max_age_seconds?: number;
  };
}

export interface OriginGuardOptions {
  settings?: HttpSettings | undefined;
  /** The identity resource (`https://airlock.corp.example/mcp`): its host is allowed by default. */
  resource?: string | undefined;
  /** Request headers of Airlock's own a preflight allows (the model header). */
  extraHeaders?: string[];
  /**
   * Paths served whatever the Host (exact match, query ignored): probes such as `/health/live`,
   * which orchestrators address by the pod's IP. Origin is still checked there.
   */
  anyHostPaths?: string[];
}

/** What MCP clients send: Streamable HTTP, authorization, resumption, protocol revision headers. */
const MCP_REQUEST_HEADERS = [
  'authorization',
  'content-type',
  'accept',
  'mcp-session-id',
  'mcp-protocol-version',
  'last-event-id',
  'mcp-method',
  'mcp-name',
];
/** Response headers browsers may show to the calling page. */
const EXPOSED_HEADERS = ['mcp-session-id', 'mcp-protocol-version', 'www-authenticate'];
const DEFAULT_METHODS = ['GET', 'POST', 'DELETE'];
const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '[::1]']);

/** A Host header or allowed-host entry split into name and port (lower case; port '' when absent). */
export function splitHost(value: string): { name: string; port: string } | undefined {
  const m = /^(\[[0-9a-f:.]+\]|[^:[\]]+)(?::([0-9]{1,5}))?$/i.exec(value.trim());
  if (!m?.[1]) return undefined;
  return { name: m[1].toLowerCase(), port: m[2] ?? '' };
}

/** `scheme://host[:port]` of an Origin header with the scheme's default port left out; undefined when malformed. */
export function normaliseOrigin(value: string): string | undefined {
  if (value === 'null') return undefined;
  try {
    const url = new URL(value);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
    if (url.pathname !== '/' || url.search || url.hash || url.username) return undefined;
    return url.origin.toLowerCase();
  } catch {
    return undefined;
  }
}

function isLoopbackAddress(address: string | undefined): boolean {
  if (!address) return false;
  const a = address.replace(/^::ffff:/, '');
  return a === '::1' || /^127\./.test(a);
}

const PROBLEM_BASE = 'https://airlock.dev/problems/';

function forbidden(reply: FastifyReply, type: string, detail: string) {
  return reply
    .code(403)
    .header('content-type', 'application/problem+json')
    .send({ type: `${PROBLEM_BASE}${type}`, title: 'Forbidden', status: 403, detail });
}

/** Control characters and excess length out of a header value before it reaches a log or a reply. */
const shown = (value: string) => JSON.stringify(value.replace(/[\x00-\x1f\x7f]/g, '?').slice(0, 256));

const plugin: FastifyPluginAsync<OriginGuardOptions> = async (app: FastifyInstance, options) => {
  const settings = options.settings ?? {};
  const resourceHost = options.resource ? splitHost(new URL(options.resource).host) : undefined;
  const hosts = settings.allowed_hosts?.map((h) => (h === '*' ? h : splitHost(h)));
  const origins = settings.allowed_origins?.map((o) => (o === '*' ? o : normaliseOrigin(o)));
  const methods = settings.cors?.methods?.map((m) => m.toUpperCase()) ?? DEFAULT_METHODS;
  const allowHeaders = [
    ...new Set([...MCP_REQUEST_HEADERS, ...(options.extraHeaders ?? []), ...(settings.cors?.headers ?? [])]),
  ]
    .map((h) => h.toLowerCase())
    .join(', ');
  const maxAge = String(settings.cors?.max_age_seconds ?? 600);
  const anyHost = new Set(options.anyHostPaths ?? []);

  function hostAllowed(host: string | undefined, loopback: boolean): boolean {
    const h = host === undefined ? undefined : splitHost(host);
    if (!h) return false;
    const matches = (entry: { name: string; port: string }) =>
      entry.name === h.name && (entry.port === '' || entry.port === h.port);
    if (hosts) return hosts.some((e) => e === '*' || (e !== undefined && matches(e)));
    if (loopback && LOOPBACK_NAMES.has(h.name)) return true;
    if (resourceHost) return h.name === resourceHost.name;
    return !loopback;
  }

  function originAllowed(origin: string, host: string | undefined, loopback: boolean): boolean {
    const o = normaliseOrigin(origin);
    if (!o) return false;
    // Same origin: the page was served by this very host (already checked above).
    if (host !== undefined && new URL(o).host === host.toLowerCase()) return true;
    if (origins) return origins.some((e) => e === '*' || e === o);
    return loopback && LOOPBACK_NAMES.has(new URL(o).hostname);
  }

  function refused(request: FastifyRequest, reply: FastifyReply, what: 'host' | 'origin', value: string) {
    // Logged like the other refusals before identification (no caller yet, so no audit row).
    request.log.warn(
      { [what]: value.slice(0, 256), url: request.url.split('?')[0] },
      `request refused: ${what} not allowed`,
    );
    return what === 'host'
      ? forbidden(
          reply,
          'host-not-allowed',
          `Host ${shown(value)} is not one this listener answers to (gateway.http.allowed_hosts)`,
        )
      : forbidden(
          reply,
          'origin-not-allowed',
          `Origin ${shown(value)} is not allowed to call this listener (gateway.http.allowed_origins)`,
        );
  }

  app.addHook('onRequest', async (request, reply) => {
    const loopback = isLoopbackAddress(request.socket.localAddress);
    const host = request.headers.host;
    if (!hostAllowed(host, loopback) && !anyHost.has(request.url.split('?')[0] ?? ''))
      return refused(request, reply, 'host', host ?? '');
    const origin = request.headers.origin;
    if (origin === undefined) {
      if (request.method === 'OPTIONS')
        return reply
          .code(204)
          .header('allow', [...methods, 'OPTIONS'].join(', '))
          .send();
      return;
    }
    if (!originAllowed(origin, host, loopback)) return refused(request, reply, 'origin', origin);
    // On the raw response: the MCP transport writes it itself (hijacked replies).
    reply.raw.setHeader('access-control-allow-origin', origin);
    reply.raw.setHeader('vary', 'Origin');
    reply.raw.setHeader('access-control-expose-headers', EXPOSED_HEADERS.join(', '));
    if (request.method === 'OPTIONS')
      // A preflight (or any OPTIONS): answered here, whatever the route.
      return reply
        .code(204)
        .header('access-control-allow-methods', methods.join(', '))
        .header('access-control-allow-headers', allowHeaders)
        .header('access-control-max-age', maxAge)
        .send();
  });
};

// Registered at the caller's level, so its hook guards every route of that instance.
Object.assign(plugin, {
  [Symbol.for('skip-override')]: true,
  [Symbol.for('fastify.display-name')]: 'airlock-origin-guard',
});

export const originGuardPlugin = plugin;
