// The identity service the gateway holds: authenticate a request, describe
// the caller for the decision, and produce upstream credentials.
import { type IdentityConfig, type IdentitySettings, parseIdentityConfig } from './config.js';
import { InsufficientScopeError } from './errors.js';
import { TokenExchanger } from './exchange.js';
import { IssuerClient } from './issuer.js';
import {
  type ProtectedResourceMetadata,
  protectedResourceMetadata,
  resourceMetadataUrl,
} from './metadata.js';
import { type Principal, principalFromClaims } from './principal.js';
import { UpstreamCredentials } from './upstream.js';
import { bearerToken, TokenVerifier } from './verify.js';

export interface IdentityOptions {
  env?: NodeJS.ProcessEnv;
  fetch?: typeof fetch;
  now?: () => number;
  /** Receives operational warnings (never token or secret material). */
  warn?: (message: string) => void;
}

export interface AuthenticateRequest {
  /** The `Authorization` header value. */
  authorization: string | undefined;
  /** The model header the agent sent (see `model.header` in the config). */
  modelHeader?: string | undefined;
  /** MCP `_meta` of the request, when already parsed. */
  meta?: Record<string, unknown> | undefined;
  /** Scopes this request needs on top of the configured `required_scopes`. */
  requiredScopes?: readonly string[];
}

// The verified inbound token stays here, beside the principal and out of it:
// a principal can be logged, audited or serialised without carrying it. Keyed
// by the principal's `token` facts object, so shallow copies of a principal
// (e.g. with a model from MCP `_meta`) still reach it; deep copies do not.
const subjectTokens = new WeakMap<object, string>();

export class Identity {
  readonly settings: IdentitySettings;
  readonly verifier: TokenVerifier;
  readonly exchanger: TokenExchanger;
  readonly credentials: UpstreamCredentials;
  readonly issuers: Map<string, IssuerClient>;

  constructor(settings: IdentitySettings, options: IdentityOptions = {}) {
    this.settings = settings;
    const issuers = settings.issuers.map(
      (s) =>
        new IssuerClient(s, {
          allowInsecureHttp: settings.allowInsecureHttp,
          ...(options.fetch ? { fetch: options.fetch } : {}),
          ...(options.now ? { now: options.now } : {}),
          ...(options.warn ? { warn: options.warn } : {}),
        }),
    );
    this.issuers = new Map(issuers.map((i) => [i.issuer, i]));
    this.verifier = new TokenVerifier(issuers);
    this.exchanger = new TokenExchanger(options.now ? { now: options.now } : {});
    this.credentials = new UpstreamCredentials({
      upstreams: settings.upstreams,
      agents: settings.agents,
      issuers: this.issuers,
      exchanger: this.exchanger,
      subjectTokenOf: (p) => subjectTokens.get(p.token),
      ...(options.env ? { env: options.env } : {}),
      ...(options.now ? { now: options.now } : {}),
    });
  }

  /** Verify the request's bearer token and say who is calling. Throws IdentityError subclasses. */
  async authenticate(request: AuthenticateRequest): Promise<Principal> {
    const token = bearerToken(request.authorization);
    const { claims, issuer } = await this.verifier.verify(token);
    const principal = principalFromClaims(claims, issuer.settings, {
      header: request.modelHeader,
      meta: request.meta,
    });
    const required = [...this.settings.requiredScopes, ...(request.requiredScopes ?? [])];
    const missing = required.filter((s) => !principal.scopes.includes(s));
    if (missing.length > 0) throw new InsufficientScopeError(required);
    subjectTokens.set(principal.token, token);
    return principal;
  }

  /** RFC 9728 metadata document. */
  metadata(): ProtectedResourceMetadata {
    return protectedResourceMetadata(this.settings);
  }

  /** Absolute URL of the metadata document (for `WWW-Authenticate`). */
  get resourceMetadataUrl(): string {
    return resourceMetadataUrl(this.settings.resource);
  }

  /** Fetch discovery metadata and keys of every issuer now (optional warm-up at startup). */
  async warmUp(): Promise<void> {
    await Promise.all([...this.issuers.values()].map(async (i) => (await i.jwks()).refresh()));
  }
}

/** Validate the `identity` config section and build the service (reads secrets now). */
export function createIdentity(config: IdentityConfig | unknown, options: IdentityOptions = {}): Identity {
  return new Identity(parseIdentityConfig(config), options);
}
