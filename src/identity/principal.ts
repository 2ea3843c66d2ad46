// Who is calling: the user, the agent and the model, as the decision input
// (DESIGN.md) carries them. `sub` is always the user; the agent is never read
// from `sub`, and the user is never read from `act`.
import type { JWTPayload } from 'jose';
import type { IssuerSettings } from './config.js';
import type { TokenAuditFacts } from './redact.js';

export interface UserIdentity {
  /** The token's `sub`: the end user on whose behalf the agent acts. */
  sub: string;
  /** The issuer that vouches for `sub` (subjects are unique per issuer only). */
  iss: string;
  email: string | undefined;
  groups: string[];
  roles: string[];
  /** The token's other claims (no signature, so no replayable token material). */
  claims: Record<string, unknown>;
}

/** Where the agent's identity was read from. */
export type AgentSource = 'act' | 'client_id' | 'azp' | 'claim' | 'none';

export interface AgentIdentity {
  /** The acting agent: `act.sub` of a delegated token, else the OAuth client (`client_id`/`azp`). Null if the token names none. */
  id: string | null;
  /** The OAuth client that presented the token (RFC 9068 `client_id`, or `azp`). */
  client_id: string | undefined;
  source: AgentSource;
  /** Earlier actors of a delegation chain (`act.act.sub`, …), outermost first; empty when not delegated. */
  delegation: string[];
  claims: Record<string, unknown>;
}

export interface ModelIdentity {
  provider: string | undefined;
  name: string | undefined;
  /** True only when the model comes from a signed token claim. */
  attested: boolean;
  source: 'claim' | 'header' | 'meta' | 'none';
}

/** The authenticated caller of one request. Serialisable; holds no token. */
export interface Principal {
  user: UserIdentity;
  agent: AgentIdentity;
  model: ModelIdentity;
  /** Scopes granted to the inbound token. */
  scopes: string[];
  /** Facts the audit trail keeps about the token (never the token). */
  token: TokenAuditFacts & { exp: number };
}

/** The `user`, `agent` and `model` parts of the decision input. */
export interface DecisionIdentityInput {
  user: {
    sub: string;
    iss: string;
    email?: string;
    groups: string[];
    roles: string[];
    claims: Record<string, unknown>;
  };
  agent: { id: string | null; client_id?: string; delegation: string[]; claims: Record<string, unknown> };
  model: { provider?: string; name?: string; attested: boolean };
}

const REGISTERED = new Set(['iss', 'sub', 'aud', 'exp', 'nbf', 'iat', 'jti', 'act', 'may_act', 'cnf']);

/** Read a claim by exact name first, then as a dotted path into nested objects. */
export function readClaim(claims: Record<string, unknown>, path: string): unknown {
  if (Object.hasOwn(claims, path)) return claims[path];
  let cur: unknown = claims;
  for (const part of path.split('.')) {
    if (typeof cur !== 'object' || cur === null || Array.isArray(cur) || !Object.hasOwn(cur, part)) {
      return undefined;
    }
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

function stringList(value: unknown): string[] {
  if (typeof value === 'string') return value.split(/[\s,]+/).filter((s) => s !== '');
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string');
  return [];
}

/** Scopes: RFC 9068 `scope` (space-separated) or the `scp` array some IdPs use. */
export function scopesOf(claims: JWTPayload): string[] {
  const scope = claims['scope'];
  if (typeof scope === 'string') return scope.split(' ').filter((s) => s !== '');
  const scp = claims['scp'];
  if (typeof scp === 'string') return scp.split(' ').filter((s) => s !== '');
  return stringList(scp);
}

/** The actor chain of RFC 8693 §4.1 `act`: current actor first. */
export function actorChain(claims: JWTPayload): string[] {
  const chain: string[] = [];
  let act = claims['act'];
  while (typeof act === 'object' && act !== null && chain.length < 16) {
    const sub = (act as Record<string, unknown>)['sub'];
    if (typeof sub !== 'string') break;
    chain.push(sub);
    act = (act as Record<string, unknown>)['act'];
  }
  return chain;
}

/** Parse a declared model `provider/name` (or just `name`). Bounded and plain. */
export function parseModelDeclaration(
  value: unknown,
): { provider: string | undefined; name: string } | undefined {
  if (typeof value === 'object' && value !== null) {
    const { provider, name } = value as Record<string, unknown>;
    if (typeof name !== 'string' || !validModelPart(name)) return undefined;
    return {
      provider: typeof provider === 'string' && validModelPart(provider) ? provider : undefined,
      name,
    };
  }
  if (typeof value !== 'string') return undefined;
  const trimmed = value.trim();
  const slash = trimmed.indexOf('/');
  const provider = slash > 0 ? trimmed.slice(0, slash) : undefined;
  const name = slash > 0 ? trimmed.slice(slash + 1) : trimmed;
  if (!validModelPart(name) || (provider !== undefined && !validModelPart(provider))) return undefined;
  return { provider, name };
}

function validModelPart(s: string): boolean {
  return s.length > 0 && s.length <= 128 && /^[A-Za-z0-9][A-Za-z0-9._:@+-]*$/.test(s);
}

/** MCP `_meta` key under which an agent may declare its model. */
export const MODEL_META_KEY = 'airlock.dev/model';

/**
 * The model of a principal: a signed claim wins (attested); otherwise what the
 * agent declares (header or MCP `_meta`), never attested.
 */
export function resolveModel(
  claims: Record<string, unknown>,
  claimName: string | undefined,
  declared: { header?: string | undefined; meta?: Record<string, unknown> | undefined },
): ModelIdentity {
  if (claimName) {
    const fromClaim = parseModelDeclaration(readClaim(claims, claimName));
    if (fromClaim) return { ...fromClaim, attested: true, source: 'claim' };
  }
  const fromMeta = declared.meta ? parseModelDeclaration(declared.meta[MODEL_META_KEY]) : undefined;
  if (fromMeta) return { ...fromMeta, attested: false, source: 'meta' };
  const fromHeader = parseModelDeclaration(declared.header);
  if (fromHeader) return { ...fromHeader, attested: false, source: 'header' };
  return { provider: undefined, name: undefined, attested: false, source: 'none' };
}

/** Build the principal from verified claims. */
export function principalFromClaims(
  claims: JWTPayload & { sub: string; iss: string; exp: number },
  issuer: IssuerSettings,
  declared: { header?: string | undefined; meta?: Record<string, unknown> | undefined } = {},
): Principal {
  const all = claims as Record<string, unknown>;
  const names = issuer.claims;
  const clientId =
    typeof all['client_id'] === 'string'
      ? (all['client_id'] as string)
      : typeof all['azp'] === 'string'
        ? (all['azp'] as string)
        : undefined;
  const chain = actorChain(claims);

  let agentId: string | null = null;
  let source: AgentSource = 'none';
  if (chain[0] !== undefined) {
    agentId = chain[0];
    source = 'act';
  } else {
    for (const name of names.agentId) {
      const v = readClaim(all, name);
      if (typeof v === 'string' && v !== '') {
        agentId = v;
        source = name === 'client_id' ? 'client_id' : name === 'azp' ? 'azp' : 'claim';
        break;
      }
    }
  }

  const userClaims: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(all)) if (!REGISTERED.has(k)) userClaims[k] = v;
  const email = readClaim(all, names.email);
  const act = all['act'];

  return {
    user: {
      sub: claims.sub,
      iss: claims.iss,
      email: typeof email === 'string' ? email : undefined,
      groups: stringList(readClaim(all, names.groups)),
      roles: stringList(readClaim(all, names.roles)),
      claims: userClaims,
    },
    agent: {
      id: agentId,
      client_id: clientId,
      source,
      delegation: chain.slice(1),
      claims: typeof act === 'object' && act !== null ? { act } : {},
    },
    model: resolveModel(all, names.model, declared),
    scopes: scopesOf(claims),
    token: {
      iss: claims.iss,
      sub: claims.sub,
      act: chain[0],
      azp: typeof all['azp'] === 'string' ? (all['azp'] as string) : undefined,
      client_id: typeof all['client_id'] === 'string' ? (all['client_id'] as string) : undefined,
      jti: typeof claims.jti === 'string' ? claims.jti : undefined,
      exp: claims.exp,
    },
  };
}

/** A principal with the model re-resolved from an MCP message's `_meta` (the gateway calls this per message). */
export function withDeclaredModel(
  principal: Principal,
  meta: Record<string, unknown> | undefined,
): Principal {
  if (principal.model.attested || !meta) return principal;
  const fromMeta = parseModelDeclaration(meta[MODEL_META_KEY]);
  if (!fromMeta) return principal;
  return { ...principal, model: { ...fromMeta, attested: false, source: 'meta' } };
}

/** The decision-input parts (DESIGN.md): `user`, `agent`, `model`. */
export function decisionInput(principal: Principal): DecisionIdentityInput {
  const { user, agent, model } = principal;
  return {
    user: {
      sub: user.sub,
      iss: user.iss,
      ...(user.email !== undefined ? { email: user.email } : {}),
      groups: user.groups,
      roles: user.roles,
      claims: user.claims,
    },
    agent: {
      id: agent.id,
      ...(agent.client_id !== undefined ? { client_id: agent.client_id } : {}),
      delegation: agent.delegation,
      claims: agent.claims,
    },
    model: {
      ...(model.provider !== undefined ? { provider: model.provider } : {}),
      ...(model.name !== undefined ? { name: model.name } : {}),
      attested: model.attested,
    },
  };
}
