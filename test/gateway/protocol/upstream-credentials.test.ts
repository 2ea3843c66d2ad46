// A 2026-07-28 upstream gets each caller's own exchanged credential, as session-revision upstreams
// do (identity.test.ts): the v2 SDK client behind Airlock's adapter sends every request with the
// credential of the call it belongs to, also when two users' calls are in flight at once, and an
// upstream 401 gets one freshly exchanged token.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpServer as V2McpServer } from '@modelcontextprotocol/server';
import { decodeJwt } from 'jose';
import t from 'tap';
import { z } from 'zod';
import { CLIENTS, startIdp } from '../../../scripts/demo/idp.js';
import { createIdentity } from '../../../src/identity/index.js';
import { referenceEngine, startAirlock } from '../harness.js';
import { servePerRequest } from './per-request-upstream.js';

const RESOURCE = 'http://127.0.0.1/mcp';
const GITHUB_AUD = 'https://api.github.example';

const idp = await startIdp();
const state = { refuse: 0 };
const github = await servePerRequest(
  () => {
    const s = new V2McpServer({ name: 'github-2026', version: '2.0.0' });
    s.registerTool(
      'list_repos',
      { inputSchema: z.object({ org: z.string() }), annotations: { readOnlyHint: true } },
      async ({ org }) => ({ content: [{ type: 'text', text: `${org}/payments` }] }),
    );
    return s;
  },
  () => state.refuse > 0 && state.refuse-- > 0,
);
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
    upstreams: { github: { mode: 'on_behalf_of', audience: GITHUB_AUD, scopes: ['repo:read'] } },
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

async function connect(sub: string) {
  const token = await idp.userToken({ sub, audience: RESOURCE, extra: { groups: ['eng'] } });
  const client = new Client({ name: 'agent', version: '1.0.0' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(`${airlock.base}/mcp/devops`), {
      requestInit: {
        headers: { authorization: `Bearer ${token}`, 'x-airlock-model': 'anthropic/claude-sonnet-4' },
      },
    }),
  );
  return client;
}

const subOf = (authorization: string | undefined) =>
  authorization ? decodeJwt(authorization.slice('Bearer '.length)).sub : undefined;

t.test("each call reaches the 2026-07-28 upstream with its own user's exchanged token", async (t) => {
  const [alice, bob] = await Promise.all([connect('alice'), connect('bob')]);
  t.teardown(async () => {
    await alice.close();
    await bob.close();
  });
  const before = github.seen.length;
  const orgs = ['a1', 'b1', 'a2', 'b2', 'a3', 'b3'];
  const results = await Promise.all(
    orgs.map((org) =>
      (org.startsWith('a') ? alice : bob).callTool({ name: 'github__list_repos', arguments: { org } }),
    ),
  );
  t.same(
    results.map((r) => r.content),
    orgs.map((org) => [{ type: 'text', text: `${org}/payments` }]),
  );
  const calls = github.seen.slice(before).filter((s) => s.method === 'tools/call');
  t.equal(calls.length, orgs.length);
  for (const c of calls) t.equal(c.version, '2026-07-28');
  t.ok(
    calls.every((c) => c.authorization),
    'every call carried a credential',
  );
  t.same(
    calls.map((c) => subOf(c.authorization)).sort(),
    ['alice', 'alice', 'alice', 'bob', 'bob', 'bob'],
    'three calls with alice’s token, three with bob’s',
  );
});

t.test('an upstream 401 gets one freshly exchanged token, then the call goes through', async (t) => {
  const alice = await connect('alice');
  t.teardown(() => alice.close());
  await alice.callTool({ name: 'github__list_repos', arguments: { org: 'warm' } });
  const exchanges = idp.exchanges.length;
  state.refuse = 1;
  const r = await alice.callTool({ name: 'github__list_repos', arguments: { org: 'corp' } });
  t.same(r.content, [{ type: 'text', text: 'corp/payments' }]);
  t.equal(idp.exchanges.length, exchanges + 1, 'exchanged again after the 401');
});
