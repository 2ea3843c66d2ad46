// The original request behind a forward-auth check, read from what the proxy sends:
//   nginx auth_request      X-Original-Method, X-Original-URI (set by proxy_set_header)
//   Caddy / Traefik         X-Forwarded-Method, X-Forwarded-Uri (set by forward_auth / ForwardAuth)
//   Envoy ext_authz (HTTP)  the check request itself: its method, and the original path appended to
//                           /v1/authz/http (http_service.path_prefix)
// Exactly one of the three must be present: a client behind Caddy can add its own X-Original-URI,
// a client behind nginx its own X-Forwarded-Uri, so two sources at once are refused, never chosen
// between. The path the policy sees is percent-decoded; a path that an upstream could read in more
// than one way (dot segments, empty segments, encoded slashes or backslashes, control characters)
// is refused rather than normalised, so the policy and the upstream always see the same path.
// The check request's own query string is ignored in the header styles (Caddy's forward_auth keeps
// the original query when it rewrites the URI to /v1/authz/http; X-Forwarded-Uri carries it too).

export type ProxyStyle = 'nginx' | 'forwarded' | 'envoy';

export interface OriginalRequest {
  proxy: ProxyStyle;
  method: string;
  /** Percent-decoded path, always starting with `/`. */
  path: string;
  /** Query parameters (decoded), each with every value in order. */
  query: Record<string, string[]>;
  host: string | null;
  scheme: string | null;
  /** Request headers, lower-cased, without credentials (authorization, proxy-authorization, cookie). */
  headers: Record<string, string>;
}

/** The check request does not describe an original request unambiguously (400). */
export class OriginalRequestError extends Error {
  readonly status = 400;
  constructor(message: string) {
    super(message);
    this.name = 'OriginalRequestError';
  }
}

export interface CheckRequest {
  method: string;
  /** The check request's own URL, raw (path and query). */
  url: string;
  /** Every header with all its values (node's `headersDistinct`). */
  headers: Record<string, string[] | undefined>;
}

export const FORWARD_AUTH_PATH = '/v1/authz/http';

const WITHHELD = new Set(['authorization', 'proxy-authorization', 'cookie']);
const METHOD = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,32}$/;
// Visible ASCII only; `\` (read as `/` by some servers) and `#` never belong in a request target.
const RAW_PATH = /^\/[!$-[\]-~]*$/;
const RAW_QUERY = /^[!$-~]*$/;
const HOST = /^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

function single(headers: CheckRequest['headers'], name: string): string | undefined {
  const values = headers[name];
  if (!values || values.length === 0) return undefined;
  if (values.length > 1) throw new OriginalRequestError(`header ${name} was sent more than once`);
  return values[0];
}

function decodeSegment(segment: string): string {
  let decoded: string;
  try {
    decoded = decodeURIComponent(segment);
  } catch {
    throw new OriginalRequestError('the original path has an invalid percent-encoding');
  }
  if (/[/\\]/.test(decoded))
    throw new OriginalRequestError('the original path has an encoded slash or backslash');
  if (/[\u0000-\u001f\u007f]/.test(decoded))
    throw new OriginalRequestError('the original path has a control character');
  if (decoded === '.' || decoded === '..')
    throw new OriginalRequestError('the original path has a dot segment');
  return decoded;
}

/** Splits and checks a request target (`/path?query`) as the client sent it. */
export function parseTarget(target: string): { path: string; query: Record<string, string[]> } {
  const q = target.indexOf('?');
  const rawPath = q < 0 ? target : target.slice(0, q);
  const rawQuery = q < 0 ? '' : target.slice(q + 1);
  if (!RAW_PATH.test(rawPath))
    throw new OriginalRequestError(
      'the original URI must be an origin-form path of visible ASCII characters (no backslash or #)',
    );
  if (!RAW_QUERY.test(rawQuery))
    throw new OriginalRequestError('the original query has a character that must be percent-encoded');
  const segments = rawPath.slice(1).split('/');
  // An empty segment is allowed only last (a trailing slash): `//` is read as `/` by some servers.
  if (segments.slice(0, -1).some((s) => s === ''))
    throw new OriginalRequestError('the original path has an empty segment (//)');
  const path = `/${segments.map(decodeSegment).join('/')}`;
  const query: Record<string, string[]> = Object.create(null);
  for (const [k, v] of new URLSearchParams(rawQuery)) {
    const list = query[k];
    if (list) list.push(v);
    else query[k] = [v];
  }
  return { path, query };
}

function headerInput(headers: CheckRequest['headers']): Record<string, string> {
  const out: Record<string, string> = Object.create(null);
  for (const [name, values] of Object.entries(headers)) {
    if (!values || WITHHELD.has(name)) continue;
    out[name] = values.join(', ');
  }
  return out;
}

function hostOf(value: string | undefined): string | null {
  if (value === undefined) return null;
  if (!HOST.test(value)) throw new OriginalRequestError('the original host is not a host[:port]');
  return value.toLowerCase();
}

function schemeOf(value: string | undefined): string | null {
  if (value === undefined) return null;
  const s = value.toLowerCase();
  if (s !== 'http' && s !== 'https')
    throw new OriginalRequestError('X-Forwarded-Proto must be http or https');
  return s;
}

/** Reads the original request from a forward-auth check request; throws OriginalRequestError. */
export function originalRequest(check: CheckRequest): OriginalRequest {
  const h = check.headers;
  const nginx = h['x-original-uri'] !== undefined || h['x-original-method'] !== undefined;
  const forwarded = h['x-forwarded-uri'] !== undefined || h['x-forwarded-method'] !== undefined;
  const suffix = check.url.startsWith(FORWARD_AUTH_PATH) ? check.url.slice(FORWARD_AUTH_PATH.length) : '';
  const envoy = suffix.startsWith('/');
  const sources = [nginx, forwarded, envoy].filter(Boolean).length;
  if (sources === 0)
    throw new OriginalRequestError(
      `no original request: send X-Original-Method and X-Original-URI (nginx), X-Forwarded-Method and X-Forwarded-Uri (Caddy, Traefik), or append the original path to ${FORWARD_AUTH_PATH} (Envoy)`,
    );
  if (sources > 1)
    throw new OriginalRequestError(
      'the check request describes the original request in more than one way (X-Original-*, X-Forwarded-Uri/Method, or an appended path): refused',
    );
  let proxy: ProxyStyle;
  let method: string | undefined;
  let target: string | undefined;
  if (nginx) {
    proxy = 'nginx';
    method = single(h, 'x-original-method');
    target = single(h, 'x-original-uri');
    if (method === undefined || target === undefined)
      throw new OriginalRequestError('nginx style needs both X-Original-Method and X-Original-URI');
  } else if (forwarded) {
    proxy = 'forwarded';
    method = single(h, 'x-forwarded-method');
    target = single(h, 'x-forwarded-uri');
    if (method === undefined || target === undefined)
      throw new OriginalRequestError('Caddy/Traefik style needs both X-Forwarded-Method and X-Forwarded-Uri');
  } else {
    proxy = 'envoy';
    method = check.method;
    target = suffix;
  }
  if (!METHOD.test(method)) throw new OriginalRequestError('the original method is not an HTTP method token');
  const { path, query } = parseTarget(target);
  // Envoy keeps the original Host on the check request; nginx and Caddy send it as X-Forwarded-Host.
  const host = hostOf(proxy === 'envoy' ? single(h, 'host') : single(h, 'x-forwarded-host'));
  return {
    proxy,
    method,
    path,
    query,
    host,
    scheme: schemeOf(single(h, 'x-forwarded-proto')),
    headers: headerInput(h),
  };
}
