// Inbound bearer-token verification: RFC 9068 JWT access tokens, checked as
// RFC 8725 asks — explicit algorithm allowlist (asymmetric only), exact issuer,
// audience = Airlock's resource, exp/nbf with a small leeway, typed tokens.
import {
  decodeJwt,
  decodeProtectedHeader,
  type JWTPayload,
  type JWTVerifyResult,
  errors as joseErrors,
  jwtVerify,
} from 'jose';
import { normaliseTyp } from './config.js';
import { IdentityError, InvalidTokenError, MissingTokenError } from './errors.js';
import type { IssuerClient } from './issuer.js';

/** Algorithms that are never accepted, whatever the configuration says. */
const FORBIDDEN_ALGORITHM = /^(none|HS\d+)$/i;

export type VerifiedClaims = JWTPayload & { sub: string; iss: string; exp: number };

export interface VerifiedToken {
  claims: VerifiedClaims;
  issuer: IssuerClient;
}

/** Extract the token from an `Authorization: Bearer …` header (RFC 6750 §2.1). */
export function bearerToken(header: string | undefined): string {
  if (header === undefined || header === '') throw new MissingTokenError();
  const match = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(header);
  if (!match?.[1]) {
    throw new MissingTokenError(
      'the Authorization header is not a well-formed Bearer credential',
      'invalid_request',
    );
  }
  return match[1];
}

export class TokenVerifier {
  readonly #issuers: Map<string, IssuerClient>;
  readonly #maxBytes: number;

  constructor(issuers: IssuerClient[]) {
    this.#issuers = new Map(issuers.map((i) => [i.issuer, i]));
    this.#maxBytes = Math.max(...issuers.map((i) => i.settings.maxTokenBytes));
  }

  /** Verify a compact JWT access token; throws InvalidTokenError (401) or IdpUnavailableError (503). */
  async verify(token: string): Promise<VerifiedToken> {
    if (token.length > this.#maxBytes)
      throw new InvalidTokenError('too_large', 'the access token is too large');
    const parts = token.split('.');
    if (parts.length === 5) {
      throw new InvalidTokenError('encrypted', 'encrypted (JWE) access tokens are not supported');
    }
    if (parts.length !== 3) throw new InvalidTokenError('malformed', 'the access token is not a JWT');

    let alg: unknown;
    let typ: unknown;
    let unverifiedIss: unknown;
    try {
      ({ alg, typ } = decodeProtectedHeader(token));
      unverifiedIss = decodeJwt(token).iss;
    } catch {
      throw new InvalidTokenError('malformed', 'the access token is not a well-formed JWT');
    }

    // Route to the issuer's settings by the (not yet trusted) `iss`; everything is checked against them below.
    const issuer = typeof unverifiedIss === 'string' ? this.#issuers.get(unverifiedIss) : undefined;
    if (!issuer)
      throw new InvalidTokenError('issuer', 'the access token is from an issuer Airlock does not trust');
    const settings = issuer.settings;

    if (typeof alg !== 'string' || FORBIDDEN_ALGORITHM.test(alg) || !settings.algorithms.includes(alg)) {
      throw new InvalidTokenError(
        'algorithm',
        'the access token is signed with an algorithm that is not allowed',
      );
    }
    if (typeof typ !== 'string' || !settings.tokenTypes.includes(normaliseTyp(typ))) {
      throw new InvalidTokenError(
        'token_type',
        `the token is not an access token (typ must be one of: ${settings.tokenTypes.join(', ')})`,
      );
    }

    const jwks = await issuer.jwks();
    let result: JWTVerifyResult;
    try {
      result = await jwtVerify(token, (header) => jwks.getKey(header), {
        issuer: settings.issuer,
        audience: settings.audiences,
        algorithms: settings.algorithms.filter((a) => !FORBIDDEN_ALGORITHM.test(a)),
        clockTolerance: settings.clockToleranceSeconds,
        requiredClaims: ['iss', 'sub', 'aud', 'exp'],
      });
    } catch (err) {
      throw mapVerifyError(err);
    }
    const claims = result.payload;
    if (typeof claims.sub !== 'string' || claims.sub === '') {
      throw new InvalidTokenError('subject', 'the access token has no subject');
    }
    const act = claims['act'];
    if (
      act !== undefined &&
      (typeof act !== 'object' || act === null || typeof (act as { sub?: unknown }).sub !== 'string')
    ) {
      throw new InvalidTokenError('actor', 'the access token has a malformed act claim');
    }
    return { claims: claims as VerifiedClaims, issuer };
  }
}

function mapVerifyError(err: unknown): Error {
  if (err instanceof IdentityError) return err;
  if (err instanceof joseErrors.JWTExpired)
    return new InvalidTokenError('expired', 'the access token has expired');
  if (err instanceof joseErrors.JWTClaimValidationFailed) {
    switch (err.claim) {
      case 'nbf':
        return new InvalidTokenError('not_yet_valid', 'the access token is not valid yet');
      case 'aud':
        return new InvalidTokenError('audience', 'the access token is not meant for this resource');
      case 'iss':
        return new InvalidTokenError('issuer', 'the access token is from an issuer Airlock does not trust');
      case 'iat':
        return new InvalidTokenError('issued_at', 'the access token has an invalid iat');
      default:
        return new InvalidTokenError('claim', `the access token's ${err.claim} claim is missing or invalid`);
    }
  }
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) {
    return new InvalidTokenError('signature', 'the access token signature is invalid');
  }
  if (err instanceof joseErrors.JOSEAlgNotAllowed) {
    return new InvalidTokenError(
      'algorithm',
      'the access token is signed with an algorithm that is not allowed',
    );
  }
  if (err instanceof joseErrors.JOSEError) {
    return new InvalidTokenError('malformed', 'the access token could not be verified');
  }
  return err instanceof Error ? err : new Error(String(err));
}
