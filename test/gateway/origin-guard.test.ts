// The agents' listener's Host and Origin checks (DNS-rebinding protection), CORS, and the RFC 9728
// metadata at each virtual server's path: real HTTP requests (node:http, which lets a test set the
// Host header as a rebinding browser would) against a real Airlock and a real upstream.
import { request as httpRequest } from 'node:http';
import Fastify from 'fastify';
import t from 'tap';
import {
  gatewayPlugin,
  originGuardPlugin,
  parseGatewayConfig,
  TEST_PRINCIPAL_HEADER,
} from '../../src/gateway/index.js';
import { createIdentity, identityPlugin } from '../../src/identity/index.js';
import { allowAllEngine } from './allow-all.js';
import { crmUpstream, SUPPORT_PRINCIPAL, startAirlock } from './harness.js';

const engine = await allowAllEngine();
const crm = await crmUpstream();
t.teardown(() => crm.close());

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One HTTP request to `base` + `path` with exactly `headers` (Host included when given). */
function send(base: string, method: string, path: string, headers: Record<string, string>, body?: unknown) {
  const url = new URL(path, base);
  const text = body === undefined ? undefined : JSON.stringify(body);
  return new Promise<Answer>((resolve, reject) => {
    const req = httpRequest(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method,
        headers: { ...headers, ...(text ? { 'content-length': String(Buffer.byteLength(text)) } : {}) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString(),
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(text);
  });
}

const MCP_HEADERS = {
  'content-type': 'application/json',
  accept: 'application/json, text/event-stream',
  [TEST_PRINCIPAL_HEADER]: JSON.stringify(SUPPORT_PRINCIPAL),
};
const INITIALIZE = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } },
};
const LIST = { jsonrpc: '2.0', id: 2, method: 'tools/list' };

t.test('default on loopback: loopback Host and Origin pass, others are 403 before MCP', async (t) => {
  const airlock = await startAirlock(crm.url, { engine });
  t.teardown(() => airlock.close());
  const port = new URL(airlock.base).port;
  for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, 'LOCALHOST', `[::1]:${port}`]) {
    const ok = await send(airlock.base, 'POST', '/mcp/support', { ...MCP_HEADERS, host }, INITIALIZE);
    t.equal(ok.status, 200, `Host ${host} is served`);
  }
  const eventsBefore = airlock.events.length;
  const methodsBefore = crm.methods.length;
  const evil = await send(
    airlock.base,
    'POST',
    '/mcp/support',
    { ...MCP_HEADERS, host: 'evil.example.com', origin: 'http://evil.example.com' },
    LIST,
  );
  t.equal(evil.status, 403);
  t.match(evil.headers['content-type'], /^application\/problem\+json/);
  t.same(JSON.parse(evil.body), {
    type: 'https://airlock.dev/problems/host-not-allowed',
    title: 'Forbidden',
    status: 403,
    detail: 'Host "evil.example.com" is not one this listener answers to (gateway.http.allowed_hosts)',
  });

  const origin = await send(
    airlock.base,
    'POST',
    '/mcp/support',
    { ...MCP_HEADERS, host: `127.0.0.1:${port}`, origin: 'https://evil.example.com' },
    LIST,
  );
  t.equal(origin.status, 403);
  t.match(JSON.parse(origin.body), {
    type: 'https://airlock.dev/problems/origin-not-allowed',
    detail: /Origin "https:\/\/evil.example.com" is not allowed/,
  });
  for (const bad of ['null', 'file://', 'http://localhost:1/path'])
    t.equal(
      (await send(airlock.base, 'POST', '/mcp/support', { ...MCP_HEADERS, origin: bad }, LIST)).status,
      403,
      `Origin ${bad} is refused`,
    );
  t.equal(airlock.events.length, eventsBefore, 'nothing was decided');
  t.equal(crm.methods.length, methodsBefore, 'nothing reached the upstream');

  const local = await send(
    airlock.base,
    'POST',
    '/mcp/support',
    { ...MCP_HEADERS, origin: 'http://localhost:6274' },
    LIST,
  );
  t.equal(local.status, 200, 'a loopback origin (a local inspector) may call');
  t.equal(local.headers['access-control-allow-origin'], 'http://localhost:6274');
  t.match(local.headers['access-control-expose-headers'], /mcp-session-id/);
  t.equal(local.headers.vary, 'Origin');
  const same = await send(
    airlock.base,
    'POST',
    '/mcp/support',
    { ...MCP_HEADERS, host: `127.0.0.1:${port}`, origin: `http://127.0.0.1:${port}` },
    LIST,
  );
  t.equal(same.status, 200, 'same origin');
  const plain = await send(airlock.base, 'POST', '/mcp/support', MCP_HEADERS, LIST);
  t.equal(plain.status, 200, 'no Origin (not a browser)');
  t.equal(plain.headers['access-control-allow-origin'], undefined, 'no CORS headers without Origin');
});

t.test('preflight: answered with the origins, methods and MCP headers', async (t) => {
  const airlock = await startAirlock(crm.url, { engine });
  t.teardown(() => airlock.close());
  const pre = await send(airlock.base, 'OPTIONS', '/mcp/support', {
    origin: 'http://localhost:6274',
    'access-control-request-method': 'POST',
    'access-control-request-headers': 'authorization, content-type, mcp-protocol-version',
  });
  t.equal(pre.status, 204);
  t.equal(pre.headers['access-control-allow-origin'], 'http://localhost:6274');
  t.equal(pre.headers['access-control-allow-methods'], 'GET, POST, DELETE');
  const allowed = String(pre.headers['access-control-allow-headers']).split(', ');
  for (const h of [
    'authorization',
    'content-type',
    'mcp-session-id',
    'mcp-protocol-version',
    'last-event-id',
  ])
    t.ok(allowed.includes(h), `${h} allowed`);
  t.equal(pre.headers['access-control-max-age'], '600');
  t.equal(pre.body, '');
  const refused = await send(airlock.base, 'OPTIONS', '/mcp/support', {
    origin: 'https://evil.example.com',
    'access-control-request-method': 'POST',
  });
  t.equal(refused.status, 403);
  t.equal(refused.headers['access-control-allow-origin'], undefined);
  const bare = await send(airlock.base, 'OPTIONS', '/mcp/support', {});
  t.equal(bare.status, 204);
  t.equal(bare.headers.allow, 'GET, POST, DELETE, OPTIONS');
});

t.test('configured hosts, origins and CORS replace the defaults', async (t) => {
  const airlock = await startAirlock(crm.url, {
    engine,
    gateway: {
      http: {
        allowed_hosts: ['airlock.corp.example', 'localhost:1234'],
        allowed_origins: ['https://inspector.corp.example'],
        cors: { methods: ['POST'], headers: ['x-airlock-model'], max_age_seconds: 60 },
      },
    },
  });
  t.teardown(() => airlock.close());
  const port = new URL(airlock.base).port;
  const at = (host: string, origin?: string) =>
    send(airlock.base, 'POST', '/mcp/support', { ...MCP_HEADERS, host, ...(origin ? { origin } : {}) }, LIST);
  t.equal((await at('airlock.corp.example')).status, 200);
  t.equal((await at('Airlock.Corp.Example:443')).status, 200, 'any port when none is named');
  t.equal((await at('localhost:1234')).status, 200);
  t.equal((await at(`localhost:${port}`)).status, 403, 'only the port named');
  t.equal((await at(`127.0.0.1:${port}`)).status, 403, 'loopback is no longer implied');
  t.equal((await at('airlock.corp.example', 'https://inspector.corp.example')).status, 200);
  t.equal(
    (await at('airlock.corp.example', 'https://inspector.corp.example:443')).status,
    200,
    'default port',
  );
  t.equal((await at('airlock.corp.example', 'http://localhost:6274')).status, 403);
  t.equal((await at('airlock.corp.example', 'https://airlock.corp.example')).status, 200, 'same origin');
  const pre = await send(airlock.base, 'OPTIONS', '/mcp/support', {
    host: 'airlock.corp.example',
    origin: 'https://inspector.corp.example',
    'access-control-request-method': 'POST',
  });
  t.equal(pre.status, 204);
  t.equal(pre.headers['access-control-allow-methods'], 'POST');
  t.match(pre.headers['access-control-allow-headers'], /x-airlock-model/);
  t.equal(pre.headers['access-control-max-age'], '60');
});

t.test('configuration is validated', async (t) => {
  const parse = (http: unknown) => () =>
    parseGatewayConfig({
      upstreams: [{ name: 'crm', transport: 'http', url: crm.url }],
      virtual_servers: [{ name: 'support', upstreams: ['crm'] }],
      http,
    });
  t.doesNotThrow(parse({ allowed_hosts: ['*', 'a.example:8080', '[::1]'], allowed_origins: ['*'] }));
  t.throws(parse({ allowed_hosts: ['http://a.example'] }), { message: /allowed_hosts/ });
  t.throws(parse({ allowed_origins: ['a.example'] }), { message: /allowed_origins/ });
  t.throws(parse({ cors: { methods: ['PUT'] } }), { message: /cors/ });
  t.throws(parse({ cors: { headers: ['bad header'] } }), { message: /cors/ });
});

t.test('RFC 9728 metadata at the virtual server path, with its MCP URL as resource', async (t) => {
  const identity = createIdentity({
    resource: 'http://127.0.0.1/mcp',
    allow_insecure_http: true,
    issuers: [{ issuer: 'https://login.corp.example' }],
    upstreams: { crm: { mode: 'none' } },
  });
  const app = Fastify();
  t.teardown(() => app.close());
  await app.register(originGuardPlugin, { resource: identity.settings.resource });
  await app.register(identityPlugin, { identity });
  await app.register(gatewayPlugin, {
    config: parseGatewayConfig({
      upstreams: [{ name: 'crm', transport: 'http', url: crm.url }],
      virtual_servers: [
        { name: 'support', upstreams: ['crm'] },
        { name: 'devops', upstreams: ['crm'] },
      ],
    }),
    engine,
    audit: { record: async () => ({}) as never },
    identity,
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  const root = await send(base, 'GET', '/.well-known/oauth-protected-resource/mcp', {});
  t.equal(root.status, 200);
  t.equal(JSON.parse(root.body).resource, 'http://127.0.0.1/mcp');
  for (const v of ['support', 'devops']) {
    const r = await send(base, 'GET', `/.well-known/oauth-protected-resource/mcp/${v}`, {
      origin: 'http://localhost:6274',
    });
    t.equal(r.status, 200);
    t.same(JSON.parse(r.body), {
      resource: `http://127.0.0.1/mcp/${v}`,
      authorization_servers: ['https://login.corp.example'],
      bearer_methods_supported: ['header'],
    });
    t.equal(r.headers['access-control-allow-origin'], 'http://localhost:6274', 'readable from a browser');
  }
  t.equal((await send(base, 'GET', '/.well-known/oauth-protected-resource/mcp/nope', {})).status, 404);
});

t.test('probe paths answer whatever the Host; refusals are logged with the value', async (t) => {
  const lines: Record<string, unknown>[] = [];
  const app = Fastify({
    logger: { level: 'info', stream: { write: (line: string) => void lines.push(JSON.parse(line)) } },
  });
  t.teardown(() => app.close());
  await app.register(originGuardPlugin, { anyHostPaths: ['/health/live'] });
  app.get('/health/live', async () => ({ status: 'ok' }));
  app.get('/other', async () => ({ status: 'ok' }));
  await app.listen({ port: 0, host: '127.0.0.1' });
  const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  t.equal((await send(base, 'GET', '/health/live', { host: '10.0.0.7:8080' })).status, 200);
  t.equal(
    (await send(base, 'GET', '/health/live', { host: '10.0.0.7:8080', origin: 'https://evil.example' }))
      .status,
    403,
    'Origin is still checked',
  );
  t.equal((await send(base, 'GET', '/other', { host: '10.0.0.7:8080' })).status, 403);
  const refusals = lines.filter((l) => l.msg === 'request refused: host not allowed');
  t.same(
    refusals.map((l) => [l.host, l.url]),
    [['10.0.0.7:8080', '/other']],
  );
  t.ok(
    lines.some((l) => l.msg === 'request refused: origin not allowed' && l.origin === 'https://evil.example'),
  );
});
