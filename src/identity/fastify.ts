// HTTP surface of identity for fastify: the RFC 9728 metadata document, and a
// preHandler that authenticates a request and attaches its Principal
// (`request.principal`). Failures answer with problem+json and, for 401/403,
// a `WWW-Authenticate: Bearer resource_metadata=…` challenge.
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import {
  IdentityError,
  IdpUnavailableError,
  InsufficientScopeError,
  InvalidTokenError,
  MissingTokenError,
} from './errors.js';
import type { Identity } from './identity.js';
import { bearerChallenge, resourceMetadataPath, WELL_KNOWN_PROTECTED_RESOURCE } from './metadata.js';
import type { Principal } from './principal.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The authenticated caller, set by the identity preHandler; null before or without it. */
    principal: Principal | null;
  }
  interface FastifyInstance {
    /** A preHandler that requires a valid bearer token (plus `scopes`, if given). */
    authenticate: (options?: { scopes?: readonly string[] }) => AuthenticatePreHandler;
  }
}

/** A fastify preHandler that authenticates the request or answers 401/403/503 itself. */
export type AuthenticatePreHandler = (
  request: FastifyRequest,
  reply: FastifyReply,
) => Promise<FastifyReply | undefined>;

export interface IdentityPluginOptions {
  identity: Identity;
  /** Serve the RFC 9728 metadata document (default true). */
  serveMetadata?: boolean;
}

export const PROBLEM_TYPE_BASE = 'https://airlock.dev/problems/';

/** Answer an identity failure as problem+json; rethrows anything that is not one. */
export function replyIdentityError(identity: Identity, reply: FastifyReply, err: unknown): FastifyReply {
  if (!(err instanceof IdentityError)) throw err;
  const metadataUrl = identity.resourceMetadataUrl;
  if (err instanceof MissingTokenError) {
    reply.header(
      'www-authenticate',
      bearerChallenge(
        metadataUrl,
        err.bearerError ? { code: err.bearerError, description: err.message } : undefined,
      ),
    );
  } else if (err instanceof InvalidTokenError) {
    reply.header(
      'www-authenticate',
      bearerChallenge(metadataUrl, { code: 'invalid_token', description: err.message }),
    );
  } else if (err instanceof InsufficientScopeError) {
    reply.header(
      'www-authenticate',
      bearerChallenge(metadataUrl, {
        code: 'insufficient_scope',
        description: err.message,
        scope: err.requiredScopes,
      }),
    );
  } else if (err instanceof IdpUnavailableError) {
    reply.header('retry-after', '5');
  }
  return reply
    .code(err.status)
    .header('content-type', 'application/problem+json')
    .header('cache-control', 'no-store')
    .send({
      type: `${PROBLEM_TYPE_BASE}${err.code}`,
      title: titleOf(err),
      status: err.status,
      detail: err.message,
    });
}

function titleOf(err: IdentityError): string {
  switch (err.status) {
    case 401:
      return 'Unauthorized';
    case 403:
      return 'Forbidden';
    case 503:
      return 'Identity provider unavailable';
    default:
      return 'Upstream credential unavailable';
  }
}

/** A preHandler that authenticates with `identity` and sets `request.principal`. */
export function authenticateHandler(
  identity: Identity,
  options: { scopes?: readonly string[] } = {},
): AuthenticatePreHandler {
  const modelHeader = identity.settings.modelHeader;
  return async function authenticate(request, reply) {
    try {
      const header = request.headers[modelHeader];
      request.principal = await identity.authenticate({
        authorization: request.headers.authorization,
        modelHeader: Array.isArray(header) ? header[0] : header,
        ...(options.scopes ? { requiredScopes: options.scopes } : {}),
      });
    } catch (err) {
      if (err instanceof IdentityError) {
        // Log what failed and why, never the token.
        request.log.info(
          { identity_error: err.code, reason: err instanceof InvalidTokenError ? err.reason : undefined },
          'authentication failed',
        );
      }
      return replyIdentityError(identity, reply, err);
    }
    return undefined;
  };
}

const plugin: FastifyPluginAsync<IdentityPluginOptions> = async (app, opts) => {
  const { identity } = opts;
  app.decorateRequest('principal', null);
  app.decorate('authenticate', (options?: { scopes?: readonly string[] }) =>
    authenticateHandler(identity, options),
  );
  if (opts.serveMetadata === false) return;
  const paths = new Set([WELL_KNOWN_PROTECTED_RESOURCE, resourceMetadataPath(identity.settings.resource)]);
  for (const url of paths) {
    app.get(url, async (_request, reply) =>
      reply.header('cache-control', 'public, max-age=300').send(identity.metadata()),
    );
  }
};

// Register at the caller's level (not encapsulated), so `request.principal`
// and `app.authenticate` are visible to the routes the gateway adds.
Object.assign(plugin, {
  [Symbol.for('skip-override')]: true,
  [Symbol.for('fastify.display-name')]: 'airlock-identity',
});

export const identityPlugin = plugin;
