// Claims → user, agent, model; sub and act kept apart; decision input shape.
import t from 'tap';
import { parseIdentityConfig } from '../../src/identity/config.js';
import {
  actorChain,
  decisionInput,
  parseModelDeclaration,
  principalFromClaims,
  readClaim,
  scopesOf,
  withDeclaredModel,
} from '../../src/identity/principal.js';

const settings = parseIdentityConfig({
  resource: 'https://airlock.example/mcp',
  issuers: [
    { issuer: 'https://idp.example' },
    {
      issuer: 'https://keycloak.example/realms/corp',
      claims: { roles: 'realm_access.roles', groups: 'https://corp.example/groups', model: 'airlock_model' },
    },
  ],
});
const plain = settings.issuers[0]!;
const keycloak = settings.issuers[1]!;
const base = {
  iss: 'https://idp.example',
  sub: 'alice',
  exp: 2_000_000_000,
  aud: 'https://airlock.example/mcp',
};

t.test('agent from client_id; user from sub', async (t) => {
  const p = principalFromClaims(
    {
      ...base,
      client_id: 'devops-agent',
      email: 'a@corp',
      groups: ['eng'],
      scope: 'mcp:tools repo:read',
      jti: 'j1',
    },
    plain,
  );
  t.equal(p.user.sub, 'alice');
  t.equal(p.user.email, 'a@corp');
  t.same(p.user.groups, ['eng']);
  t.same(p.agent, {
    id: 'devops-agent',
    client_id: 'devops-agent',
    source: 'client_id',
    delegation: [],
    claims: {},
  });
  t.same(p.scopes, ['mcp:tools', 'repo:read']);
  t.same(p.token, {
    iss: base.iss,
    sub: 'alice',
    act: undefined,
    azp: undefined,
    client_id: 'devops-agent',
    jti: 'j1',
    exp: base.exp,
  });
});

t.test('agent from azp when there is no client_id (OIDC-style tokens)', async (t) => {
  const p = principalFromClaims({ ...base, azp: 'cursor-agent' }, plain);
  t.equal(p.agent.id, 'cursor-agent');
  t.equal(p.agent.source, 'azp');
  t.equal(p.token.azp, 'cursor-agent');
});

t.test('a delegated token: the agent is act.sub, the user stays sub', async (t) => {
  const claims = {
    ...base,
    client_id: 'airlock-gateway',
    act: { sub: 'devops-agent', act: { sub: 'orchestrator' } },
  };
  const p = principalFromClaims(claims, plain);
  t.equal(p.user.sub, 'alice', 'never the actor');
  t.equal(p.agent.id, 'devops-agent');
  t.equal(p.agent.source, 'act');
  t.equal(p.agent.client_id, 'airlock-gateway', 'the presenting client is kept apart');
  t.same(p.agent.delegation, ['orchestrator']);
  t.equal(p.token.act, 'devops-agent');
  t.notOk('act' in p.user.claims, 'act is not a user claim');
  t.same(actorChain(claims), ['devops-agent', 'orchestrator']);
});

t.test('no agent claim at all: id is null, never sub', async (t) => {
  const p = principalFromClaims(base, plain);
  t.equal(p.agent.id, null);
  t.equal(p.agent.source, 'none');
});

t.test('configurable claim names: nested paths and namespaced names', async (t) => {
  const p = principalFromClaims(
    {
      ...base,
      iss: keycloak.issuer,
      realm_access: { roles: ['admin', 'dev'] },
      'https://corp.example/groups': ['payments'],
      azp: 'agent-x',
    },
    keycloak,
  );
  t.same(p.user.roles, ['admin', 'dev']);
  t.same(p.user.groups, ['payments']);
  t.equal(readClaim({ a: { b: { c: 1 } } }, 'a.b.c'), 1);
  t.equal(readClaim({ a: { b: 1 } }, 'a.b.c'), undefined);
  t.equal(readClaim({ 'a.b': 2, a: { b: 3 } }, 'a.b'), 2, 'exact names win over paths');
  t.equal(readClaim({ a: {} }, 'a.constructor'), undefined, 'no prototype walking');
});

t.test('model: declared is unattested, a signed claim is attested and wins', async (t) => {
  const declared = principalFromClaims(base, plain, { header: 'anthropic/claude-sonnet-4' });
  t.same(declared.model, {
    provider: 'anthropic',
    name: 'claude-sonnet-4',
    attested: false,
    source: 'header',
  });
  const viaMeta = principalFromClaims(base, plain, {
    header: 'x/y',
    meta: { 'airlock.dev/model': { provider: 'openai', name: 'gpt-4o' } },
  });
  t.same(viaMeta.model, { provider: 'openai', name: 'gpt-4o', attested: false, source: 'meta' });
  const signed = principalFromClaims(
    { ...base, iss: keycloak.issuer, airlock_model: 'anthropic/claude-opus-4' },
    keycloak,
    { header: 'evil/liar' },
  );
  t.same(signed.model, { provider: 'anthropic', name: 'claude-opus-4', attested: true, source: 'claim' });
  t.equal(
    withDeclaredModel(signed, { 'airlock.dev/model': 'other/model' }),
    signed,
    '_meta cannot override an attested model',
  );
  const later = withDeclaredModel(declared, { 'airlock.dev/model': 'google/gemini-2' });
  t.same(later.model, { provider: 'google', name: 'gemini-2', attested: false, source: 'meta' });
  t.equal(
    later.token,
    declared.token,
    'a shallow copy keeps the same token facts (and so the subject token link)',
  );
  const none = principalFromClaims(base, plain, { header: '<script>' });
  t.same(
    none.model,
    { provider: undefined, name: undefined, attested: false, source: 'none' },
    'junk is ignored',
  );
  t.equal(parseModelDeclaration('x'.repeat(200)), undefined, 'bounded');
  t.same(parseModelDeclaration('claude'), { provider: undefined, name: 'claude' });
});

t.test('scopes from scope or scp', async (t) => {
  t.same(scopesOf({ scope: 'a b' }), ['a', 'b']);
  t.same(scopesOf({ scp: ['a', 'b'] }), ['a', 'b']);
  t.same(scopesOf({ scp: 'a b' }), ['a', 'b']);
  t.same(scopesOf({}), []);
});

t.test('decision input carries user, agent and model as DESIGN.md sketches', async (t) => {
  const p = principalFromClaims(
    { ...base, client_id: 'devops-agent', email: 'a@corp', groups: ['eng'] },
    plain,
    { header: 'anthropic/claude' },
  );
  t.same(decisionInput(p), {
    user: {
      sub: 'alice',
      iss: base.iss,
      email: 'a@corp',
      groups: ['eng'],
      roles: [],
      claims: { client_id: 'devops-agent', email: 'a@corp', groups: ['eng'] },
    },
    agent: { id: 'devops-agent', client_id: 'devops-agent', delegation: [], claims: {} },
    model: { provider: 'anthropic', name: 'claude', attested: false },
  });
});
