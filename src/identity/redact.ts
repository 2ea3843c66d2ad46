// Keeping tokens out of logs, errors and audit rows. The audit keeps who
// (`sub`, `act`, `azp`, `client_id`, `jti`, `iss`), never the token.

const REDACTED = '[redacted]';

/** A compact JWS/JWE, or anything after a `Bearer`/`Basic` scheme. */
const JWT_LIKE =
  /\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*)?/g;
const AUTH_SCHEME = /\b(Bearer|Basic|DPoP)\s+[A-Za-z0-9._~+/=-]+/gi;

/** Replace anything that looks like a token in free text. */
export function redactText(text: string): string {
  return text.replace(AUTH_SCHEME, `$1 ${REDACTED}`).replace(JWT_LIKE, REDACTED);
}

/** Header names whose values are credentials. */
export const SENSITIVE_HEADERS = new Set([
  'authorization',
  'proxy-authorization',
  'cookie',
  'set-cookie',
  'x-api-key',
  'mcp-session-id',
]);

/** A copy of `headers` with credential values replaced; `extra` adds names (e.g. a static-secret header). */
export function redactHeaders(
  headers: Record<string, string | string[] | undefined>,
  extra: Iterable<string> = [],
): Record<string, string | string[] | undefined> {
  const names = new Set([...SENSITIVE_HEADERS, ...[...extra].map((h) => h.toLowerCase())]);
  const out: Record<string, string | string[] | undefined> = {};
  for (const [name, value] of Object.entries(headers)) {
    out[name] = names.has(name.toLowerCase()) && value !== undefined ? REDACTED : value;
  }
  return out;
}

/**
 * Paths for pino's `redact` option covering request headers as fastify and
 * pino-std-serializers log them.
 */
export const PINO_REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers["proxy-authorization"]',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'headers.authorization',
  'headers["proxy-authorization"]',
  'headers.cookie',
  '*.access_token',
  '*.subject_token',
  '*.actor_token',
  '*.client_secret',
  '*.refresh_token',
  '*.id_token',
];

/** The identifying, non-secret facts of a verified token, as the audit trail keeps them. */
export interface TokenAuditFacts {
  iss: string;
  sub: string;
  /** The current actor (`act.sub`), when the token is delegated. */
  act: string | undefined;
  azp: string | undefined;
  client_id: string | undefined;
  jti: string | undefined;
}
