// The credential Airlock presents to an upstream MCP server, chosen per
// upstream in configuration and refined by the decision's `credentials`
// obligation. The user's inbound token is never forwarded, and there is no
// fallback from one mode to another: a failure is the call's failure.
import { inspect } from 'node:util';
import { clientCredentialsGrant } from 'openid-client';
import type { ActorMode, AgentCredentialConfig, ClientCredentialConfig, UpstreamConfig } from './config.js';
import { UpstreamCredentialError } from './errors.js';
import { describeGrantError, type ExchangeRequest, type TokenExchanger } from './exchange.js';
import type { IssuerClient } from './issuer.js';
import type { Principal } from './principal.js';
import { loadSecret, type Secret } from './secrets.js';

export type CredentialMode = UpstreamConfig['mode'];

/** The `credentials` part of a decision (DESIGN.md). */
export interface CredentialObligation {
  mode?: CredentialMode;
  audience?: string;
  scopes?: string[];
}

/** What the gateway attaches to one upstream request. */
export interface UpstreamCredential {
  mode: CredentialMode;
  /** Headers to set on the upstream request (may be empty). Never log their values. */
  headers: Record<string, string>;
  /** For on_behalf_of: the audience and scopes the token was exchanged for. */
  audience?: string;
  scopes?: string[];
  /** True when an exchanged token came from the cache. */
  cached?: boolean;
  /**
   * Call after the upstream answered 401 with this credential: drops the cached
   * token and exchanges a fresh one, once. Returns undefined when there is
   * nothing to retry with (static/none, or already refreshed): then give up.
   */
  refreshAfterUnauthorized(): Promise<UpstreamCredential | undefined>;
}

/**
 * A credential that is safe to log: JSON and util.inspect show the mode and
 * the header names, never the values. (A class, so that the redaction travels
 * with the prototype even when a logger copies the object's own properties.)
 */
class IssuedCredential implements UpstreamCredential {
  readonly mode: CredentialMode;
  readonly headers: Record<string, string>;
  readonly audience?: string;
  readonly scopes?: string[];
  readonly cached?: boolean;
  readonly refreshAfterUnauthorized: () => Promise<UpstreamCredential | undefined>;

  constructor(c: UpstreamCredential) {
    this.mode = c.mode;
    this.headers = c.headers;
    if (c.audience !== undefined) this.audience = c.audience;
    if (c.scopes !== undefined) this.scopes = c.scopes;
    if (c.cached !== undefined) this.cached = c.cached;
    this.refreshAfterUnauthorized = c.refreshAfterUnauthorized;
  }

  toJSON() {
    return {
      mode: this.mode,
      headers: Object.fromEntries(Object.keys(this.headers).map((h) => [h, '[redacted]'])),
      ...(this.audience !== undefined ? { audience: this.audience } : {}),
      ...(this.scopes !== undefined ? { scopes: this.scopes } : {}),
      ...(this.cached !== undefined ? { cached: this.cached } : {}),
    };
  }

  [inspect.custom]() {
    return this.toJSON();
  }
}

function loggable(credential: UpstreamCredential): UpstreamCredential {
  return new IssuedCredential(credential);
}

export interface UpstreamCredentialsDeps {
  upstreams: Record<string, UpstreamConfig>;
  agents: Record<string, AgentCredentialConfig>;
  /** Issuer that issued the user's token → its client (for exchange). */
  issuers: Map<string, IssuerClient>;
  exchanger: TokenExchanger;
  /** Returns the verified inbound token of a principal (kept outside the principal). */
  subjectTokenOf: (principal: Principal) => string | undefined;
  env?: NodeJS.ProcessEnv;
  now?: () => number;
}

interface CachedToken {
  token: string;
  reuseUntil: number;
}

export class UpstreamCredentials {
  readonly #deps: UpstreamCredentialsDeps;
  readonly #static = new Map<string, Secret>();
  readonly #clientSecrets = new Map<string, Secret>();
  /** Client-credentials tokens used as actor tokens, per (issuer, client). */
  readonly #actorTokens = new Map<string, CachedToken>();
  readonly #now: () => number;

  constructor(deps: UpstreamCredentialsDeps) {
    this.#deps = deps;
    this.#now = deps.now ?? Date.now;
    // Static secrets and client secrets are read at startup: a missing one fails loudly, early.
    for (const [name, up] of Object.entries(deps.upstreams)) {
      if (up.mode === 'static') this.#static.set(name, loadSecret(up.secret, deps.env));
    }
    for (const [, issuer] of deps.issuers) {
      const c = issuer.settings.exchangeClient;
      if (c)
        this.#clientSecrets.set(`${issuer.issuer} ${c.client_id}`, loadSecret(c.client_secret, deps.env));
    }
    for (const [clientId, agent] of Object.entries(deps.agents)) {
      this.#clientSecrets.set(`agent ${clientId}`, loadSecret(agent.client_secret, deps.env));
    }
  }

  /** The names of configured upstreams. */
  get upstreamNames(): string[] {
    return Object.keys(this.#deps.upstreams);
  }

  /** Header names that carry static secrets (add them to log redaction). */
  get secretHeaderNames(): string[] {
    return Object.values(this.#deps.upstreams).flatMap((u) =>
      u.mode === 'static' ? [(u.header ?? 'authorization').toLowerCase()] : [],
    );
  }

  /** The credential for a call to `upstream` by `principal`, as the decision refines it. */
  async credentialFor(
    upstream: string,
    principal: Principal,
    obligation?: CredentialObligation,
  ): Promise<UpstreamCredential> {
    const config = this.#deps.upstreams[upstream];
    if (!config) throw new UpstreamCredentialError(upstream, 'no credential configuration for this upstream');
    if (obligation?.mode !== undefined && obligation.mode !== config.mode) {
      throw new UpstreamCredentialError(
        upstream,
        `the decision asks for credential mode ${obligation.mode} but the upstream is configured for ${config.mode}`,
      );
    }
    switch (config.mode) {
      case 'none':
        return loggable({ mode: 'none', headers: {}, refreshAfterUnauthorized: async () => undefined });
      case 'static': {
        const secret = this.#static.get(upstream)!;
        const scheme = config.scheme ?? 'Bearer';
        const value = scheme === '' ? secret.reveal() : `${scheme} ${secret.reveal()}`;
        return loggable({
          mode: 'static',
          headers: { [(config.header ?? 'authorization').toLowerCase()]: value },
          refreshAfterUnauthorized: async () => undefined,
        });
      }
      case 'on_behalf_of':
        return this.#onBehalfOf(upstream, config, principal, obligation, false);
    }
  }

  async #onBehalfOf(
    upstream: string,
    config: Extract<UpstreamConfig, { mode: 'on_behalf_of' }>,
    principal: Principal,
    obligation: CredentialObligation | undefined,
    refreshed: boolean,
  ): Promise<UpstreamCredential> {
    // The decision may narrow the scopes, never widen them, and may not redirect the audience.
    if (obligation?.audience !== undefined && obligation.audience !== config.audience) {
      throw new UpstreamCredentialError(
        upstream,
        `the decision asks for audience ${obligation.audience}, which is not this upstream's (${config.audience})`,
      );
    }
    const allowed = config.scopes ?? [];
    let scopes = obligation?.scopes ?? allowed;
    if (obligation?.scopes && allowed.length > 0) {
      const extra = obligation.scopes.filter((s) => !allowed.includes(s));
      if (extra.length > 0) {
        throw new UpstreamCredentialError(
          upstream,
          `the decision asks for scopes not configured: ${extra.join(' ')}`,
        );
      }
    }
    scopes = [...new Set(scopes)].sort();

    const issuer = this.#deps.issuers.get(principal.user.iss);
    const exchangeClient = issuer?.settings.exchangeClient;
    if (!issuer || !exchangeClient) {
      throw new UpstreamCredentialError(
        upstream,
        `issuer ${principal.user.iss} has no exchange_client configured; on_behalf_of is impossible`,
      );
    }
    const subjectToken = this.#deps.subjectTokenOf(principal);
    if (!subjectToken) {
      throw new UpstreamCredentialError(upstream, 'the principal carries no verified user token to exchange');
    }
    const client = await this.#client(issuer, exchangeClient, upstream);
    const grant = exchangeClient.grant ?? 'token_exchange';
    const actor = config.actor ?? (grant === 'jwt_bearer_obo' ? 'none' : 'agent');
    if (grant === 'jwt_bearer_obo' && actor !== 'none') {
      throw new UpstreamCredentialError(
        upstream,
        `issuer ${issuer.issuer} uses the on-behalf-of grant, which takes no actor token; set actor: none`,
      );
    }
    const actorToken = await this.#actorToken(actor, issuer, exchangeClient, principal, upstream);

    const request: ExchangeRequest = {
      upstream,
      issuer: issuer.issuer,
      client,
      grant,
      subjectToken,
      actorToken,
      audience: config.audience,
      resource: config.resource,
      scopes,
      userKey: principal.user.sub,
      agentKey: `${actor}:${principal.agent.id ?? ''}`,
      expiryMarginMs: (config.expiry_margin_seconds ?? 30) * 1000,
      notAfterMs: principal.token.exp * 1000,
    };
    if (refreshed) this.#deps.exchanger.invalidate(request);
    const issued = await this.#deps.exchanger.exchange(request);
    return loggable({
      mode: 'on_behalf_of',
      headers: { authorization: `Bearer ${issued.accessToken}` },
      audience: config.audience,
      scopes,
      cached: issued.cached,
      refreshAfterUnauthorized: refreshed
        ? async () => undefined
        : () => this.#onBehalfOf(upstream, config, principal, obligation, true),
    });
  }

  async #client(issuer: IssuerClient, c: ClientCredentialConfig, upstream: string) {
    try {
      return await issuer.client(
        c.client_id,
        this.#clientSecrets.get(`${issuer.issuer} ${c.client_id}`)!,
        c.auth_method ?? 'client_secret_basic',
      );
    } catch (err) {
      throw describeGrantError(issuer.issuer, upstream, 'discovery', err);
    }
  }

  /** The actor token: the agent's own client-credentials token, Airlock's, or none. */
  async #actorToken(
    mode: ActorMode,
    issuer: IssuerClient,
    exchangeClient: ClientCredentialConfig,
    principal: Principal,
    upstream: string,
  ): Promise<string | undefined> {
    if (mode === 'none') return undefined;
    let clientId: string;
    let secret: Secret;
    let method: ClientCredentialConfig['auth_method'];
    let scopes: string[] = [];
    if (mode === 'gateway') {
      clientId = exchangeClient.client_id;
      secret = this.#clientSecrets.get(`${issuer.issuer} ${clientId}`)!;
      method = exchangeClient.auth_method;
    } else {
      const agentId = principal.agent.id;
      const agent = agentId !== null ? this.#deps.agents[agentId] : undefined;
      if (agentId === null || !agent) {
        throw new UpstreamCredentialError(
          upstream,
          agentId === null
            ? 'the token names no agent, so there is no actor credential for the exchange'
            : `no credential configured for agent ${agentId} (identity.agents) to act as actor in the exchange`,
        );
      }
      clientId = agentId;
      secret = this.#clientSecrets.get(`agent ${agentId}`)!;
      method = agent.auth_method;
      scopes = agent.scopes ?? [];
    }
    const key = `${issuer.issuer} ${clientId}`;
    const cached = this.#actorTokens.get(key);
    if (cached && this.#now() < cached.reuseUntil) return cached.token;
    const client = await issuer.client(clientId, secret, method ?? 'client_secret_basic');
    try {
      const started = this.#now();
      const res = await clientCredentialsGrant(client, scopes.length > 0 ? { scope: scopes.join(' ') } : {});
      if (typeof res.expires_in === 'number' && res.expires_in > 0) {
        this.#actorTokens.set(key, {
          token: res.access_token,
          reuseUntil: started + res.expires_in * 1000 - Math.min(30_000, (res.expires_in * 1000) / 2),
        });
      }
      return res.access_token;
    } catch (err) {
      throw describeGrantError(issuer.issuer, upstream, `actor token for ${clientId}`, err);
    }
  }
}
