// Who may write live data. A credential identifies the caller (a static admin token, or a bearer token
// verified by the identity part); the policy decides (entrypoint `airlock/admin`, input
// `{"method": "PUT", "path": "/revocations/users/x", "principal": {"sub", "groups", "via"}}`; a result
// of `true` or `{"allow": true}` permits). No credential, no
// admin policy, or an evaluation error: refused.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { type Identity, IdentityError } from '../identity/index.js';

export interface AdminCaller {
  sub: string;
  groups: string[];
  roles?: string[];
  /** How the caller was identified: `client` (static API client credential) or the token issuer. */
  via: string;
}

/** Identifies the caller of a write, or throws AdminAuthError (401). */
export type AdminAuthenticator = (request: FastifyRequest) => Promise<AdminCaller>;

export class AdminAuthError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AdminAuthError';
  }
}

export interface StaticAdminToken {
  /** The token itself, or its hex SHA-256 (`sha256:…`) so that config files need not hold it. */
  token: string;
  sub: string;
  groups?: string[];
}

const sha256 = (s: string) => createHash('sha256').update(s).digest();

function bearer(request: FastifyRequest): string {
  const h = request.headers.authorization;
  const m = typeof h === 'string' ? /^Bearer\s+(\S+)$/i.exec(h) : null;
  if (!m?.[1]) throw new AdminAuthError('a bearer token is required to write data');
  return m[1];
}

/** Static admin tokens (compared by SHA-256 in constant time). */
export function staticTokenAuthenticator(tokens: readonly StaticAdminToken[]): AdminAuthenticator {
  const known = tokens.map((t) => ({
    digest: t.token.startsWith('sha256:') ? Buffer.from(t.token.slice(7), 'hex') : sha256(t.token),
    sub: t.sub,
    groups: t.groups ?? [],
  }));
  return async (request) => {
    const presented = sha256(bearer(request));
    for (const k of known)
      if (k.digest.length === presented.length && timingSafeEqual(k.digest, presented))
        return { sub: k.sub, groups: [...k.groups], via: 'client' };
    throw new AdminAuthError('the bearer token is not a known admin credential');
  };
}

/** Bearer tokens verified by the identity part (OIDC issuers). */
export function identityAuthenticator(identity: Identity): AdminAuthenticator {
  return async (request) => {
    try {
      const p = await identity.authenticate({ authorization: request.headers.authorization });
      return { sub: p.user.sub, groups: p.user.groups, roles: p.user.roles, via: p.user.iss };
    } catch (err) {
      // An unreachable identity provider is not a bad credential: it keeps its 503.
      if (err instanceof IdentityError && err.status === 503) throw err;
      throw new AdminAuthError(`credential refused: ${(err as Error).message}`);
    }
  };
}

/** Tries each authenticator in turn; the first that accepts wins. */
export function anyAuthenticator(list: readonly AdminAuthenticator[]): AdminAuthenticator {
  return async (request) => {
    let last: unknown = new AdminAuthError('no API credential is configured');
    for (const a of list) {
      try {
        return await a(request);
      } catch (err) {
        // An unreachable identity provider wins over "not a known static credential".
        if (!(last instanceof IdentityError && last.status === 503)) last = err;
      }
    }
    throw last;
  };
}
