// Protocol revision 2026-07-28 at Airlock's front: the SDK's v2 client pinned to it lists and calls
// through Airlock (to the harness's 2025-11-25 upstreams, v1 SDK servers), every call decided and
// audited; `server/discover`; the Mcp-Method/Mcp-Name headers held to the body; the session
// revisions answered as before.
import {
  Client as V2Client,
  StreamableHTTPClientTransport as V2Transport,
} from '@modelcontextprotocol/client';
import t from 'tap';
import { buildBundle, Engine } from '../../../src/engine/index.js';
import { GatewayErrorCode, TEST_PRINCIPAL_HEADER } from '../../../src/gateway/index.js';
import {
  connectClient,
  crmUpstream,
  referenceEngine,
  rpcError,
  SUPPORT_PRINCIPAL,
  startAirlock,
} from '../harness.js';

const engine = await referenceEngine();
const crm = await crmUpstream();
const airlock = await startAirlock(crm.url, { engine });
const url = `${airlock.base}/mcp/support`;
t.teardown(async () => {
  await airlock.close();
  await crm.close();
});

const REVISION = '2026-07-28';
const envelope = {
  'io.modelcontextprotocol/protocolVersion': REVISION,
  'io.modelcontextprotocol/clientInfo': { name: 'raw-agent', version: '1.0.0' },
  'io.modelcontextprotocol/clientCapabilities': {},
};

/** One raw POST: its status and JSON body. */
async function post(body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      [TEST_PRINCIPAL_HEADER]: JSON.stringify(SUPPORT_PRINCIPAL),
      ...headers,
    },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

/** A 2026-07-28 request with its envelope and the headers a conforming client sends. */
function modern(
  id: number,
  method: string,
  params: Record<string, unknown> = {},
  headers: Record<string, string> = {},
) {
  const name =
    typeof params.name === 'string' ? params.name : typeof params.uri === 'string' ? params.uri : undefined;
  return post(
    {
      jsonrpc: '2.0',
      id,
      method,
      params: { ...params, _meta: { ...envelope, ...((params._meta as object) ?? {}) } },
    },
    {
      'mcp-protocol-version': REVISION,
      'mcp-method': method,
      ...(name !== undefined ? { 'mcp-name': name } : {}),
      ...headers,
    },
  );
}

async function v2Client() {
  const client = new V2Client(
    { name: 'v2-agent', version: '2.4.0' },
    { versionNegotiation: { mode: { pin: REVISION } } },
  );
  await client.connect(
    new V2Transport(new URL(url), {
      requestInit: { headers: { [TEST_PRINCIPAL_HEADER]: JSON.stringify(SUPPORT_PRINCIPAL) } },
    }),
  );
  return client;
}

t.test('an SDK v2 client pinned to 2026-07-28 lists and calls tools through Airlock', async (t) => {
  const client = await v2Client();
  t.teardown(() => client.close());
  t.equal(client.getProtocolEra(), 'modern');
  t.equal(client.getNegotiatedProtocolVersion(), REVISION);
  const { tools } = await client.listTools();
  t.same(tools.map((x) => x.name).sort(), [
    'crm__lookup_customer',
    'crm__update_customer',
    'zendesk__close_ticket',
    'zendesk__enable_macros',
    'zendesk__get_ticket',
  ]);
  t.same(
    airlock.events.at(-1) && [airlock.events.at(-1)?.kind, airlock.events.at(-1)?.phase],
    ['decision', 'response'],
    'the list was decided',
  );
  const before = crm.calls.length;
  const r = await client.callTool({ name: 'crm__lookup_customer', arguments: { id: 'C-7' } });
  t.match(JSON.stringify(r.content), /customer C-7/);
  t.equal(crm.calls.length, before + 1, 'forwarded to the 2025-11-25 upstream');
  t.ok(crm.methods.includes('initialize'), 'the upstream was spoken to with the initialize handshake');
  t.same(
    airlock.events.slice(-2).map((e) => [e.kind, e.target?.name]),
    [
      ['decision', 'lookup_customer'],
      ['call_result', 'lookup_customer'],
    ],
    'decided and audited like any call',
  );
  const denied = await client
    .callTool({ name: 'crm__update_customer', arguments: { id: 'C-1', note: '4111 1111 1111 1111' } })
    .then(
      () => undefined,
      (err: { code?: number }) => err,
    );
  t.equal(denied?.code, GatewayErrorCode.Denied, 'policy denials reach the v2 client as JSON-RPC errors');
  t.equal(airlock.events.at(-1)?.effect, 'deny');
});

t.test('server/discover names the revisions served and what Airlock offers', async (t) => {
  const r = await modern(1, 'server/discover');
  t.equal(r.status, 200);
  t.same(r.body.result.supportedVersions, [REVISION]);
  t.same(r.body.result.capabilities, {
    tools: { listChanged: true },
    resources: { listChanged: true, subscribe: true },
    prompts: { listChanged: true },
    completions: {},
  });
  t.equal(r.body.result.resultType, 'complete');
  t.same(r.body.result._meta['io.modelcontextprotocol/serverInfo'], {
    name: 'airlock-support',
    version: '0.1.0',
  });
});

t.test('lists carry cache hints: private to the caller, never reused', async (t) => {
  for (const method of ['tools/list', 'resources/list', 'resources/templates/list', 'prompts/list']) {
    const r = await modern(2, method);
    t.equal(r.status, 200, method);
    t.equal(r.body.result.ttlMs, 0, method);
    t.equal(r.body.result.cacheScope, 'private', method);
  }
  const read = await modern(3, 'resources/read', { uri: 'kb://articles/refunds' });
  t.equal(read.body.result.cacheScope, 'private');
  const call = await modern(4, 'tools/call', { name: 'zendesk__get_ticket', arguments: { id: 'T-2' } });
  t.equal(call.body.result.resultType, 'complete');
  t.notOk('ttlMs' in call.body.result, 'call results are not cacheable');
});

t.test('Mcp-Method or Mcp-Name disagreeing with the body is refused 400, nothing runs', async (t) => {
  const calls = crm.calls.length;
  const events = airlock.events.length;
  const method = await modern(
    5,
    'tools/call',
    { name: 'crm__lookup_customer', arguments: { id: 'C-1' } },
    { 'mcp-method': 'tools/list' },
  );
  t.equal(method.status, 400);
  t.equal(method.body.error.code, -32020);
  t.same(method.body.error.data.mismatch, { header: 'Mcp-Method', sent: 'tools/list', body: 'tools/call' });
  const name = await modern(
    6,
    'tools/call',
    { name: 'crm__delete_customer', arguments: { id: 'C-1' } },
    { 'mcp-name': 'crm__lookup_customer' },
  );
  t.equal(name.status, 400);
  t.equal(name.body.error.code, -32020);
  t.equal(name.body.error.data.mismatch.header, 'Mcp-Name');
  const absent = await post(
    {
      jsonrpc: '2.0',
      id: 7,
      method: 'tools/call',
      params: { name: 'crm__lookup_customer', arguments: { id: 'C-1' }, _meta: envelope },
    },
    { 'mcp-protocol-version': REVISION, 'mcp-method': 'tools/call' },
  );
  t.equal(absent.status, 400, 'Mcp-Name is required on 2026-07-28 calls');
  t.equal(absent.body.error.code, -32020);
  const encoded = await modern(
    8,
    'resources/read',
    { uri: 'kb://articles/refunds' },
    { 'mcp-name': `=?base64?${Buffer.from('kb://articles/other').toString('base64')}?=` },
  );
  t.equal(encoded.status, 400, 'a Base64-encoded Mcp-Name is decoded before comparing');
  // A session-revision request naming a different target in a header is refused alike.
  const legacy = await post(
    {
      jsonrpc: '2.0',
      id: 9,
      method: 'tools/call',
      params: { name: 'crm__delete_customer', arguments: { id: 'C-1' } },
    },
    { 'mcp-protocol-version': '2025-11-25', 'mcp-method': 'tools/call', 'mcp-name': 'crm__lookup_customer' },
  );
  t.equal(legacy.status, 400);
  t.equal(legacy.body.error.code, -32020);
  t.equal(crm.calls.length, calls, 'nothing forwarded');
  t.equal(airlock.events.length, events, 'nothing decided');
  const good = await modern(
    10,
    'resources/read',
    { uri: 'kb://articles/refunds' },
    { 'mcp-name': `=?base64?${Buffer.from('kb://articles/refunds').toString('base64')}?=` },
  );
  t.equal(good.status, 200);
  t.ok(good.body.result.contents, 'a matching Base64 Mcp-Name is accepted');
});

t.test('malformed 2026-07-28 requests get precise errors', async (t) => {
  const unsupported = await post(
    {
      jsonrpc: '2.0',
      id: 1,
      method: 'tools/list',
      params: { _meta: { ...envelope, 'io.modelcontextprotocol/protocolVersion': '2027-01-01' } },
    },
    { 'mcp-protocol-version': '2027-01-01', 'mcp-method': 'tools/list' },
  );
  t.equal(unsupported.status, 400);
  t.equal(unsupported.body.error.code, -32022);
  t.same(unsupported.body.error.data, { supported: [REVISION], requested: '2027-01-01' });
  const noEnvelope = await post(
    { jsonrpc: '2.0', id: 2, method: 'tools/list' },
    { 'mcp-protocol-version': REVISION, 'mcp-method': 'tools/list' },
  );
  t.equal(noEnvelope.status, 400);
  t.equal(noEnvelope.body.error.code, -32602);
  const versions = await modern(3, 'tools/list', {}, { 'mcp-protocol-version': '2025-11-25' });
  t.equal(versions.status, 400);
  t.equal(versions.body.error.code, -32020);
  const badCaps = await post(
    {
      jsonrpc: '2.0',
      id: 4,
      method: 'tools/list',
      params: { _meta: { 'io.modelcontextprotocol/protocolVersion': REVISION } },
    },
    { 'mcp-protocol-version': REVISION, 'mcp-method': 'tools/list' },
  );
  t.equal(badCaps.status, 400);
  t.match(badCaps.body.error.message, /clientCapabilities/);
  const init = await modern(5, 'initialize', {
    protocolVersion: REVISION,
    capabilities: {},
    clientInfo: { name: 'x', version: '1' },
  });
  t.equal(init.body.error.code, -32601, '2026-07-28 has no initialize');
  const batch = await post([{ jsonrpc: '2.0', id: 6, method: 'tools/list', params: { _meta: envelope } }]);
  t.equal(batch.status, 400);
  t.equal(batch.body.error.code, -32600);
  const params = await modern(7, 'tools/call', { name: 42 });
  t.equal(params.body.error.code, -32602, 'params that do not fit the method');
  const notification = await post(
    { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 1 } },
    { 'mcp-protocol-version': REVISION, 'mcp-method': 'notifications/cancelled' },
  );
  t.equal(notification.status, 202);
  const get = await fetch(url, {
    headers: { [TEST_PRINCIPAL_HEADER]: JSON.stringify(SUPPORT_PRINCIPAL), 'mcp-protocol-version': REVISION },
  });
  t.equal(get.status, 405, '2026-07-28 is POST only');
});

t.test('the session revisions are served as before', async (t) => {
  for (const version of ['2025-06-18', '2025-11-25']) {
    const r = await post({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: version, capabilities: {}, clientInfo: { name: 'old', version: '1' } },
    });
    t.equal(r.body.result.protocolVersion, version);
  }
  const offered = await post({
    jsonrpc: '2.0',
    id: 2,
    method: 'initialize',
    params: { protocolVersion: REVISION, capabilities: {}, clientInfo: { name: 'eager', version: '1' } },
  });
  t.equal(
    offered.body.result.protocolVersion,
    '2025-11-25',
    'initialize offering 2026-07-28 is countered with the newest session revision (2026-07-28 is never negotiated by initialize)',
  );
  const client = await connectClient(airlock.base);
  t.teardown(() => client.close());
  const { tools } = await client.listTools();
  t.equal(tools.length, 5);
  const err = await rpcError(client.callTool({ name: 'crm__no_such_tool', arguments: {} }));
  t.equal(err.code, GatewayErrorCode.NotFound);
});

t.test('policies see the revision and the client the request names', async (t) => {
  // Lists everything; refuses every call, naming what the decision input said.
  const rego = `package airlock

# METADATA
# entrypoint: true
decision := {"effect": "allow", "reasons": [], "visible_tools": ["lookup_customer", "get_ticket"]} if {
	input.action == "tools/list"
} else := {"effect": "deny", "reasons": [sprintf("protocol=%v client=%v", [
	object.get(input.request, "protocol", "none"),
	object.get(input.request, "client", "none"),
])]}
`;
  const built = buildBundle(
    {
      sources: [{ file: 'probe.rego', text: rego }],
      bundlePaths: new Map([['probe.rego', 'probe.rego']]),
      data: {},
    },
    { entrypoints: ['airlock/decision'] },
  );
  const probeEngine = new Engine();
  await probeEngine.activate(built.bundle, 'probe');
  const probe = await startAirlock(crm.url, { engine: probeEngine });
  t.teardown(() => probe.close());
  const call = {
    jsonrpc: '2.0',
    id: 1,
    method: 'tools/call',
    params: { name: 'crm__lookup_customer', arguments: { id: 'C-1' }, _meta: envelope },
  };
  const res = await fetch(`${probe.base}/mcp/support`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      [TEST_PRINCIPAL_HEADER]: JSON.stringify(SUPPORT_PRINCIPAL),
      'mcp-protocol-version': REVISION,
      'mcp-method': 'tools/call',
      'mcp-name': 'crm__lookup_customer',
    },
    body: JSON.stringify(call),
  });
  const body = (await res.json()) as { error: { code: number; data: { reasons: string[] } } };
  t.equal(body.error.code, GatewayErrorCode.Denied);
  t.same(body.error.data.reasons, [`protocol=${REVISION} client={"name": "raw-agent", "version": "1.0.0"}`]);
  const old = await connectClient(probe.base);
  t.teardown(() => old.close());
  const err = await rpcError(old.callTool({ name: 'crm__lookup_customer', arguments: { id: 'C-1' } }));
  t.same(
    (err.data as { reasons: string[] }).reasons,
    ['protocol=2025-11-25 client=none'],
    'session revisions: the header',
  );
});

t.test('list changes reach a 2026-07-28 client on subscriptions/listen', async (t) => {
  let changed!: (tools: string[]) => void;
  const refreshed = new Promise<string[]>((resolve) => {
    changed = resolve;
  });
  const client = new V2Client(
    { name: 'v2-agent', version: '2.4.0' },
    {
      versionNegotiation: { mode: { pin: REVISION } },
      listChanged: {
        tools: {
          onChanged: (err, tools) => {
            if (!err && tools) changed(tools.map((x) => x.name));
          },
        },
      },
    },
  );
  await client.connect(
    new V2Transport(new URL(url), {
      requestInit: { headers: { [TEST_PRINCIPAL_HEADER]: JSON.stringify(SUPPORT_PRINCIPAL) } },
    }),
  );
  t.teardown(() => client.close());
  const subscription = client.autoOpenedSubscription;
  t.ok(subscription, 'the client opened subscriptions/listen (server/discover offers listChanged)');
  t.same(subscription?.honoredFilter, { toolsListChanged: true });
  // The stdio upstream registers run_macro: its tools/list_changed reaches the listener.
  await client.callTool({ name: 'zendesk__enable_macros', arguments: {} });
  t.ok((await refreshed).includes('zendesk__run_macro'), 'the client refetched the list through Airlock');
  const listenDenied = await modern(11, 'subscriptions/listen', {
    notifications: { toolsListChanged: 'yes' },
  });
  t.equal(listenDenied.body.error.code, -32602, 'a malformed filter');
  const nothing = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      [TEST_PRINCIPAL_HEADER]: JSON.stringify(SUPPORT_PRINCIPAL),
      'mcp-protocol-version': REVISION,
      'mcp-method': 'subscriptions/listen',
    },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 'l-1',
      method: 'subscriptions/listen',
      params: { notifications: { resourceSubscriptions: ['kb://articles/refunds'] }, _meta: envelope },
    }),
  });
  const frames = (await nothing.text()).split('\n').filter((l) => l.startsWith('data:'));
  t.same(
    frames.map((f) => JSON.parse(f.slice(5))),
    [
      {
        jsonrpc: '2.0',
        method: 'notifications/subscriptions/acknowledged',
        params: { notifications: {}, _meta: { 'io.modelcontextprotocol/subscriptionId': 'l-1' } },
      },
      {
        jsonrpc: '2.0',
        id: 'l-1',
        result: {
          resultType: 'complete',
          _meta: {
            'io.modelcontextprotocol/subscriptionId': 'l-1',
            'io.modelcontextprotocol/serverInfo': { name: 'airlock-support', version: '0.1.0' },
          },
        },
      },
    ],
    'nothing honoured (crm cannot be subscribed to): acknowledged empty and closed',
  );
});

t.test('a 2026-07-28 call held for approval reports progress on an SSE answer', async (t) => {
  const held = await startAirlock(crm.url, { engine, gateway: { approvals: { hold_seconds: 3 } } });
  const client = new V2Client(
    { name: 'v2-agent', version: '2.4.0' },
    { versionNegotiation: { mode: { pin: REVISION } } },
  );
  await client.connect(
    new V2Transport(new URL(`${held.base}/mcp/support`), {
      requestInit: { headers: { [TEST_PRINCIPAL_HEADER]: JSON.stringify(SUPPORT_PRINCIPAL) } },
    }),
  );
  t.teardown(async () => {
    await client.close();
    await held.close();
  });
  const progress: string[] = [];
  const err = await client
    .callTool(
      { name: 'zendesk__close_ticket', arguments: { id: 'T-30' } },
      { onprogress: (p) => void progress.push(p.message ?? '') },
    )
    .then(
      () => undefined,
      (e: { code?: number; data?: { approval_id?: string } }) => e,
    );
  t.equal(err?.code, GatewayErrorCode.ApprovalPending, 'unanswered within the hold: pending');
  t.match(
    progress[0],
    /^waiting for approval [0-9a-f-]+ from group:security$/,
    'progress reached the client',
  );
  t.ok(
    held.events.some((e) => e.kind === 'approval_requested' && e.approvalId === err?.data?.approval_id),
    'the parking is audited',
  );
});
