// Error classes of the identity part. Every message is written for an operator
// and never carries token material: callers pass reasons, not tokens.

/** RFC 6750 §3.1 error codes used in `WWW-Authenticate: Bearer error=…`. */
export type BearerErrorCode = 'invalid_request' | 'invalid_token' | 'insufficient_scope';

/** Base class: `status` is the HTTP status the gateway should answer with. */
export abstract class IdentityError extends Error {
  abstract readonly status: number;
  /** Stable machine-readable code (also the problem+json `type` suffix). */
  abstract readonly code: string;
}

/** No bearer token, or a malformed Authorization header (401, RFC 6750 §3.1). */
export class MissingTokenError extends IdentityError {
  readonly status = 401;
  readonly code = 'missing_token';
  /** Set only for a malformed header; a plain missing token carries no error code (RFC 6750 §3.1). */
  readonly bearerError: BearerErrorCode | undefined;
  constructor(message = 'a bearer access token is required', bearerError?: BearerErrorCode) {
    super(message);
    this.name = 'MissingTokenError';
    this.bearerError = bearerError;
  }
}

/** The token was presented but fails verification (401 `invalid_token`). */
export class InvalidTokenError extends IdentityError {
  readonly status = 401;
  readonly code = 'invalid_token';
  readonly bearerError: BearerErrorCode = 'invalid_token';
  /** Which check failed, e.g. `expired`, `audience`, `signature`, `algorithm`, `unknown_key`. */
  readonly reason: string;
  constructor(reason: string, message: string) {
    super(message);
    this.name = 'InvalidTokenError';
    this.reason = reason;
  }
}

/** A valid token that lacks a scope the resource requires (403 `insufficient_scope`). */
export class InsufficientScopeError extends IdentityError {
  readonly status = 403;
  readonly code = 'insufficient_scope';
  readonly bearerError: BearerErrorCode = 'insufficient_scope';
  readonly requiredScopes: readonly string[];
  constructor(requiredScopes: readonly string[]) {
    super(`the access token lacks a required scope (required: ${requiredScopes.join(' ')})`);
    this.name = 'InsufficientScopeError';
    this.requiredScopes = requiredScopes;
  }
}

/** The identity provider (discovery, JWKS or token endpoint) could not be reached (503). */
export class IdpUnavailableError extends IdentityError {
  readonly status = 503;
  readonly code = 'idp_unavailable';
  readonly issuer: string;
  constructor(issuer: string, what: string, options?: { cause?: unknown }) {
    super(`identity provider ${issuer} is unreachable (${what}); try again later`, options);
    this.name = 'IdpUnavailableError';
    this.issuer = issuer;
  }
}

/**
 * Getting a credential for an upstream failed (token exchange refused, missing
 * actor credential…). There is never a fallback to another credential mode (502).
 */
export class UpstreamCredentialError extends IdentityError {
  readonly status = 502;
  readonly code = 'upstream_credential_failed';
  readonly upstream: string;
  constructor(upstream: string, message: string, options?: { cause?: unknown }) {
    super(`cannot obtain a credential for upstream "${upstream}": ${message}`, options);
    this.name = 'UpstreamCredentialError';
    this.upstream = upstream;
  }
}

/** The identity configuration is invalid (raised at startup). */
export class IdentityConfigError extends Error {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(`invalid identity configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'IdentityConfigError';
    this.problems = problems;
  }
}

/** A secret (env var or file) could not be read. The message names the source, never the value. */
export class SecretUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SecretUnavailableError';
  }
}
