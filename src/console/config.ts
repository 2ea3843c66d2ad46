// The `console` section of the serve configuration (schema/serve.schema.json): Airlock's OAuth client
// at the OpenID issuer, the session bounds, and the policy entrypoint. Built into a ConsoleService
// with the identity part's issuer (the console signs people in where their tokens come from).
import type { Engine } from '../engine/index.js';
import type { Identity } from '../identity/identity.js';
import { loadSecret, type SecretSource } from '../identity/secrets.js';
import { ConsoleService } from './service.js';
import { SessionStore } from './sessions.js';
import { SignIn } from './signin.js';

export interface ConsoleConfig {
  /** Airlock's client id at the issuer (authorization code + PKCE). */
  client_id: string;
  /** Its secret, for a confidential client; absent for a public one. */
  client_secret?: SecretSource;
  /** Which of identity.issuers to sign in with (default the first). */
  issuer?: string;
  /** The redirect URI registered at the issuer (default `<origin of the request>/console/callback`). */
  redirect_uri?: string;
  /** Default openid, profile, email; add the scope that releases the groups claim (often `groups`). */
  scopes?: string[];
  /** Default airlock/console. */
  entrypoint?: string;
  session?: { ttl_seconds?: number; idle_seconds?: number; max?: number };
}

export class ConsoleConfigError extends Error {
  constructor(message: string) {
    super(`console: ${message}`);
    this.name = 'ConsoleConfigError';
  }
}

export interface ConsoleParts {
  identity: Identity;
  engine: Engine;
  env?: NodeJS.ProcessEnv;
  now?: () => number;
}

export function createConsoleService(config: ConsoleConfig, parts: ConsoleParts): ConsoleService {
  const issuers = [...parts.identity.issuers.values()];
  const issuer = config.issuer ? parts.identity.issuers.get(config.issuer) : issuers[0];
  if (!issuer)
    throw new ConsoleConfigError(
      config.issuer ? `issuer ${config.issuer} is not among identity.issuers` : 'identity has no issuer',
    );
  if (config.redirect_uri) {
    const url = new URL(config.redirect_uri);
    if (url.pathname !== '/console/callback')
      throw new ConsoleConfigError(`redirect_uri must end in /console/callback, got ${url.pathname}`);
    const loopback = ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback))
      throw new ConsoleConfigError('redirect_uri must be https (http only on a loopback address)');
  }
  const ttlSeconds = config.session?.ttl_seconds ?? 8 * 3600;
  const sessions = new SessionStore(
    {
      ttlMs: ttlSeconds * 1000,
      idleMs: (config.session?.idle_seconds ?? 30 * 60) * 1000,
      max: config.session?.max ?? 1000,
    },
    parts.now,
  );
  const signIn = new SignIn({
    issuer,
    clientId: config.client_id,
    clientSecret: config.client_secret ? loadSecret(config.client_secret, parts.env) : undefined,
    scopes: config.scopes ?? ['openid', 'profile', 'email'],
    allowInsecureHttp: parts.identity.settings.allowInsecureHttp,
    ...(parts.now ? { now: parts.now } : {}),
  });
  return new ConsoleService({
    engine: parts.engine,
    sessions,
    signIn,
    sessionTtlSeconds: ttlSeconds,
    ...(config.entrypoint ? { entrypoint: config.entrypoint } : {}),
    ...(config.redirect_uri ? { redirectUri: config.redirect_uri } : {}),
  });
}
