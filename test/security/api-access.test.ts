// The decision API is not open to whoever reaches a port (finding "the decision API is open on the
// gateway's listener"). Real `airlock serve` processes with the gateway configured, the reference
// policies (with airlock/system/authz), a real OpenID provider, real PGlite and — when DATABASE_URL is
// set — a fresh database on the real Postgres server.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import pino from 'pino';
import t from 'tap';
import { CLIENTS, startIdp } from '../../scripts/demo/idp.js';
import { buildDevBundle } from '../../src/cli/commands/serve.js';
import { bundleFromFiles, filesFromTarball } from '../../src/engine/index.js';
import { githubUpstream } from '../gateway/harness.js';
import { freshPgliteDir } from '../helpers/pglite-dir.js';
import { type AirlockProcess, runAirlock, startAirlockProcess } from './airlock-process.js';

// Real processes build and start slowly on a busy 2-core machine: this file's own bound.
t.setTimeout(900_000);

const RESOURCE = 'http://127.0.0.1/mcp';
const PROXY_TOKEN = `proxy-${randomBytes(12).toString('hex')}`;
const ADMIN_TOKEN = `admin-${randomBytes(12).toString('hex')}`;
const GARBAGE_TOKEN = `garbage-${randomBytes(12).toString('hex')}`;

const dir = mkdtempSync(join(tmpdir(), 'airlock-api-access-'));
const bundle = join(dir, 'airlock.tar.gz');
// The bundle `airlock serve` builds from policies/ when none is given (in-process: built once per file).
await buildDevBundle('policies', bundle, pino({ level: 'silent' }));
const files = await filesFromTarball(readFileSync(bundle));
t.ok(
  (await bundleFromFiles(files)).manifest.wasm?.some((w) => w.entrypoint === 'airlock/system/authz'),
  "serve's reference bundle has the API authorization entrypoint",
);

const idp = await startIdp();
const github = await githubUpstream();
t.teardown(async () => {
  await github.close();
  await idp.close();
  rmSync(dir, { recursive: true, force: true });
});

const env = {
  // The configuration names the database: DATABASE_URL would override it.
  DATABASE_URL: '',
  SEC_GATEWAY_SECRET: CLIENTS.gateway.secret,
  SEC_AGENT_SECRET: CLIENTS.agent.secret,
  SEC_PROXY_TOKEN: PROXY_TOKEN,
  SEC_ADMIN_TOKEN: ADMIN_TOKEN,
};

const config = (database: Record<string, string>) => ({
  addr: '127.0.0.1:0',
  bundle: { source: bundle },
  database,
  api: {
    clients: [
      { sub: 'edge-proxy', groups: ['proxies'], env: 'SEC_PROXY_TOKEN' },
      { sub: 'root', groups: ['admins'], secret: { env: 'SEC_ADMIN_TOKEN' } },
    ],
  },
  identity: {
    resource: RESOURCE,
    allow_insecure_http: true,
    issuers: [
      {
        issuer: idp.issuer,
        exchange_client: { client_id: CLIENTS.gateway.id, client_secret: { env: 'SEC_GATEWAY_SECRET' } },
      },
    ],
    agents: { [CLIENTS.agent.id]: { client_secret: { env: 'SEC_AGENT_SECRET' } } },
    upstreams: {
      github: { mode: 'on_behalf_of', audience: 'https://api.github.example', scopes: ['repo:read'] },
    },
  },
  gateway: {
    addr: '127.0.0.1:0',
    upstreams: [{ name: 'github', transport: 'http', url: github.url }],
    virtual_servers: [{ name: 'devops', upstreams: ['github'] }],
  },
});

const decisionInput = {
  input: {
    phase: 'request',
    user: { sub: 'bob', groups: ['eng'] },
    agent: { id: 'devops-agent' },
    server: { name: 'github', virtual: 'devops' },
    tool: { name: 'list_repos' },
    arguments: {},
  },
};

const post = (url: string, body: unknown, token?: string) =>
  fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
const get = (url: string, token?: string) =>
  fetch(url, { headers: token ? { authorization: `Bearer ${token}` } : {} });

interface Backend {
  name: string;
  database: Record<string, string>;
  /** Database flags for `airlock audit query`. */
  flags: string[];
  drop(): Promise<void>;
}

async function postgresBackend(): Promise<Backend | string> {
  const url = process.env.DATABASE_URL;
  if (!url) return 'DATABASE_URL is not set';
  const admin = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  admin.on('error', () => {});
  try {
    await admin.connect();
  } catch (err) {
    return `Postgres is unreachable (${(err as Error).message})`;
  }
  const name = `airlock_sec_api_${randomBytes(5).toString('hex')}`;
  await admin.query(`CREATE DATABASE ${name}`);
  const u = new URL(url);
  u.pathname = `/${name}`;
  return {
    name: 'postgres',
    database: { url: u.toString() },
    flags: ['--database-url', u.toString()],
    async drop() {
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
    },
  };
}

const dataDir = await freshPgliteDir(join(dir, 'data'));
const backends: (Backend | string)[] = [
  {
    name: 'pglite',
    database: { data_dir: dataDir },
    flags: ['--data-dir', dataDir],
    async drop() {},
  },
  await postgresBackend(),
];

for (const backend of backends) {
  if (typeof backend === 'string') {
    t.comment(`NOTICE: api-access on Postgres skipped: ${backend}`);
    continue;
  }
  t.test(`API access control (${backend.name})`, async (t) => {
    const airlock: AirlockProcess = await startAirlockProcess({
      config: config(backend.database),
      env,
      timeoutMs: 900_000,
    });
    let stopped = false;
    t.teardown(async () => {
      if (!stopped) await airlock.stop();
      await backend.drop();
    });
    const api = airlock.url;
    const agents = String(airlock.listening.gateway_address);
    t.match(agents, /^http:\/\/127\.0\.0\.1:\d+$/, 'the agents have a listener of their own');
    t.not(agents, api, 'apart from the API listener');
    const decisionIds: string[] = [];

    t.test('anonymous callers are refused on the API listener (401)', async (t) => {
      const tree = await get(`${api}/v1/data`);
      t.equal(tree.status, 401, 'GET /v1/data without a credential');
      t.equal(tree.headers.get('www-authenticate'), 'Bearer realm="airlock"');
      const body = (await tree.json()) as Record<string, unknown>;
      t.same(Object.keys(body).sort(), ['code', 'message'], 'an OPA-shaped error, no data');
      t.equal(body.code, 'unauthorized');
      const forged = await post(`${api}/v1/data/airlock/decision`, decisionInput);
      t.equal(forged.status, 401, 'POST /v1/data/airlock/decision without a credential');
      const write = await fetch(`${api}/v1/data/revocations/users/alice`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      });
      t.equal(write.status, 401, 'PUT /v1/data/… without a credential');
      const native = await post(`${api}/v1/decisions`, decisionInput.input);
      t.equal(native.status, 401, 'POST /v1/decisions without a credential');
      t.equal(native.headers.get('content-type'), 'application/problem+json; charset=utf-8');
      const metrics = await get(`${api}/metrics`);
      t.equal(metrics.status, 401, '/metrics without a credential');
      const bad = await get(`${api}/v1/data`, GARBAGE_TOKEN);
      t.equal(bad.status, 401, 'an unknown credential');
      t.equal(bad.headers.get('www-authenticate'), 'Bearer realm="airlock", error="invalid_token"');
      t.equal((await get(`${api}/health`)).status, 200, 'health stays open');
    });

    t.test("the agents' listener does not serve the decision API (404)", async (t) => {
      for (const [method, path] of [
        ['GET', '/v1/data'],
        ['POST', '/v1/data/airlock/decision'],
        ['POST', '/v1/decisions'],
        ['POST', '/access/v1/evaluation'],
        ['GET', '/metrics'],
      ] as const) {
        const r = await fetch(`${agents}${path}`, {
          method,
          headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_TOKEN}` },
          ...(method === 'POST' ? { body: JSON.stringify(decisionInput) } : {}),
        });
        t.equal(r.status, 404, `${method} ${path} on the agents' listener, even with an admin credential`);
      }
      t.equal((await get(`${agents}/health`)).status, 200, 'health is on the agents’ listener too');
      const mcp = await post(`${agents}/mcp/devops`, { jsonrpc: '2.0', id: 1, method: 'tools/list' });
      t.equal(mcp.status, 401, 'MCP is there (and wants a token)');
      t.equal((await get(`${api}/mcp/devops`)).status, 401, 'the API listener answers no one anonymously');
      t.equal((await get(`${api}/mcp/devops`, ADMIN_TOKEN)).status, 404, 'and carries no MCP route');
    });

    t.test('a proxy credential asks decisions; the claimed user stays the claimed user', async (t) => {
      const r = await post(`${api}/v1/data/airlock/decision`, decisionInput, PROXY_TOKEN);
      t.equal(r.status, 200);
      const body = (await r.json()) as { decision_id: string; result: { effect: string } };
      t.type(body.decision_id, 'string');
      t.type(body.result.effect, 'string', 'a decision object');
      decisionIds.push(body.decision_id);
    });

    t.test('a proxy may not read the data tree (403); an admin may', async (t) => {
      const r = await get(`${api}/v1/data`, PROXY_TOKEN);
      t.equal(r.status, 403);
      const body = (await r.json()) as Record<string, unknown>;
      t.same(body, { code: 'unauthorized', message: 'request rejected by the API authorization policy' });
      t.equal((await get(`${api}/v1/data/agents`, PROXY_TOKEN)).status, 403, 'nor any other data path');
      t.equal((await get(`${api}/metrics`, PROXY_TOKEN)).status, 403, 'nor metrics');
      const admin = await get(`${api}/v1/data`, ADMIN_TOKEN);
      t.equal(admin.status, 200);
      const tree = (await admin.json()) as { result: { agents: Record<string, unknown> } };
      t.ok(tree.result.agents['devops-agent'], 'the admin reads the data tree');
    });

    t.test('bearer tokens from the OpenID provider authenticate', async (t) => {
      const gw = await idp.userToken({
        sub: 'gateway-svc',
        audience: RESOURCE,
        extra: { groups: ['gateways'] },
      });
      // The native API validates its input: the reference example, claimed for bob.
      const native = JSON.parse(readFileSync('test/fixtures/decision-input.json', 'utf8'));
      native.user.sub = 'bob';
      const r = await post(`${api}/v1/decisions`, native, gw);
      t.equal(r.status, 200, 'a verified token of group gateways asks a decision');
      const body = (await r.json()) as { decision_id: string };
      decisionIds.push(body.decision_id);
      const user = await idp.userToken({ sub: 'alice', audience: RESOURCE, extra: { groups: ['eng'] } });
      t.equal(
        (await post(`${api}/v1/data/airlock/decision`, decisionInput, user)).status,
        403,
        'a verified user without a decision group is refused by the authz policy',
      );
      const otherAudience = await idp.userToken({
        sub: 'gateway-svc',
        audience: 'https://elsewhere.example',
        extra: { groups: ['gateways'] },
      });
      t.equal((await post(`${api}/v1/decisions`, decisionInput.input, otherAudience)).status, 401);
    });

    t.test(
      'authentication failures are counted, logged rate-limited, never with the credential',
      async (t) => {
        for (let i = 0; i < 20; i++) t.equal((await get(`${api}/v1/data`, GARBAGE_TOKEN)).status, 401);
        const metrics = await (await get(`${api}/metrics`, ADMIN_TOKEN)).text();
        const invalid = /airlock_api_authentication_failures_total\{reason="invalid"\} (\d+)/.exec(metrics);
        t.ok(invalid && Number(invalid[1]) >= 21, 'every invalid credential counted');
        t.match(metrics, /airlock_api_authentication_failures_total\{reason="missing"\} [1-9]/);
        t.match(metrics, /airlock_api_authorization_denials_total [1-9]/);
        const lines = airlock
          .logs()
          .filter((l) => l.msg === 'API request refused: authentication failed' && l.reason === 'invalid');
        t.ok(lines.length >= 1 && lines.length < 21, `fewer log lines (${lines.length}) than failures (21)`);
        for (const secret of [GARBAGE_TOKEN, PROXY_TOKEN, ADMIN_TOKEN])
          t.notOk(airlock.output().includes(secret), 'no credential in the logs');
      },
    );

    t.test('the audit trail records the authenticated caller apart from the claimed user', async (t) => {
      t.equal(decisionIds.length, 2);
      if (backend.name === 'pglite') {
        // The embedded database has one owner at a time: read it once serve is gone.
        await airlock.stop();
        stopped = true;
      }
      const [proxyDecision, gatewayDecision] = decisionIds as [string, string];
      const q = await runAirlock(
        ['audit', 'query', ...backend.flags, '--user', 'bob', '--format', 'json'],
        { DATABASE_URL: '' },
        300_000,
      );
      t.equal(q.code, 0, q.stderr);
      const rows = (JSON.parse(q.stdout) as { events: Record<string, unknown>[] }).events;
      const proxyRow = rows.find((e) => e.decision_id === proxyDecision);
      t.match(proxyRow, { user_sub: 'bob', requested_by: 'edge-proxy', kind: 'decision' });
      t.match(proxyRow?.details, { api: 'data', requested_via: 'client' });
      t.equal(rows.length, 2, '--user bob lists both decisions claimed for bob, whoever asked');
      const byCaller = await runAirlock(
        ['audit', 'query', ...backend.flags, '--requested-by', 'gateway-svc', '--format', 'json'],
        { DATABASE_URL: '' },
        300_000,
      );
      t.equal(byCaller.code, 0, byCaller.stderr);
      const mine = (JSON.parse(byCaller.stdout) as { events: Record<string, unknown>[] }).events;
      t.same(
        mine.map((e) => e.decision_id),
        [gatewayDecision],
        '--requested-by lists what that caller asked',
      );
      t.match(mine[0], { user_sub: 'bob', requested_by: 'gateway-svc' });
      const table = await runAirlock(
        ['audit', 'query', ...backend.flags, '--user', 'bob'],
        { DATABASE_URL: '' },
        300_000,
      );
      t.match(table.stdout, /REQUESTED_BY/, 'the table shows who asked');
      t.match(table.stdout, /bob\s+edge-proxy/, 'next to the claimed user');
    });
  });
}

t.test('a non-loopback API without authentication is a start-up error naming the setting', async (t) => {
  const r = await runAirlock(
    ['serve', '--addr', '0.0.0.0:0', '--bundle', bundle, '--data-dir', join(dir, 'open')],
    { AIRLOCK_ADMIN_TOKEN: '', DATABASE_URL: '' },
    300_000,
  );
  t.equal(r.code, 2);
  t.match(r.stderr, /addr 0\.0\.0\.0:0 is not a loopback address and the API has no authentication/);
  t.match(r.stderr, /api\.allow_unauthenticated/);
});
