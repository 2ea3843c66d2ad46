// Signing in to the console with the configured OpenID issuer: authorization code with PKCE (S256),
// state and nonce, through openid-client. A sign-in in progress is held here, keyed by a random id
// that only the browser which started it has (a short-lived cookie), so a callback arriving in
// another browser, twice, or late is refused.
import { randomBytes } from 'node:crypto';
import * as oidc from 'openid-client';
import type { IssuerClient } from '../identity/issuer.js';
import type { Secret } from '../identity/secrets.js';
import type { ConsoleUser } from './sessions.js';

export interface SignInOptions {
  issuer: IssuerClient;
  clientId: string;
  /** Absent: a public client (PKCE alone). */
  clientSecret?: Secret | undefined;
  scopes: string[];
  allowInsecureHttp: boolean;
  /** How long a started sign-in may take (ms). */
  pendingMs?: number;
  /** At most this many sign-ins in progress; beyond it the oldest is dropped. */
  maxPending?: number;
  now?: () => number;
}

interface Pending {
  state: string;
  nonce: string;
  verifier: string;
  redirectUri: string;
  expiresAt: number;
}

/** A sign-in that cannot complete: the message is safe to show (no token, code or secret in it). */
export class SignInError extends Error {
  constructor(
    message: string,
    readonly status: 400 | 502 | 503 = 400,
  ) {
    super(message);
    this.name = 'SignInError';
  }
}

export const LOGIN_ID = /^[A-Za-z0-9_-]{32}$/;

export class SignIn {
  readonly #options: SignInOptions;
  readonly #pending = new Map<string, Pending>();
  #config: Promise<oidc.Configuration> | undefined;

  constructor(options: SignInOptions) {
    this.#options = options;
  }

  get #now(): number {
    return (this.#options.now ?? Date.now)();
  }

  #configuration(): Promise<oidc.Configuration> {
    this.#config ??= (async () => {
      const metadata = await this.#options.issuer.metadata();
      const secret = this.#options.clientSecret;
      const config = new oidc.Configuration(
        metadata,
        this.#options.clientId,
        undefined,
        secret ? oidc.ClientSecretBasic(secret.reveal()) : oidc.None(),
      );
      config.timeout = 10;
      if (this.#options.allowInsecureHttp) oidc.allowInsecureRequests(config);
      return config;
    })().catch((err) => {
      this.#config = undefined;
      throw err;
    });
    return this.#config;
  }

  /** Starts a sign-in: the id to keep in the browser's login cookie and where to send the browser. */
  async start(redirectUri: string): Promise<{ loginId: string; url: string }> {
    let config: oidc.Configuration;
    try {
      config = await this.#configuration();
    } catch {
      throw new SignInError(`the identity provider ${this.#options.issuer.issuer} is unreachable`, 503);
    }
    const now = this.#now;
    for (const [id, p] of this.#pending) if (p.expiresAt <= now) this.#pending.delete(id);
    const max = this.#options.maxPending ?? 1000;
    while (this.#pending.size >= max) {
      const oldest = this.#pending.keys().next().value;
      if (oldest === undefined) break;
      this.#pending.delete(oldest);
    }
    const verifier = oidc.randomPKCECodeVerifier();
    const pending: Pending = {
      state: oidc.randomState(),
      nonce: oidc.randomNonce(),
      verifier,
      redirectUri,
      expiresAt: now + (this.#options.pendingMs ?? 10 * 60_000),
    };
    const loginId = randomBytes(24).toString('base64url');
    this.#pending.set(loginId, pending);
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri,
      scope: this.#options.scopes.join(' '),
      response_type: 'code',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state: pending.state,
      nonce: pending.nonce,
    });
    return { loginId, url: url.href };
  }

  /**
   * Completes the sign-in begun under `loginId` with the callback URL the browser arrived at: checks
   * state, exchanges the code (with the PKCE verifier), verifies the ID token (issuer, audience,
   * signature, nonce) and returns who signed in. A login id is used once.
   */
  async finish(loginId: string | undefined, callbackUrl: URL): Promise<ConsoleUser> {
    const pending = loginId && LOGIN_ID.test(loginId) ? this.#pending.get(loginId) : undefined;
    if (loginId) this.#pending.delete(loginId);
    if (!pending || pending.expiresAt <= this.#now)
      throw new SignInError('no sign-in in progress in this browser (or it took too long): start again');
    const error = callbackUrl.searchParams.get('error');
    if (error)
      throw new SignInError(
        `the identity provider refused the sign-in: ${error.slice(0, 100).replace(/[^\w.-]/g, '')}`,
      );
    const config = await this.#configuration();
    let tokens: Awaited<ReturnType<typeof oidc.authorizationCodeGrant>>;
    try {
      // The redirect URI sent must be the one the code was issued for, whatever Host this came on.
      const current = new URL(pending.redirectUri);
      current.search = callbackUrl.search;
      tokens = await oidc.authorizationCodeGrant(config, current, {
        pkceCodeVerifier: pending.verifier,
        expectedState: pending.state,
        expectedNonce: pending.nonce,
        idTokenExpected: true,
      });
    } catch (err) {
      const code = (err as { code?: unknown; error?: unknown }).error ?? (err as { code?: unknown }).code;
      throw new SignInError(
        `the sign-in could not be verified${typeof code === 'string' ? ` (${code.slice(0, 60)})` : ''}`,
        err instanceof oidc.ResponseBodyError || err instanceof oidc.AuthorizationResponseError ? 400 : 502,
      );
    }
    const claims = tokens.claims();
    if (!claims || typeof claims.sub !== 'string' || claims.sub === '')
      throw new SignInError('the identity provider did not say who signed in');
    let source: Record<string, unknown> = claims;
    const names = this.#options.issuer.settings.claims;
    // Some providers put groups in userinfo only.
    if (claims[names.groups] === undefined && config.serverMetadata().userinfo_endpoint) {
      try {
        source = { ...(await oidc.fetchUserInfo(config, tokens.access_token, claims.sub)), ...claims };
      } catch {
        // Without userinfo the user simply has no groups: policy then grants less, never more.
      }
    }
    const groups = source[names.groups];
    const email = source[names.email];
    const name = source.name;
    return {
      sub: claims.sub,
      groups: Array.isArray(groups)
        ? groups.filter((g): g is string => typeof g === 'string').slice(0, 200)
        : typeof groups === 'string'
          ? groups.split(' ').filter(Boolean).slice(0, 200)
          : [],
      ...(typeof email === 'string' ? { email } : {}),
      ...(typeof name === 'string' ? { name } : {}),
    };
  }

  /** Where to send the browser to end its session at the issuer too, when the issuer says. */
  async endSessionUrl(postLogoutRedirectUri: string): Promise<string | undefined> {
    try {
      const config = await this.#configuration();
      if (!config.serverMetadata().end_session_endpoint) return undefined;
      return oidc.buildEndSessionUrl(config, {
        client_id: this.#options.clientId,
        post_logout_redirect_uri: postLogoutRedirectUri,
      }).href;
    } catch {
      return undefined;
    }
  }
}
