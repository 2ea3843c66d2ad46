// Who may use the API listener, decided as OPA's `system.authz` does it. An onRequest hook, before any
// body is read:
//   1. authentication: the bearer credential is a static API client credential (compared by SHA-256 in
//      constant time) or a token verified by the identity part; none or a bad one → 401 with
//      `WWW-Authenticate: Bearer realm="airlock"`, an unreachable identity provider → 503;
//   2. authorization: the bundle's entrypoint (default `airlock/system/authz`) decides from
//      `{"method", "path", "caller": {"sub", "groups", "roles", "via"}}`; only `true` or
//      `{"allow": true}` lets the request through. Undefined, an error, or no such entrypoint → 403.
// Health endpoints stay open. An API explicitly served without authentication (loopback development,
// or forced by `api.allow_unauthenticated`) skips both steps and marks every caller as anonymous.
// Failures are counted in /metrics and logged at most once per interval, never one line per request.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Engine } from '../engine/index.js';
import { IdentityError } from '../identity/index.js';
import { requestContext, Stages } from '../telemetry/index.js';
import { AdminAuthError, type AdminAuthenticator, type AdminCaller } from './admin.js';
import { replyOpaError, replyProblem } from './errors.js';
import type { ApiMetrics } from './metrics.js';

/** The authenticated caller of an API request (what authz sees, and what decisions record as `requested_by`). */
export interface ApiCaller {
  sub: string;
  groups: string[];
  roles: string[];
  /** `client` (static API client credential), the token issuer, or `loopback` / `unauthenticated`. */
  via: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The API caller, set by the access hook; null on open endpoints. */
    apiCaller: ApiCaller | null;
  }
}

export const DEFAULT_AUTHZ_ENTRYPOINT = 'airlock/system/authz';

/** Subject recorded for callers of an unauthenticated API. */
export const ANONYMOUS_SUB = 'anonymous';

export type AccessOptions =
  | {
      mode: 'authenticated';
      /** Identifies the caller or throws AdminAuthError (401) / IdentityError (its status). */
      authenticate: AdminAuthenticator;
      /** Bundle entrypoint deciding each request (default airlock/system/authz). */
      authzEntrypoint?: string;
    }
  | {
      /** No authentication and no authorization: every caller is `anonymous` with this `via`. */
      mode: 'unauthenticated';
      via: 'loopback' | 'unauthenticated' | string;
    };

/** Paths that answer without a credential. */
export const OPEN_PATHS: ReadonlySet<string> = new Set([
  '/health',
  '/health/live',
  '/health/ready',
  '/.well-known/authzen-configuration',
]);

/** The request path as authz sees it: no query string, each segment percent-decoded (a `/` stays `%2F`). */
export function authzPath(url: string): string {
  const raw = url.split('?', 1)[0] ?? '';
  return raw
    .split('/')
    .map((seg) => {
      try {
        return decodeURIComponent(seg).replaceAll('/', '%2F');
      } catch {
        return seg;
      }
    })
    .join('/');
}

/** Logs at most one line per `intervalMs` for each kind, with the number of lines it held back. */
export class RateLimitedLog {
  readonly #last = new Map<string, { at: number; suppressed: number }>();
  constructor(
    readonly intervalMs = 10_000,
    readonly now: () => number = Date.now,
  ) {}

  /** Calls `emit(suppressed)` when this kind may log now; otherwise counts it. */
  hit(kind: string, emit: (suppressed: number) => void): void {
    const t = this.now();
    const s = this.#last.get(kind);
    if (s && t - s.at < this.intervalMs) {
      s.suppressed++;
      return;
    }
    this.#last.set(kind, { at: t, suppressed: 0 });
    emit(s?.suppressed ?? 0);
  }
}

const CHALLENGE = 'Bearer realm="airlock"';

function refuse(
  request: FastifyRequest,
  reply: FastifyReply,
  status: 401 | 403 | 503,
  message: string,
  presented: boolean,
): FastifyReply {
  if (status === 401)
    reply.header('www-authenticate', presented ? `${CHALLENGE}, error="invalid_token"` : CHALLENGE);
  if (status === 503) reply.header('retry-after', '5');
  reply.header('cache-control', 'no-store');
  const path = authzPath(request.url);
  if (path === '/v1/data' || path.startsWith('/v1/data/'))
    return replyOpaError(reply, status, status === 503 ? 'internal_error' : 'unauthorized', message);
  const [slug, title] =
    status === 401
      ? ['unauthorized', 'Unauthorized']
      : status === 403
        ? ['forbidden', 'Forbidden']
        : ['authentication-unavailable', 'Authentication unavailable'];
  return replyProblem(reply, status, slug, title, message);
}

const allowed = (defined: boolean, v: unknown) =>
  defined &&
  (v === true ||
    (typeof v === 'object' && v !== null && !Array.isArray(v) && (v as { allow?: unknown }).allow === true));

/** Installs the access hook on `app` (the root of the API listener, so that every route is covered). */
export function installAccessControl(
  app: FastifyInstance,
  options: AccessOptions,
  parts: { engine: Engine; metrics: ApiMetrics; log?: RateLimitedLog },
): void {
  app.decorateRequest('apiCaller', null);
  const limiter = parts.log ?? new RateLimitedLog();
  const { metrics, engine } = parts;
  const stages = new Stages('api', metrics.stages);
  if (options.mode === 'unauthenticated') {
    const caller = (): ApiCaller => ({ sub: ANONYMOUS_SUB, groups: [], roles: [], via: options.via });
    app.addHook('onRequest', async (request) => {
      if (!OPEN_PATHS.has(authzPath(request.url))) request.apiCaller = caller();
    });
    return;
  }
  const entrypoint = options.authzEntrypoint ?? DEFAULT_AUTHZ_ENTRYPOINT;
  app.addHook('onRequest', async (request, reply) => {
    const path = authzPath(request.url);
    if (OPEN_PATHS.has(path)) return;
    const presented = request.headers.authorization !== undefined;
    let caller: AdminCaller;
    try {
      if (!presented) throw new AdminAuthError('a bearer credential is required');
      caller = await stages.run('authenticate', () => options.authenticate(request), {
        parent: requestContext(request),
      });
    } catch (err) {
      const unavailable = err instanceof IdentityError && err.status === 503;
      const reason = !presented ? 'missing' : unavailable ? 'idp_unavailable' : 'invalid';
      metrics.authFailures.inc({ reason });
      limiter.hit(`authn:${reason}`, (suppressed) =>
        request.log.warn(
          { reason, suppressed, method: request.method, path },
          'API request refused: authentication failed',
        ),
      );
      if (unavailable)
        return refuse(request, reply, 503, 'the identity provider is unreachable; try again later', true);
      if (err instanceof AdminAuthError || err instanceof IdentityError)
        return refuse(
          request,
          reply,
          401,
          presented ? 'the bearer credential is not valid' : 'a bearer credential is required',
          presented,
        );
      throw err;
    }
    const apiCaller: ApiCaller = {
      sub: caller.sub,
      groups: [...caller.groups],
      roles: [...(caller.roles ?? [])],
      via: caller.via,
    };
    let ok = false;
    let why = 'no decision';
    try {
      const r = await stages.run(
        'authorize',
        async (span) => {
          const r = await engine.evaluate(entrypoint, { method: request.method, path, caller: apiCaller });
          span?.setAttribute('airlock.allowed', allowed(r.defined, r.result));
          return r;
        },
        {
          parent: requestContext(request),
          attributes: () => ({ 'airlock.entrypoint': entrypoint, 'user.id': apiCaller.sub }),
        },
      );
      ok = allowed(r.defined, r.result);
      if (!r.defined) why = 'undefined';
    } catch (err) {
      why = (err as Error).message;
    }
    if (!ok) {
      metrics.authzDenials.inc();
      limiter.hit('authz', (suppressed) =>
        request.log.warn(
          { sub: apiCaller.sub, method: request.method, path, why, suppressed },
          'API request refused by the authorization policy',
        ),
      );
      return refuse(request, reply, 403, 'request rejected by the API authorization policy', true);
    }
    request.apiCaller = apiCaller;
    return undefined;
  });
}

/** The admin authenticator of data writes behind the access hook: the caller it already authenticated. */
export const callerOfRequest: AdminAuthenticator = async (request) => {
  const c = request.apiCaller;
  if (!c) throw new AdminAuthError('data writes need an authenticated caller');
  return { sub: c.sub, groups: c.groups, roles: c.roles, via: c.via };
};
