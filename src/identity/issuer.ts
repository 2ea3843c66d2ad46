// One trusted issuer: its metadata (discovered through openid-client), its
// signing keys (JwksCache), and OAuth client configurations for talking to its
// token endpoint (Airlock's own client, agents' clients).
import * as oidc from 'openid-client';
import type { ClientAuthMethod, IssuerSettings } from './config.js';
import { IdpUnavailableError } from './errors.js';
import { JwksCache } from './jwks.js';
import type { Secret } from './secrets.js';

export interface IssuerClientOptions {
  allowInsecureHttp: boolean;
  fetch?: typeof fetch;
  warn?: (message: string) => void;
  now?: () => number;
  /** Discovery failures are not retried for this long (ms), so a down IdP is not hammered. */
  discoveryRetryMs?: number;
}

export class IssuerClient {
  readonly settings: IssuerSettings;
  readonly #opts: IssuerClientOptions;
  #metadata: Promise<oidc.ServerMetadata> | undefined;
  #failedAt = Number.NEGATIVE_INFINITY;
  #lastFailure: IdpUnavailableError | undefined;
  #jwks: JwksCache | undefined;
  readonly #clients = new Map<string, oidc.Configuration>();

  constructor(settings: IssuerSettings, options: IssuerClientOptions) {
    this.settings = settings;
    this.#opts = options;
  }

  get issuer(): string {
    return this.settings.issuer;
  }

  /** The issuer's authorization server metadata (discovered once, then cached). */
  metadata(): Promise<oidc.ServerMetadata> {
    const now = (this.#opts.now ?? Date.now)();
    if (
      !this.#metadata &&
      this.#lastFailure &&
      now - this.#failedAt < (this.#opts.discoveryRetryMs ?? 2000)
    ) {
      return Promise.reject(this.#lastFailure);
    }
    this.#metadata ??= this.#discover().catch((err: unknown) => {
      this.#metadata = undefined;
      this.#failedAt = (this.#opts.now ?? Date.now)();
      this.#lastFailure =
        err instanceof IdpUnavailableError
          ? err
          : new IdpUnavailableError(this.issuer, 'metadata discovery failed', { cause: err });
      throw this.#lastFailure;
    });
    return this.#metadata;
  }

  async #discover(): Promise<oidc.ServerMetadata> {
    const options: oidc.DiscoveryRequestOptions = {
      algorithm: this.settings.discovery === 'oauth2' ? 'oauth2' : 'oidc',
      timeout: Math.ceil(this.settings.jwks.timeoutMs / 1000),
    };
    if (this.#opts.allowInsecureHttp) options.execute = [oidc.allowInsecureRequests];
    if (this.#opts.fetch) options[oidc.customFetch] = this.#opts.fetch;
    // openid-client checks that the document's `issuer` equals the configured one.
    const config = await oidc.discovery(new URL(this.issuer), 'airlock', undefined, oidc.None(), options);
    return config.serverMetadata();
  }

  /** The issuer's key cache (created after discovery tells us the jwks_uri). */
  async jwks(): Promise<JwksCache> {
    if (this.#jwks) return this.#jwks;
    const uri = this.settings.jwksUri ?? (await this.metadata()).jwks_uri;
    if (!uri) throw new IdpUnavailableError(this.issuer, 'metadata has no jwks_uri');
    if (new URL(uri).protocol !== 'https:' && !this.#opts.allowInsecureHttp) {
      throw new IdpUnavailableError(
        this.issuer,
        `jwks_uri ${uri} is not https; refusing to fetch keys from it`,
      );
    }
    this.#jwks ??= new JwksCache({
      issuer: this.issuer,
      uri,
      ...this.settings.jwks,
      ...(this.#opts.fetch ? { fetch: this.#opts.fetch } : {}),
      ...(this.#opts.now ? { now: this.#opts.now } : {}),
      ...(this.#opts.warn ? { warn: this.#opts.warn } : {}),
    });
    return this.#jwks;
  }

  /** An openid-client configuration for a confidential client at this issuer. */
  async client(clientId: string, secret: Secret, method: ClientAuthMethod): Promise<oidc.Configuration> {
    const key = `${method} ${clientId}`;
    const existing = this.#clients.get(key);
    if (existing) return existing;
    const metadata = await this.metadata();
    const auth =
      method === 'client_secret_post'
        ? oidc.ClientSecretPost(secret.reveal())
        : oidc.ClientSecretBasic(secret.reveal());
    const config = new oidc.Configuration(metadata, clientId, undefined, auth);
    config.timeout = Math.ceil(this.settings.jwks.timeoutMs / 1000);
    if (this.#opts.allowInsecureHttp) oidc.allowInsecureRequests(config);
    if (this.#opts.fetch) config[oidc.customFetch] = this.#opts.fetch;
    this.#clients.set(key, config);
    return config;
  }
}
