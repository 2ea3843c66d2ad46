// Public surface of identity: verify who is calling (users, agents, models)
// and obtain upstream credentials on the user's behalf.
export type {
  ActorMode,
  IdentityConfig,
  IdentitySettings,
  IssuerConfig,
  UpstreamConfig,
} from './config.js';
export { parseIdentityConfig } from './config.js';
export {
  IdentityConfigError,
  IdentityError,
  IdpUnavailableError,
  InsufficientScopeError,
  InvalidTokenError,
  MissingTokenError,
  SecretUnavailableError,
  UpstreamCredentialError,
} from './errors.js';
export type { AuthenticatePreHandler, IdentityPluginOptions } from './fastify.js';
export { authenticateHandler, identityPlugin, replyIdentityError } from './fastify.js';
export type { AuthenticateRequest, IdentityOptions } from './identity.js';
export { createIdentity, Identity } from './identity.js';
export type { ProtectedResourceMetadata } from './metadata.js';
export { resourceMetadataUrl, WELL_KNOWN_PROTECTED_RESOURCE } from './metadata.js';
export type {
  AgentIdentity,
  DecisionIdentityInput,
  ModelIdentity,
  Principal,
  UserIdentity,
} from './principal.js';
export { decisionInput, MODEL_META_KEY, withDeclaredModel } from './principal.js';
export type { TokenAuditFacts } from './redact.js';
export { PINO_REDACT_PATHS, redactHeaders, redactText } from './redact.js';
export type { SecretSource } from './secrets.js';
export { loadSecret, Secret } from './secrets.js';
export type { CredentialMode, CredentialObligation, UpstreamCredential } from './upstream.js';
export { CREDENTIAL_QUERY_PARAMS, credentialInQuery } from './url-credentials.js';
