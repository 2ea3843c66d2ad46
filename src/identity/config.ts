// The `identity` section of the configuration file: its TypeScript shape (the
// JSON Schema in schema/identity.schema.json is the truth), validation, and
// normalisation into the settings the other modules use.
import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { IdentityConfigError } from './errors.js';
import type { SecretSource } from './secrets.js';

// ajv-formats is CommonJS: under NodeNext its default export arrives wrapped.
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;

export type ClientAuthMethod = 'client_secret_basic' | 'client_secret_post';
export type ActorMode = 'agent' | 'gateway' | 'none';

/** The config file's shape (snake_case, as written by operators). */
export interface IdentityConfig {
  resource: string;
  resource_name?: string;
  resource_documentation?: string;
  scopes_supported?: string[];
  required_scopes?: string[];
  allow_insecure_http?: boolean;
  issuers: IssuerConfig[];
  model?: { header?: string };
  agents?: Record<string, AgentCredentialConfig>;
  upstreams?: Record<string, UpstreamConfig>;
}

export interface IssuerConfig {
  issuer: string;
  discovery?: 'oidc' | 'oauth2';
  jwks_uri?: string;
  audience?: string[];
  algorithms?: string[];
  token_types?: string[];
  clock_tolerance_seconds?: number;
  max_token_bytes?: number;
  claims?: ClaimNamesConfig;
  jwks?: {
    cache_max_age_seconds?: number;
    refetch_cooldown_seconds?: number;
    timeout_ms?: number;
    max_keys?: number;
  };
  exchange_client?: ClientCredentialConfig;
}

export interface ClaimNamesConfig {
  email?: string;
  groups?: string;
  roles?: string;
  agent_id?: string[];
  model?: string;
}

export type ExchangeGrant = 'token_exchange' | 'jwt_bearer_obo';

export interface ClientCredentialConfig {
  client_id: string;
  client_secret: SecretSource;
  auth_method?: ClientAuthMethod;
  /** RFC 8693 token exchange (default) or Entra ID's JWT-bearer on-behalf-of grant. */
  grant?: ExchangeGrant;
}

export interface AgentCredentialConfig {
  client_secret: SecretSource;
  auth_method?: ClientAuthMethod;
  scopes?: string[];
}

export type UpstreamConfig = OnBehalfOfUpstreamConfig | StaticUpstreamConfig | NoCredentialUpstreamConfig;

export interface OnBehalfOfUpstreamConfig {
  mode: 'on_behalf_of';
  audience: string;
  resource?: string;
  scopes?: string[];
  actor?: ActorMode;
  expiry_margin_seconds?: number;
}

export interface StaticUpstreamConfig {
  mode: 'static';
  secret: SecretSource;
  header?: string;
  scheme?: string;
}

export interface NoCredentialUpstreamConfig {
  mode: 'none';
}

// ---------------------------------------------------------------------------
// Normalised settings (defaults applied, camelCase, validated).

export interface IssuerSettings {
  issuer: string;
  discovery: 'oidc' | 'oauth2';
  jwksUri: string | undefined;
  audiences: string[];
  algorithms: string[];
  tokenTypes: string[];
  clockToleranceSeconds: number;
  maxTokenBytes: number;
  claims: {
    email: string;
    groups: string;
    roles: string;
    agentId: string[];
    model: string | undefined;
  };
  jwks: { cacheMaxAgeMs: number; refetchCooldownMs: number; timeoutMs: number; maxKeys: number };
  exchangeClient: ClientCredentialConfig | undefined;
}

export interface IdentitySettings {
  resource: string;
  resourceName: string | undefined;
  resourceDocumentation: string | undefined;
  scopesSupported: string[];
  requiredScopes: string[];
  allowInsecureHttp: boolean;
  issuers: IssuerSettings[];
  modelHeader: string;
  agents: Record<string, AgentCredentialConfig>;
  upstreams: Record<string, UpstreamConfig>;
}

export const DEFAULT_ALGORITHMS = ['RS256', 'PS256', 'ES256', 'EdDSA'];

let validator: ((data: unknown) => boolean) & { errors?: unknown } = undefined as never;

function schemaValidator() {
  if (validator) return validator;
  const schema = JSON.parse(
    readFileSync(new URL('../../schema/identity.schema.json', import.meta.url), 'utf8'),
  ) as object;
  const ajv = new Ajv2020({ allErrors: true, strict: true });
  addFormats(ajv);
  validator = ajv.compile(schema);
  return validator;
}

function isLoopback(url: URL): boolean {
  const h = url.hostname;
  return h === 'localhost' || h === '[::1]' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h);
}

/** Validate the raw `identity` section against the schema and the rules a schema cannot say. */
export function parseIdentityConfig(raw: unknown): IdentitySettings {
  const validate = schemaValidator();
  if (!validate(raw)) {
    const errors = (validate.errors ?? []) as { instancePath: string; message?: string }[];
    throw new IdentityConfigError(
      errors.map((e) => `identity${e.instancePath || ''}: ${e.message ?? 'invalid'}`),
    );
  }
  const config = raw as IdentityConfig;
  const problems: string[] = [];
  const insecure = config.allow_insecure_http === true;
  const checkUrl = (what: string, value: string) => {
    const url = new URL(value);
    if (url.protocol === 'https:') return;
    if (url.protocol === 'http:' && insecure && isLoopback(url)) return;
    problems.push(
      `${what} must be an https URL${insecure ? ' (http is allowed only on loopback)' : ''}: ${value}`,
    );
  };
  checkUrl('identity.resource', config.resource);
  const seen = new Set<string>();
  for (const [i, iss] of config.issuers.entries()) {
    checkUrl(`identity.issuers[${i}].issuer`, iss.issuer);
    if (iss.jwks_uri) checkUrl(`identity.issuers[${i}].jwks_uri`, iss.jwks_uri);
    if (seen.has(iss.issuer)) problems.push(`identity.issuers[${i}]: issuer ${iss.issuer} is listed twice`);
    seen.add(iss.issuer);
  }
  const upstreams = config.upstreams ?? {};
  const exchangers = config.issuers.filter((i) => i.exchange_client);
  for (const [name, up] of Object.entries(upstreams)) {
    if (up.mode === 'on_behalf_of' && exchangers.length === 0) {
      problems.push(
        `identity.upstreams.${name}: mode on_behalf_of needs an issuer with exchange_client (Airlock's client at the IdP)`,
      );
    }
  }
  if (problems.length > 0) throw new IdentityConfigError(problems);

  return {
    resource: config.resource,
    resourceName: config.resource_name,
    resourceDocumentation: config.resource_documentation,
    scopesSupported: config.scopes_supported ?? config.required_scopes ?? [],
    requiredScopes: config.required_scopes ?? [],
    allowInsecureHttp: insecure,
    modelHeader: (config.model?.header ?? 'x-airlock-model').toLowerCase(),
    agents: config.agents ?? {},
    upstreams,
    issuers: config.issuers.map((iss) => ({
      issuer: iss.issuer,
      discovery: iss.discovery ?? 'oidc',
      jwksUri: iss.jwks_uri,
      audiences: iss.audience ?? [config.resource],
      algorithms: iss.algorithms ?? DEFAULT_ALGORITHMS,
      tokenTypes: (iss.token_types ?? ['at+jwt']).map(normaliseTyp),
      clockToleranceSeconds: iss.clock_tolerance_seconds ?? 30,
      maxTokenBytes: iss.max_token_bytes ?? 16384,
      claims: {
        email: iss.claims?.email ?? 'email',
        groups: iss.claims?.groups ?? 'groups',
        roles: iss.claims?.roles ?? 'roles',
        agentId: iss.claims?.agent_id ?? ['client_id', 'azp'],
        model: iss.claims?.model,
      },
      jwks: {
        cacheMaxAgeMs: (iss.jwks?.cache_max_age_seconds ?? 600) * 1000,
        refetchCooldownMs: (iss.jwks?.refetch_cooldown_seconds ?? 30) * 1000,
        timeoutMs: iss.jwks?.timeout_ms ?? 5000,
        maxKeys: iss.jwks?.max_keys ?? 20,
      },
      exchangeClient: iss.exchange_client,
    })),
  };
}

/** `typ` values compare case-insensitively and without the `application/` prefix (RFC 7515 §4.1.9). */
export function normaliseTyp(typ: string): string {
  const lower = typ.toLowerCase();
  return lower.startsWith('application/') ? lower.slice('application/'.length) : lower;
}
