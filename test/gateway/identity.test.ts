// The gateway with real identity: callers present JWT access tokens from a real OpenID provider
// (oidc-provider on loopback); the upstream receives a token exchanged for the user with the agent as
// actor (RFC 8693) — never the caller's own token; identity failures stop the call.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { decodeJwt } from 'jose';
import t from 'tap';
import { CLIENTS, startIdp } from '../../scripts/demo/idp.js';
import { GatewayErrorCode } from '../../src/gateway/index.js';
import { createIdentity } from '../../src/identity/index.js';
import { githubUpstream, referenceEngine, rpcError, startAirlock } from './harness.js';

const RESOURCE = 'http://127.0.0.1/mcp';
const GITHUB_AUD = 'https://api.github.example';

const idp = await startIdp();
const github = await githubUpstream();
const identity = createIdentity(
  {
    resource: RESOURCE,
    allow_insecure_http: true,
    issuers: [
      {
        issuer: idp.issuer,
        exchange_client: { client_id: CLIENTS.gateway.id, client_secret: { env: 'GATEWAY_SECRET' } },
      },
    ],
    agents: { [CLIENTS.agent.id]: { client_secret: { env: 'AGENT_SECRET' } } },
    upstreams: {
      github: {
        mode: 'on_behalf_of',
        audience: GITHUB_AUD,
        scopes: ['repo:read', 'repo:write', 'issues:write', 'repo:admin'],
      },
    },
  },
  { env: { GATEWAY_SECRET: CLIENTS.gateway.secret, AGENT_SECRET: CLIENTS.agent.secret } },
);
const engine = await referenceEngine();
const airlock = await startAirlock(github.url, {
  engine,
  identity,
  topology: {
    upstreams: [{ name: 'github', transport: 'http', url: github.url, timeout_ms: 5000 }],
    virtual_servers: [{ name: 'devops', upstreams: ['github'] }],
  },
});
t.teardown(async () => {
  await airlock.close();
  await github.close();
  await idp.close();
});

async function connect(token: string | undefined) {
  const client = new Client({ name: 'agent', version: '1.0.0' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(`${airlock.base}/mcp/devops`), {
      requestInit: {
        headers: {
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          'x-airlock-model': 'anthropic/claude-sonnet-4',
        },
      },
    }),
  );
  return client;
}

const aliceToken = await idp.userToken({ sub: 'alice', audience: RESOURCE, extra: { groups: ['eng'] } });

t.test('no token: 401 with a WWW-Authenticate challenge naming the metadata document', async (t) => {
  const r = await fetch(`${airlock.base}/mcp/devops`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
  });
  t.equal(r.status, 401);
  t.match(r.headers.get('www-authenticate'), /^Bearer .*resource_metadata="/);
  const forged = await fetch(`${airlock.base}/mcp/devops`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      authorization: `Bearer ${aliceToken.slice(0, -4)}AAAA`,
    },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
  });
  t.equal(forged.status, 401, 'a token with a broken signature is refused');
  t.equal(github.seen.length, 0, 'nothing reached the upstream');
});

t.test('the upstream receives a token exchanged for alice, with the agent as actor', async (t) => {
  const client = await connect(aliceToken);
  t.teardown(() => client.close());
  const { tools } = await client.listTools();
  t.same(tools.map((x) => x.name).sort(), ['github__delete_repo', 'github__list_repos']);
  const listed = github.seen.find((s) => s.method === 'tools/list');
  t.equal(
    decodeJwt(listed!.authorization!.slice('Bearer '.length)).sub,
    'alice',
    "the upstream's tool list was fetched with the requesting user's exchanged token",
  );
  const r = await client.callTool({ name: 'github__list_repos', arguments: {} });
  t.same(r.content, [{ type: 'text', text: 'corp/payments, corp/web' }]);
  const call = github.seen.findLast((s) => s.method === 'tools/call')!;
  t.ok(call.authorization, 'the call carried a credential');
  const presented = call.authorization!.slice('Bearer '.length);
  t.not(presented, aliceToken, "never the caller's own token");
  const claims = decodeJwt(presented);
  t.equal(claims.sub, 'alice');
  t.equal(claims.aud, GITHUB_AUD);
  t.same(claims.act, { sub: CLIENTS.agent.id });
  t.equal(claims.scope, 'repo:read', "narrowed to the policy's scopes for the tool");
  const decision = airlock.events.findLast((e) => e.kind === 'decision' && e.phase === 'request');
  t.same(decision?.user, { sub: 'alice' });
  t.equal(decision?.agentId, CLIENTS.agent.id);
});

t.test('an upstream 401 gets one freshly exchanged token, then the call goes through', async (t) => {
  const client = await connect(aliceToken);
  t.teardown(() => client.close());
  await client.callTool({ name: 'github__list_repos', arguments: {} }); // the exchanged token is now cached
  const exchanges = idp.exchanges.length;
  github.refuseNext(1);
  const r = await client.callTool({ name: 'github__list_repos', arguments: {} });
  t.same(r.content, [{ type: 'text', text: 'corp/payments, corp/web' }]);
  t.equal(idp.exchanges.length, exchanges + 1, 'the cached token was dropped and exchanged again');
  const [refused, retried] = github.seen.filter((s) => s.method === 'tools/call').slice(-2);
  t.not(retried?.authorization, refused?.authorization, 'the retry carried the fresh token');

  github.refuseNext(2);
  const err = await rpcError(client.callTool({ name: 'github__list_repos', arguments: {} }));
  t.equal(err.code, GatewayErrorCode.UpstreamFailed, 'refused again: no endless retries');
});

t.test('an exchange the IdP refuses stops the call: fail closed, nothing forwarded', async (t) => {
  idp.refusedAudiences.add(GITHUB_AUD);
  t.teardown(() => idp.refusedAudiences.delete(GITHUB_AUD));
  // A different user, so no cached exchanged token applies.
  const token = await idp.userToken({ sub: 'bob', audience: RESOURCE, extra: { groups: ['eng'] } });
  const client = await connect(token);
  t.teardown(() => client.close());
  const before = github.seen.filter((s) => s.method === 'tools/call').length;
  const err = await rpcError(client.callTool({ name: 'github__list_repos', arguments: {} }));
  t.equal(err.code, GatewayErrorCode.PolicyUnavailable);
  t.equal(
    err.message,
    'MCP error -32003: no upstream credential for github: the credential could not be obtained',
  );
  t.same(err.data, { upstream: 'github', credential_error: 'upstream_credential_failed' });
  t.equal(github.seen.filter((s) => s.method === 'tools/call').length, before);
  const result = airlock.events.at(-1);
  t.equal(result?.kind, 'call_result');
  t.match(result?.details, {
    error:
      /^upstream credential for github failed \(upstream_credential_failed\): .*token exchange refused by <url> \(invalid_target/,
    credential_error: 'upstream_credential_failed',
  });
  t.notMatch(JSON.stringify(result), idp.issuer, 'no IdP URL in the trail');
});

t.test('a credential failure while listing: a clean error and a denied row', async (t) => {
  idp.refusedAudiences.add(GITHUB_AUD);
  t.teardown(() => idp.refusedAudiences.delete(GITHUB_AUD));
  // A gateway of its own, so no upstream list is cached yet and listing needs a credential.
  const fresh = await startAirlock(github.url, {
    engine,
    identity,
    topology: {
      upstreams: [{ name: 'github', transport: 'http', url: github.url, timeout_ms: 5000 }],
      virtual_servers: [{ name: 'devops', upstreams: ['github'] }],
    },
  });
  t.teardown(() => fresh.close());
  const token = await idp.userToken({ sub: 'dave', audience: RESOURCE, extra: { groups: ['eng'] } });
  const client = new Client({ name: 'agent', version: '1.0.0' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(`${fresh.base}/mcp/devops`), {
      requestInit: {
        headers: { authorization: `Bearer ${token}`, 'x-airlock-model': 'anthropic/claude-sonnet-4' },
      },
    }),
  );
  t.teardown(() => client.close());
  const listed = await rpcError(client.listTools());
  const called = await rpcError(client.callTool({ name: 'github__list_repos', arguments: {} }));
  for (const err of [listed, called]) {
    t.equal(err.code, GatewayErrorCode.PolicyUnavailable);
    t.equal(
      err.message,
      'MCP error -32003: no upstream credential for github: the credential could not be obtained',
    );
    t.notMatch(JSON.stringify({ m: err.message, d: err.data }), /127\.0\.0\.1|http:|token_endpoint/);
  }
  const { events } = await fresh.store!.query({ effect: 'deny' });
  t.match(
    events.map((e) => [e.kind, e.userSub, e.upstreamServer, e.details]),
    [
      [
        'decision',
        'dave',
        'github',
        { action: 'tools/list', credential_error: 'upstream_credential_failed' },
      ],
      [
        'decision',
        'dave',
        'github',
        { action: 'tools/call', credential_error: 'upstream_credential_failed' },
      ],
    ],
  );
  for (const e of events) {
    t.match(e.reasons, [/^upstream credential for github failed \(upstream_credential_failed\): .*refused/]);
    t.notMatch(JSON.stringify(e), idp.issuer, 'no IdP URL in the trail');
    t.notMatch(JSON.stringify(e), token, 'no token in the trail');
  }
});

// Last: it stops the IdP.
t.test('the IdP unreachable at exchange time: a clean -32003, the trail says so', async (t) => {
  const token = await idp.userToken({ sub: 'erin', audience: RESOURCE, extra: { groups: ['eng'] } });
  const client = await connect(token); // the caller's token is verified (JWKS cached) while the IdP is up
  t.teardown(() => client.close());
  await idp.close();
  const err = await rpcError(client.callTool({ name: 'github__list_repos', arguments: {} }));
  t.equal(err.code, GatewayErrorCode.PolicyUnavailable);
  t.equal(
    err.message,
    'MCP error -32003: no upstream credential for github: the identity provider is unreachable; try again later',
  );
  t.same(err.data, { upstream: 'github', credential_error: 'idp_unavailable' });
  // A denied row when the list had to be fetched for the call, else the call's call_result row.
  const last = airlock.events.at(-1);
  t.match(last?.details, { credential_error: 'idp_unavailable' });
  t.match(JSON.stringify(last), /upstream credential for github failed \(idp_unavailable\)/);
  t.notMatch(JSON.stringify(last), idp.issuer, 'no IdP URL in the trail');
});
