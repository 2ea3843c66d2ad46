// CSRF protection for every write the console's session cookie authenticates: the request must
// carry the session's own token in X-Airlock-CSRF (a header a cross-site page cannot set without a
// CORS preflight the origin guard refuses) and, when the browser says where it comes from, come from
// the console's own origin (Origin header; Sec-Fetch-Site when Origin is absent).
import { timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { normaliseOrigin } from '../gateway/origin-guard.js';

export const CSRF_HEADER = 'x-airlock-csrf';
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export const isWrite = (method: string) => !SAFE_METHODS.has(method.toUpperCase());

const one = (v: string | string[] | undefined) => (Array.isArray(v) ? undefined : v);

/** Why this write is refused as a possible forgery, or undefined when it passes. */
export function csrfRefusal(
  request: FastifyRequest,
  expectedToken: string,
  origin: string,
): string | undefined {
  const sent = one(request.headers[CSRF_HEADER]);
  if (!sent) return `writes need the ${CSRF_HEADER} header`;
  const a = Buffer.from(sent, 'utf8');
  const b = Buffer.from(expectedToken, 'utf8');
  if (a.length !== b.length || !timingSafeEqual(a, b))
    return `the ${CSRF_HEADER} header does not match this session`;
  const from = one(request.headers.origin);
  if (from !== undefined) {
    if (normaliseOrigin(from) !== origin) return 'the request comes from another origin';
  } else {
    const site = one(request.headers['sec-fetch-site']);
    if (site !== undefined && site !== 'same-origin') return 'the request comes from another site';
  }
  return undefined;
}
