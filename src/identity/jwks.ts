// The signing keys of one issuer: fetched from its jwks_uri, cached, refreshed
// when old, and refetched (at most once per cooldown) when a token names a
// `kid` the cache does not hold — which is how key rotation reaches us.
import {
  createLocalJWKSet,
  type JSONWebKeySet,
  type JWK,
  type JWSHeaderParameters,
  errors as joseErrors,
} from 'jose';
import { IdpUnavailableError, InvalidTokenError } from './errors.js';

export interface JwksCacheOptions {
  issuer: string;
  uri: string;
  /** Keys older than this are refetched before use. */
  cacheMaxAgeMs: number;
  /** Minimum time between refetches triggered by an unknown `kid`. */
  refetchCooldownMs: number;
  timeoutMs: number;
  /** At most this many keys are kept from a JWKS document. */
  maxKeys: number;
  /** Refuse JWKS documents larger than this (bytes). */
  maxBytes?: number;
  now?: () => number;
  fetch?: typeof fetch;
  /** Warnings (stale keys in use) go here; never receives key or token material. */
  warn?: (message: string) => void;
}

type KeyLookup = ReturnType<typeof createLocalJWKSet>;
export type VerificationKey = Awaited<ReturnType<KeyLookup>>;

export class JwksCache {
  readonly #opts: Required<Omit<JwksCacheOptions, 'warn'>> & Pick<JwksCacheOptions, 'warn'>;
  #lookup: KeyLookup | undefined;
  #fetchedAt = Number.NEGATIVE_INFINITY;
  #lastAttempt = Number.NEGATIVE_INFINITY;
  #inflight: Promise<void> | undefined;
  #lastFailure: IdpUnavailableError | undefined;
  /** Number of JWKS documents requested so far (for metrics and tests). */
  fetchCount = 0;

  constructor(options: JwksCacheOptions) {
    this.#opts = {
      maxBytes: 512 * 1024,
      now: Date.now,
      fetch: globalThis.fetch,
      ...options,
    };
  }

  /** The key for a token header; refreshes or refetches as needed. */
  async getKey(header: JWSHeaderParameters): Promise<VerificationKey> {
    const now = this.#opts.now();
    if (!this.#lookup) {
      await this.#refresh();
    } else if (now - this.#fetchedAt > this.#opts.cacheMaxAgeMs) {
      try {
        await this.#refresh();
      } catch (err) {
        // Keys we already trust stay usable while the IdP is briefly away.
        this.#opts.warn?.(`JWKS refresh for ${this.#opts.issuer} failed; using cached keys`);
        if (!(err instanceof IdpUnavailableError)) throw err;
      }
    }
    try {
      return await this.#lookup!(header);
    } catch (err) {
      if (!(err instanceof joseErrors.JWKSNoMatchingKey)) throw mapLookupError(err);
    }
    // Unknown kid: maybe the IdP rotated its keys. Refetch, but not more often than the cooldown.
    if (this.#opts.now() - this.#lastAttempt < this.#opts.refetchCooldownMs) {
      throw new InvalidTokenError(
        'unknown_key',
        'the token is signed with a key the issuer does not publish',
      );
    }
    await this.#refresh();
    try {
      return await this.#lookup!(header);
    } catch (err) {
      throw mapLookupError(err);
    }
  }

  /** Fetch the key set now (shared by concurrent callers). */
  refresh(): Promise<void> {
    return this.#refresh();
  }

  #refresh(): Promise<void> {
    // A failed fetch is not retried for a short while, so a down IdP is not hammered by every request.
    const backoff = Math.min(this.#opts.refetchCooldownMs, 2000);
    if (this.#lastFailure && this.#opts.now() - this.#lastAttempt < backoff) {
      return Promise.reject(this.#lastFailure);
    }
    if (!this.#inflight) {
      this.#inflight = this.#fetch().finally(() => {
        this.#inflight = undefined;
      });
    }
    return this.#inflight;
  }

  async #fetch(): Promise<void> {
    const { issuer, uri, timeoutMs, maxBytes } = this.#opts;
    this.#lastAttempt = this.#opts.now();
    this.fetchCount++;
    let body: string;
    try {
      const res = await this.#opts.fetch(uri, {
        headers: { accept: 'application/json, application/jwk-set+json' },
        signal: AbortSignal.timeout(timeoutMs),
        redirect: 'error',
      });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      body = await readBounded(res, maxBytes);
    } catch (cause) {
      throw (this.#lastFailure = new IdpUnavailableError(issuer, `JWKS fetch from ${uri} failed`, { cause }));
    }
    let keys: JWK[];
    try {
      keys = parseKeySet(body, issuer, this.#opts.maxKeys);
    } catch (err) {
      if (err instanceof IdpUnavailableError) this.#lastFailure = err;
      throw err;
    }
    this.#lookup = createLocalJWKSet({ keys });
    this.#fetchedAt = this.#opts.now();
    this.#lastFailure = undefined;
  }
}

function mapLookupError(err: unknown): Error {
  if (err instanceof joseErrors.JWKSNoMatchingKey) {
    return new InvalidTokenError('unknown_key', 'the token is signed with a key the issuer does not publish');
  }
  if (err instanceof joseErrors.JWKSMultipleMatchingKeys) {
    return new InvalidTokenError(
      'ambiguous_key',
      'the token header matches several issuer keys; a kid is required',
    );
  }
  if (err instanceof joseErrors.JOSEError) {
    return new InvalidTokenError('key', 'no usable verification key for this token');
  }
  return err instanceof Error ? err : new Error(String(err));
}

async function readBounded(res: Response, maxBytes: number): Promise<string> {
  const declared = Number(res.headers.get('content-length') ?? '0');
  if (declared > maxBytes) throw new Error(`JWKS larger than ${maxBytes} bytes`);
  const reader = res.body?.getReader();
  if (!reader) return '';
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel();
      throw new Error(`JWKS larger than ${maxBytes} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * Keep only public signature keys (so an HMAC token can never be checked
 * against a published key).
 */
function parseKeySet(body: string, issuer: string, maxKeys: number): JWK[] {
  let doc: unknown;
  try {
    doc = JSON.parse(body);
  } catch (cause) {
    throw new IdpUnavailableError(issuer, 'JWKS is not valid JSON', { cause });
  }
  const keys = (doc as Partial<JSONWebKeySet> | null)?.keys;
  if (!Array.isArray(keys)) throw new IdpUnavailableError(issuer, 'JWKS has no "keys" array');
  const usable: JWK[] = [];
  for (const key of keys as JWK[]) {
    if (typeof key !== 'object' || key === null || typeof key.kty !== 'string') continue;
    // A shared secret or a private key has no place in a published key set: never verify with it.
    if (key.kty === 'oct' || 'd' in key) continue;
    if (key.use !== undefined && key.use !== 'sig') continue;
    usable.push(key);
    if (usable.length >= maxKeys) break;
  }
  return usable;
}
