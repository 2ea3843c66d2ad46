// `airlock serve` with a gateway: the whole product in one process — identity from a real OpenID
// provider, the reference policies built at start-up, an HTTP upstream, the approver API, and a
// destructive call that runs once after a second user approves it.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import t from 'tap';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { CLIENTS, startIdp } from '../../scripts/demo/idp.js';
import { startServer } from '../../src/cli/commands/serve.js';
import { main } from '../../src/cli/main.js';
import { ConfigError, validateServeConfig } from '../../src/cli/serve-config.js';
import { APPROVAL_META_KEY, GatewayErrorCode } from '../../src/gateway/index.js';
import { githubUpstream, rpcError, STDIO_UPSTREAM } from '../gateway/harness.js';
import { freshPgliteDir } from '../helpers/pglite-dir.js';

const RESOURCE = 'http://127.0.0.1/mcp';
const dir = mkdtempSync(join(tmpdir(), 'airlock-serve-gateway-'));
const idp = await startIdp();
const github = await githubUpstream();
process.env.AIRLOCK_TEST_GATEWAY_SECRET = CLIENTS.gateway.secret;
process.env.AIRLOCK_TEST_AGENT_SECRET = CLIENTS.agent.secret;

const identity = {
  resource: RESOURCE,
  allow_insecure_http: true,
  issuers: [
    {
      issuer: idp.issuer,
      exchange_client: {
        client_id: CLIENTS.gateway.id,
        client_secret: { env: 'AIRLOCK_TEST_GATEWAY_SECRET' },
      },
    },
  ],
  agents: { [CLIENTS.agent.id]: { client_secret: { env: 'AIRLOCK_TEST_AGENT_SECRET' } } },
  upstreams: {
    github: {
      mode: 'on_behalf_of' as const,
      audience: 'https://api.github.example',
      scopes: ['repo:read', 'repo:write', 'issues:write', 'repo:admin'],
    },
  },
};
const gateway = {
  upstreams: [{ name: 'github', transport: 'http' as const, url: github.url }],
  virtual_servers: [{ name: 'devops', upstreams: ['github'] }],
};
const server = await startServer(
  validateServeConfig(
    {
      addr: '127.0.0.1:0',
      log_level: 'silent',
      bundle: { source: join(dir, 'airlock.tar.gz'), policies: 'policies' },
      database: { data_dir: await freshPgliteDir(join(dir, 'data')) },
      identity,
      gateway: { ...gateway, addr: '127.0.0.1:0' },
    },
    'test',
  ),
);
// Two listeners: the agents' (MCP, approvals) and the API (decisions, data).
const agentsUrl = server.gatewayUrl!;
t.teardown(async () => {
  await server.close();
  await github.close();
  await idp.close();
  rmSync(dir, { recursive: true, force: true });
});

const token = (sub: string, groups: string[]) =>
  idp.userToken({ sub, audience: RESOURCE, extra: { groups } });
const alice = await token('alice', ['eng']);
const bob = await token('bob', ['security']);

const agent = new Client({ name: 'devops-agent', version: '1.0.0' });
await agent.connect(
  new StreamableHTTPClientTransport(new URL(`${agentsUrl}/mcp/devops`), {
    requestInit: {
      headers: { authorization: `Bearer ${alice}`, 'x-airlock-model': 'anthropic/claude-sonnet-4' },
    },
  }),
);
t.teardown(() => agent.close());

const approvals = (path: string, bearer: string, method = 'GET') =>
  fetch(`${agentsUrl}/v1/approvals${path}`, {
    method,
    headers: {
      authorization: `Bearer ${bearer}`,
      ...(method === 'POST' ? { 'content-type': 'application/json' } : {}),
    },
    ...(method === 'POST' ? { body: '{}' } : {}),
  });

t.test('a destructive call waits for a second user, then runs once', async (t) => {
  const deletes = () => github.seen.filter((s) => s.method === 'tools/call').length;
  const call = () => agent.callTool({ name: 'github__delete_repo', arguments: { repo: 'corp/web' } });
  const pending = await rpcError(call());
  t.equal(pending.code, GatewayErrorCode.ApprovalPending);
  const id = (pending.data as { approval_id: string }).approval_id;
  t.equal(deletes(), 0, 'nothing reached the upstream');

  const listed = (await (await approvals('?status=pending', bob)).json()) as {
    approvals: { id: string; arguments: unknown }[];
  };
  t.same(
    listed.approvals.find((a) => a.id === id)?.arguments,
    { repo: 'corp/web' },
    'approvers see exactly what they approve',
  );
  t.equal((await approvals('', 'not-a-token')).status, 401);

  const self = await approvals(`/${id}/approve`, alice, 'POST');
  t.equal(self.status, 403);
  t.match(await self.json(), { detail: /requester may not approve their own call/ });

  const ok = await approvals(`/${id}/approve`, bob, 'POST');
  t.equal(ok.status, 200);
  t.match(await ok.json(), { id, status: 'approved' });

  const ran = await call();
  t.same(ran.content, [{ type: 'text', text: 'deleted corp/web' }]);
  t.equal(deletes(), 1);
  const replay = await rpcError(
    agent.callTool({
      name: 'github__delete_repo',
      arguments: { repo: 'corp/web' },
      _meta: { [APPROVAL_META_KEY]: id },
    }),
  );
  t.equal(replay.code, GatewayErrorCode.ApprovalRefused);
  t.equal((replay.data as { reason: string }).reason, 'replayed');
  t.equal(deletes(), 1, 'ran exactly once');
});

t.test("instant revocation: an admin's live data write, and alice's very next call is denied", async (t) => {
  const admin = await token('carol', ['admins']);
  const before = await agent.callTool({ name: 'github__list_repos', arguments: {} });
  t.same(before.content, [{ type: 'text', text: 'corp/payments, corp/web' }]);
  const write = await fetch(`${server.url}/v1/data/revocations/users/alice`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
    body: 'true',
  });
  t.equal(write.status, 204, 'an identity-verified admin may write live data');
  t.teardown(() =>
    fetch(`${server.url}/v1/data/revocations/users/alice`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${admin}` },
    }),
  );
  const denied = await rpcError(agent.listTools());
  t.equal(denied.code, GatewayErrorCode.Denied);
  t.match(denied.message, /alice/);
  const notAdmin = await fetch(`${server.url}/v1/data/revocations/users/bob`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${alice}`, 'content-type': 'application/json' },
    body: 'true',
  });
  // The API authorization policy (airlock/system/authz) refuses a caller outside admins and writers.
  t.equal(notAdmin.status, 403);
  t.match(await notAdmin.json(), {
    code: 'unauthorized',
    message: /rejected by the API authorization policy/,
  });
  const security = await fetch(`${server.url}/v1/data/overrides/x`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${bob}`, 'content-type': 'application/json' },
    body: 'true',
  });
  // A data writer passes authz; the admin policy (airlock/admin) then refuses a root it may not write.
  t.equal(security.status, 401);
  t.match(await security.json(), { code: 'unauthorized', message: /rejected by administrative policy/ });
});

t.test("the agents' listener and the API listener are apart", async (t) => {
  t.not(agentsUrl, server.url);
  const admin = await token('carol', ['admins']);
  const onAgents = await fetch(`${agentsUrl}/v1/data`, { headers: { authorization: `Bearer ${admin}` } });
  t.equal(onAgents.status, 404, 'no decision or Data API where agents connect');
  const mcpOnApi = await fetch(`${server.url}/mcp/devops`, { headers: { authorization: `Bearer ${alice}` } });
  t.equal(mcpOnApi.status, 403, 'an agent token on the API listener gets nothing (authz refuses MCP paths)');
});

t.test('a gateway needs identity, and every HTTP upstream a credential mode', async (t) => {
  t.throws(() => validateServeConfig({ gateway }, 'airlock.yaml'), {
    name: 'ConfigError',
    message: /gateway needs an identity section/,
  });
  t.throws(
    () =>
      validateServeConfig(
        { gateway: { ...gateway, virtual_servers: [{ name: 'x', upstreams: ['nope'] }] }, identity },
        'airlock.yaml',
      ),
    { message: /airlock.yaml: gateway: .*names unknown upstream nope/ },
  );
  await t.rejects(
    startServer(
      validateServeConfig(
        {
          addr: '127.0.0.1:0',
          log_level: 'silent',
          bundle: { source: join(dir, 'airlock.tar.gz') },
          database: { data_dir: join(dir, 'data2') },
          identity: { ...identity, upstreams: {} },
          gateway,
        },
        'test',
      ),
    ),
    new ConfigError(
      'identity.upstreams has no credential mode for github: say on_behalf_of, static or none for each HTTP upstream',
    ),
  );
});

t.test('the configuration example in docs/gateway.md is valid', async (t) => {
  const doc = readFileSync(fileURLToPath(new URL('../../docs/gateway.md', import.meta.url)), 'utf8');
  const example = /```yaml\n([\s\S]*?)```/.exec(doc)?.[1];
  t.ok(example, 'the page has a YAML example');
  const config = validateServeConfig(parseYaml(example!), 'docs/gateway.md');
  t.same(
    config.gateway?.virtual_servers.map((v) => [v.name, v.tool_names ?? 'prefixed']),
    [
      ['devops', 'prefixed'],
      ['people', 'bare'],
    ],
  );
  t.same(config.gateway?.http?.allowed_hosts, ['airlock.corp.example'], 'the Host check is configured');
  t.ok(config.identity?.upstreams?.github, 'the HTTP upstream has a credential mode');
});

t.test('`airlock serve` names a configuration problem and exits 2', async (t) => {
  const file = join(dir, 'no-secret.yaml');
  writeFileSync(
    file,
    stringifyYaml({
      log_level: 'silent',
      bundle: { source: join(dir, 'airlock.tar.gz') },
      database: { data_dir: join(dir, 'data3') },
      identity: {
        ...identity,
        issuers: [
          {
            issuer: idp.issuer,
            exchange_client: { client_id: 'x', client_secret: { env: 'AIRLOCK_TEST_UNSET_SECRET' } },
          },
        ],
      },
      gateway,
    }),
  );
  delete process.env.AIRLOCK_TEST_UNSET_SECRET;
  const err: string[] = [];
  const code = await main(['serve', '-c', file, '--addr', '127.0.0.1:0'], {
    out: () => {},
    err: (text) => void err.push(text),
  });
  t.equal(code, 2);
  t.match(err.join(''), /^airlock serve: environment variable AIRLOCK_TEST_UNSET_SECRET is not set or empty/);
});

t.test('`airlock serve` refuses to start when bare names collide, naming both upstreams', async (t) => {
  const file = join(dir, 'collision.yaml');
  const stdio = (name: string) => ({
    name,
    transport: 'stdio',
    command: process.execPath,
    args: [STDIO_UPSTREAM],
  });
  writeFileSync(
    file,
    stringifyYaml({
      log_level: 'silent',
      bundle: { source: join(dir, 'airlock.tar.gz') },
      database: { data_dir: join(dir, 'data4') },
      identity,
      gateway: {
        addr: '127.0.0.1:0',
        upstreams: [stdio('left'), stdio('right')],
        virtual_servers: [{ name: 'both', upstreams: ['left', 'right'], tool_names: 'bare' }],
      },
    }),
  );
  const err: string[] = [];
  const code = await main(['serve', '-c', file, '--addr', '127.0.0.1:0'], {
    out: () => {},
    err: (text) => void err.push(text),
  });
  t.equal(code, 2);
  t.match(
    err.join(''),
    /^airlock serve: gateway: virtual server both: tool name \S+ is offered by upstream left \(\S+\) and by upstream right/,
  );
});

t.test("the agents' listener checks Host and serves per-virtual RFC 9728 metadata", async (t) => {
  const url = new URL(agentsUrl);
  const get = (path: string, headers: Record<string, string>) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpRequest({ host: url.hostname, port: url.port, path, headers }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.end();
    });
  const meta = await get('/.well-known/oauth-protected-resource/mcp/devops', {});
  t.equal(meta.status, 200);
  t.equal(JSON.parse(meta.body).resource, 'http://127.0.0.1/mcp/devops');
  const rebound = await get('/.well-known/oauth-protected-resource/mcp/devops', { host: 'evil.example.com' });
  t.equal(rebound.status, 403);
  t.match(JSON.parse(rebound.body).type, /host-not-allowed$/);
  t.equal(
    (await get('/health/live', { host: '10.1.2.3:8080' })).status,
    200,
    'probes answer whatever the Host',
  );
});
