// OAuth 2.0 Token Exchange (RFC 8693) at the user's IdP: subject = the user's
// token, actor = the agent's (or Airlock's) credential, audience/resource =
// the upstream. Results are cached per (issuer, user, agent, audience,
// resource, scopes) until shortly before they expire.
import * as oidc from 'openid-client';
import type { ExchangeGrant } from './config.js';
import { IdpUnavailableError, UpstreamCredentialError } from './errors.js';
import { redactText } from './redact.js';

export const TOKEN_EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';
/** RFC 7523 JWT bearer grant, as Microsoft Entra ID uses it for its on-behalf-of flow. */
export const JWT_BEARER_GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
export const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
export const JWT_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:jwt';

export interface ExchangeRequest {
  /** Name of the upstream (for error messages only). */
  upstream: string;
  issuer: string;
  /** Airlock's client at the IdP. */
  client: oidc.Configuration;
  /** `token_exchange` (RFC 8693, default) or `jwt_bearer_obo` (Entra ID on-behalf-of). */
  grant?: ExchangeGrant;
  subjectToken: string;
  actorToken: string | undefined;
  audience: string;
  resource: string | undefined;
  scopes: string[];
  /** Cache identity: who the token is for (never the token itself). */
  userKey: string;
  agentKey: string;
  expiryMarginMs: number;
  /** Epoch ms after which the result must not be reused: the subject token's own `exp`. */
  notAfterMs: number;
}

export interface IssuedToken {
  accessToken: string;
  /** Epoch ms; Infinity is never used (tokens without expires_in are not cached). */
  expiresAt: number;
  /** True when served from the cache. */
  cached: boolean;
}

interface CacheEntry {
  accessToken: string;
  expiresAt: number;
  reuseUntil: number;
}

export interface TokenExchangerOptions {
  now?: () => number;
  /** Bound on cached tokens; the oldest entries go first. */
  maxEntries?: number;
}

export class TokenExchanger {
  readonly #cache = new Map<string, CacheEntry>();
  readonly #inflight = new Map<string, Promise<IssuedToken>>();
  readonly #now: () => number;
  readonly #maxEntries: number;
  /** Exchanges performed at the IdP (cache misses), for metrics and tests. */
  exchangeCount = 0;

  constructor(options: TokenExchangerOptions = {}) {
    this.#now = options.now ?? Date.now;
    this.#maxEntries = options.maxEntries ?? 10_000;
  }

  static cacheKey(
    r: Pick<ExchangeRequest, 'issuer' | 'userKey' | 'agentKey' | 'audience' | 'resource' | 'scopes'>,
  ): string {
    return JSON.stringify([
      r.issuer,
      r.userKey,
      r.agentKey,
      r.audience,
      r.resource ?? '',
      [...r.scopes].sort(),
    ]);
  }

  /** A token for the upstream, from the cache while it is fresh. */
  async exchange(request: ExchangeRequest): Promise<IssuedToken> {
    const key = TokenExchanger.cacheKey(request);
    const hit = this.#cache.get(key);
    if (hit && this.#now() < hit.reuseUntil) {
      return { accessToken: hit.accessToken, expiresAt: hit.expiresAt, cached: true };
    }
    if (hit) this.#cache.delete(key);
    const pending = this.#inflight.get(key);
    if (pending) return pending;
    const p = this.#perform(key, request).finally(() => this.#inflight.delete(key));
    this.#inflight.set(key, p);
    return p;
  }

  /** Forget a cached token (the upstream answered 401 with it). */
  invalidate(
    request: Pick<ExchangeRequest, 'issuer' | 'userKey' | 'agentKey' | 'audience' | 'resource' | 'scopes'>,
  ): void {
    this.#cache.delete(TokenExchanger.cacheKey(request));
  }

  get size(): number {
    return this.#cache.size;
  }

  async #perform(key: string, r: ExchangeRequest): Promise<IssuedToken> {
    const [grantType, params] = r.grant === 'jwt_bearer_obo' ? oboParams(r) : tokenExchangeParams(r);
    this.exchangeCount++;
    const started = this.#now();
    let response: oidc.TokenEndpointResponse;
    try {
      response = await oidc.genericGrantRequest(r.client, grantType, params);
    } catch (err) {
      throw describeGrantError(r.issuer, r.upstream, 'token exchange', err);
    }
    const issuedType = (response as { issued_token_type?: unknown }).issued_token_type;
    if (issuedType !== undefined && issuedType !== ACCESS_TOKEN_TYPE && issuedType !== JWT_TOKEN_TYPE) {
      throw new UpstreamCredentialError(
        r.upstream,
        `the IdP issued an unusable token type (${String(issuedType)})`,
      );
    }
    const tokenType = String(response.token_type ?? '').toLowerCase();
    if (tokenType !== 'bearer' && tokenType !== 'n_a') {
      throw new UpstreamCredentialError(
        r.upstream,
        `the IdP issued a ${response.token_type} token; only Bearer is supported`,
      );
    }
    const expiresIn = typeof response.expires_in === 'number' ? response.expires_in : undefined;
    const expiresAt = started + (expiresIn ?? 0) * 1000;
    if (expiresIn !== undefined && expiresIn > 0) {
      // Never reuse a token past the user's own token: it must not outlive what it was exchanged from.
      const reuseUntil = Math.min(
        expiresAt - Math.min(r.expiryMarginMs, (expiresIn * 1000) / 2),
        r.notAfterMs,
      );
      this.#store(key, { accessToken: response.access_token, expiresAt, reuseUntil });
    }
    return { accessToken: response.access_token, expiresAt, cached: false };
  }

  #store(key: string, entry: CacheEntry): void {
    while (this.#cache.size >= this.#maxEntries) {
      const oldest = this.#cache.keys().next();
      if (oldest.done) break;
      this.#cache.delete(oldest.value);
    }
    this.#cache.set(key, entry);
  }
}

/** RFC 8693 §2.1 request parameters. */
function tokenExchangeParams(r: ExchangeRequest): [string, URLSearchParams] {
  const params = new URLSearchParams({
    subject_token: r.subjectToken,
    subject_token_type: ACCESS_TOKEN_TYPE,
    requested_token_type: ACCESS_TOKEN_TYPE,
    audience: r.audience,
  });
  if (r.resource) params.set('resource', r.resource);
  if (r.scopes.length > 0) params.set('scope', r.scopes.join(' '));
  if (r.actorToken) {
    params.set('actor_token', r.actorToken);
    params.set('actor_token_type', ACCESS_TOKEN_TYPE);
  }
  return [TOKEN_EXCHANGE_GRANT, params];
}

/**
 * Entra ID on-behalf-of: the user's token is the `assertion`; the upstream is
 * named by fully qualified scopes (`<audience>/<scope>`, or `<audience>/.default`).
 */
function oboParams(r: ExchangeRequest): [string, URLSearchParams] {
  if (r.actorToken) {
    throw new UpstreamCredentialError(
      r.upstream,
      'the on-behalf-of grant takes no actor token; set actor: none',
    );
  }
  const base = r.audience.replace(/\/+$/, '');
  const scopes =
    r.scopes.length > 0
      ? r.scopes.map((s) => (s.includes('://') ? s : `${base}/${s}`))
      : [`${base}/.default`];
  const params = new URLSearchParams({
    assertion: r.subjectToken,
    requested_token_use: 'on_behalf_of',
    scope: scopes.join(' '),
  });
  return [JWT_BEARER_GRANT, params];
}

/** Turn an openid-client failure into an error without token material. */
export function describeGrantError(issuer: string, upstream: string, what: string, err: unknown): Error {
  if (err instanceof oidc.ResponseBodyError) {
    const description = err.error_description ? `: ${redactText(err.error_description).slice(0, 300)}` : '';
    return new UpstreamCredentialError(upstream, `${what} refused by ${issuer} (${err.error}${description})`);
  }
  if (err instanceof IdpUnavailableError || err instanceof UpstreamCredentialError) return err;
  const cause = err instanceof Error ? err : undefined;
  const network =
    cause?.name === 'TimeoutError' ||
    cause?.name === 'AbortError' ||
    (cause instanceof TypeError && /fetch failed/i.test(cause.message)) ||
    (cause?.cause instanceof Error &&
      /ECONNREFUSED|ENOTFOUND|ECONNRESET|ETIMEDOUT/.test(String((cause.cause as { code?: string }).code)));
  if (network) return new IdpUnavailableError(issuer, `${what} request failed`);
  return new UpstreamCredentialError(
    upstream,
    `${what} at ${issuer} failed (${cause ? redactText(cause.message).slice(0, 200) : 'unknown error'})`,
  );
}
