// Session ids for session-revision clients (src/gateway/client-sessions.ts): issued on initialize,
// bound to the caller, accepted by any replica holding the same key, ended by DELETE; clients that
// keep no session are served as before.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import t from 'tap';
import { ClientSessions } from '../../src/gateway/client-sessions.js';
import { TEST_PRINCIPAL_HEADER } from '../../src/gateway/index.js';
import { allowAllEngine } from './allow-all.js';
import { crmUpstream, SUPPORT_PRINCIPAL, startAirlock } from './harness.js';

process.env.AIRLOCK_TEST_SESSION_KEY = 'k'.repeat(32);
const keyed = { client_sessions: { key: { env: 'AIRLOCK_TEST_SESSION_KEY' } } };

const crm = await crmUpstream();
const engine = await allowAllEngine();
const a = await startAirlock(crm.url, { engine, gateway: keyed });
const b = await startAirlock(crm.url, { engine, gateway: keyed });
const unkeyed = await startAirlock(crm.url, { engine });
t.teardown(async () => {
  await Promise.all([a.close(), b.close(), unkeyed.close()]);
  await crm.close();
});

const OTHER = { ...SUPPORT_PRINCIPAL, user: { ...SUPPORT_PRINCIPAL.user, sub: 'mallory' } };

function headers(principal: unknown, session?: string): Record<string, string> {
  return {
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    [TEST_PRINCIPAL_HEADER]: JSON.stringify(principal),
    'mcp-protocol-version': '2025-11-25',
    ...(session ? { 'mcp-session-id': session } : {}),
  };
}

const INITIALIZE = {
  jsonrpc: '2.0',
  id: 0,
  method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
};

async function initialize(base: string, principal: unknown = SUPPORT_PRINCIPAL): Promise<string> {
  const r = await fetch(`${base}/mcp/support`, {
    method: 'POST',
    headers: headers(principal),
    body: JSON.stringify(INITIALIZE),
  });
  await r.text();
  const id = r.headers.get('mcp-session-id');
  if (!id) throw new Error('no session id');
  return id;
}

function listTools(base: string, session: string | undefined, principal: unknown = SUPPORT_PRINCIPAL) {
  return fetch(`${base}/mcp/support`, {
    method: 'POST',
    headers: headers(principal, session),
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} }),
  });
}

t.test('an SDK client gets a session id on initialize and is served with it', async (t) => {
  const transport = new StreamableHTTPClientTransport(new URL(`${a.base}/mcp/support`), {
    requestInit: { headers: { [TEST_PRINCIPAL_HEADER]: JSON.stringify(SUPPORT_PRINCIPAL) } },
  });
  const client = new Client({ name: 'sdk', version: '1' });
  await client.connect(transport);
  t.teardown(() => client.close());
  t.match(transport.sessionId, /^a1\.[0-9a-z]+\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}$/);
  const { tools } = await client.listTools();
  t.ok(
    tools.some((x) => x.name === 'crm__lookup_customer'),
    'requests carrying the id are served',
  );
  await transport.terminateSession();
  t.equal(transport.sessionId, undefined, 'DELETE ended it (the SDK forgets an id it ended)');
});

t.test('an id is good for its caller only, and not when altered', async (t) => {
  const id = await initialize(a.base);
  t.equal((await listTools(a.base, id)).status, 200);
  const stolen = await listTools(a.base, id, OTHER);
  t.equal(stolen.status, 404, 'another user presenting the id is refused');
  t.match(await stolen.json(), { type: 'https://airlock.dev/problems/session-not-found', status: 404 });
  const otherAgent = { ...SUPPORT_PRINCIPAL, agent: { ...SUPPORT_PRINCIPAL.agent, id: 'other-agent' } };
  t.equal((await listTools(a.base, id, otherAgent)).status, 404, 'the same user through another agent too');
  const last = id.at(-1) === 'A' ? 'B' : 'A';
  t.equal((await listTools(a.base, `${id.slice(0, -1)}${last}`)).status, 404, 'an altered MAC');
  const [v, issued, nonce, mac] = id.split('.');
  const later = (Number.parseInt(issued!, 36) + 1).toString(36);
  t.equal((await listTools(a.base, [v, later, nonce, mac].join('.'))).status, 404, 'an altered time');
  t.equal((await listTools(a.base, 'x'.repeat(4096))).status, 404, 'a long header');
  t.equal((await listTools(a.base, undefined)).status, 200, 'a request without an id is still served');
});

t.test('any replica with the same key accepts the id; one with another key does not', async (t) => {
  const id = await initialize(a.base);
  const onB = await listTools(b.base, id);
  t.equal(onB.status, 200, 'replica B serves the id replica A issued');
  t.match(await onB.json(), { result: { tools: [] } });
  t.equal((await listTools(unkeyed.base, id)).status, 404, 'a replica with its own random key refuses it');
  const own = await initialize(unkeyed.base);
  t.equal((await listTools(unkeyed.base, own)).status, 200, 'and accepts its own');
});

t.test('DELETE ends the session; later requests with it answer 404', async (t) => {
  const id = await initialize(a.base);
  const other = await fetch(`${a.base}/mcp/support`, { method: 'DELETE', headers: headers(OTHER, id) });
  t.equal(other.status, 404, 'another caller cannot end it');
  t.equal((await listTools(a.base, id)).status, 200, 'still open');
  const anonymous = await fetch(`${a.base}/mcp/support`, {
    method: 'DELETE',
    headers: { 'mcp-session-id': id },
  });
  t.equal(anonymous.status, 401, 'an unidentified DELETE is refused before anything else');
  const ended = await fetch(`${a.base}/mcp/support`, {
    method: 'DELETE',
    headers: headers(SUPPORT_PRINCIPAL, id),
  });
  t.equal(ended.status, 204);
  t.equal((await listTools(a.base, id)).status, 404, 'ended');
  const get = await fetch(`${a.base}/mcp/support`, {
    headers: { ...headers(SUPPORT_PRINCIPAL, id), accept: 'text/event-stream' },
  });
  t.equal(get.status, 404, 'no notification stream on an ended session');
  const again = await fetch(`${a.base}/mcp/support`, {
    method: 'DELETE',
    headers: headers(SUPPORT_PRINCIPAL, id),
  });
  t.equal(again.status, 404, 'ending it twice');
  const missing = await fetch(`${a.base}/mcp/support`, {
    method: 'DELETE',
    headers: headers(SUPPORT_PRINCIPAL),
  });
  t.equal(missing.status, 400, 'DELETE without an id');
  t.match(await missing.json(), { type: 'https://airlock.dev/problems/session-id-missing' });
});

t.test('several notification streams and concurrent requests on one session', async (t) => {
  const id = await initialize(a.base);
  const streams = await Promise.all(
    [0, 1].map(() =>
      fetch(`${a.base}/mcp/support`, {
        headers: { ...headers(SUPPORT_PRINCIPAL, id), accept: 'text/event-stream' },
      }),
    ),
  );
  for (const s of streams) {
    t.equal(s.status, 200);
    t.match(s.headers.get('content-type'), /^text\/event-stream/);
  }
  const lists = await Promise.all([0, 1, 2].map(() => listTools(a.base, id)));
  t.same(
    lists.map((r) => r.status),
    [200, 200, 200],
  );
  for (const s of streams) await s.body?.cancel();
});

t.test('ids expire after ttl_seconds; an issue time in the future is refused', async (t) => {
  let now = Date.UTC(2026, 0, 1);
  const sessions = new ClientSessions('key', 3600, () => now);
  const caller = { user: SUPPORT_PRINCIPAL.user, agent: SUPPORT_PRINCIPAL.agent };
  const id = sessions.issue(caller, 'support');
  t.ok(sessions.valid(id, caller, 'support'));
  t.notOk(sessions.valid(id, caller, 'other'), 'bound to the virtual server');
  now += 3599_000;
  t.ok(sessions.valid(id, caller, 'support'), 'within the ttl');
  now += 1000;
  t.notOk(sessions.valid(id, caller, 'support'), 'expired');
  const future = new ClientSessions('key', 3600, () => now + 120_000).issue(caller, 'support');
  t.notOk(sessions.valid(future, caller, 'support'), 'issued two minutes ahead of this clock');
  const issuer = { user: { ...caller.user, iss: 'https://a.example' }, agent: caller.agent };
  const fromA = sessions.issue(issuer, 'support');
  t.notOk(
    sessions.valid(fromA, { ...issuer, user: { ...issuer.user, iss: 'https://b.example' } }, 'support'),
    'the same sub from another issuer is another caller',
  );
});
