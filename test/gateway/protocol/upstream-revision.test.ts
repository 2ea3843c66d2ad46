// Airlock speaks 2026-07-28 to upstreams that offer it and the initialize handshake to those that do
// not, whatever revision its own client speaks: a 2025-06-18 client (the v1 SDK client, pinned)
// through Airlock to a 2026-07-28-only upstream (the v2 SDK server, session revisions refused), and
// a 2026-07-28 client to the same upstream; `protocol_revision` pins either way.
import { createServer } from 'node:http';
import { fileURLToPath } from 'node:url';
import {
  Client as V2Client,
  StreamableHTTPClientTransport as V2Transport,
} from '@modelcontextprotocol/client';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { McpServer as V2McpServer } from '@modelcontextprotocol/server';
import t from 'tap';
import { z } from 'zod';
import { GatewayErrorCode, parseGatewayConfig, TEST_PRINCIPAL_HEADER } from '../../../src/gateway/index.js';
import { crmUpstream, referenceEngine, rpcError, SUPPORT_PRINCIPAL, startAirlock } from '../harness.js';
import { servePerRequest } from './per-request-upstream.js';

const REVISION = '2026-07-28';
const STDIO_UPSTREAM_2026 = fileURLToPath(
  new URL('../../fixtures/gateway/stdio-upstream-2026.mjs', import.meta.url),
);

/** A crm upstream built on the SDK's v2 server, serving 2026-07-28 only (session revisions refused). */
async function perRequestCrm() {
  const calls: string[] = [];
  const served = await servePerRequest(() => {
    const s = new V2McpServer({ name: 'crm-2026', version: '2.0.0' });
    s.registerTool(
      'lookup_customer',
      { inputSchema: z.object({ id: z.string() }), annotations: { readOnlyHint: true } },
      async ({ id }) => {
        calls.push(`lookup ${id}`);
        return { content: [{ type: 'text', text: `customer ${id}, served on ${REVISION}` }] };
      },
    );
    s.registerTool(
      'delete_customer',
      { inputSchema: z.object({ id: z.string() }), annotations: { destructiveHint: true } },
      async ({ id }) => {
        calls.push(`delete ${id}`);
        return { content: [{ type: 'text', text: `deleted ${id}` }] };
      },
    );
    return s;
  });
  return { ...served, calls };
}

const engine = await referenceEngine();
const upstream = await perRequestCrm();
const topology = (url: string, protocol_revision?: string) => ({
  upstreams: [
    {
      name: 'crm',
      transport: 'http' as const,
      url,
      timeout_ms: 5000,
      ...(protocol_revision ? { protocol_revision } : {}),
    },
  ],
  virtual_servers: [{ name: 'support', upstreams: ['crm'] }],
});
const airlock = await startAirlock(upstream.url, {
  engine,
  topology: topology(upstream.url) as Parameters<typeof startAirlock>[1]['topology'],
});
const mcpUrl = new URL(`${airlock.base}/mcp/support`);
const principal = { [TEST_PRINCIPAL_HEADER]: JSON.stringify(SUPPORT_PRINCIPAL) };
t.teardown(async () => {
  await airlock.close();
  await upstream.close();
});

/** The v1 SDK client, offering 2025-06-18 in its initialize request (it would offer 2025-11-25). */
async function client20250618(url: URL) {
  const transport = new StreamableHTTPClientTransport(url, { requestInit: { headers: principal } });
  const send = transport.send.bind(transport);
  transport.send = (message: JSONRPCMessage, options) => {
    const m = message as { method?: string; params?: { protocolVersion?: string } };
    if (m.method === 'initialize' && m.params) m.params.protocolVersion = '2025-06-18';
    return send(message, options);
  };
  const client = new Client({ name: 'old-agent', version: '1.0.0' });
  await client.connect(transport);
  return { client, transport };
}

t.test('a 2025-06-18 client through Airlock to a 2026-07-28 upstream', async (t) => {
  const { client, transport } = await client20250618(mcpUrl);
  t.teardown(() => client.close());
  t.equal(transport.protocolVersion, '2025-06-18', 'Airlock answered the client on its revision');
  const { tools } = await client.listTools();
  t.same(
    tools.map((x) => x.name),
    ['crm__lookup_customer'],
    'the upstream lists, the policy filters',
  );
  const r = await client.callTool({ name: 'crm__lookup_customer', arguments: { id: 'C-9' } });
  t.same(r.content, [{ type: 'text', text: `customer C-9, served on ${REVISION}` }]);
  t.notOk('resultType' in r, 'the 2026-07-28 encoding does not reach a 2025 client');
  t.same(
    airlock.events.slice(-2).map((e) => [e.kind, e.effect, e.target?.name]),
    [
      ['decision', 'allow', 'lookup_customer'],
      ['call_result', 'allow', 'lookup_customer'],
    ],
  );
  t.notOk(
    upstream.seen.some((s) => s.method === 'initialize'),
    'no initialize handshake upstream',
  );
  t.ok(upstream.seen.some((s) => s.method === 'server/discover' && s.version === REVISION));
  const call = upstream.seen.find((s) => s.method === 'tools/call');
  t.match(call, {
    method: 'tools/call',
    version: REVISION,
    mcpMethod: 'tools/call',
    mcpName: 'lookup_customer',
  });
  const before = upstream.calls.length;
  const hidden = await rpcError(client.callTool({ name: 'crm__delete_customer', arguments: { id: 'C-9' } }));
  t.equal(hidden.code, GatewayErrorCode.NotFound, 'hidden means absent on this path too');
  t.equal(upstream.calls.length, before);
});

t.test('a 2026-07-28 client through Airlock to a 2026-07-28 upstream', async (t) => {
  const client = new V2Client(
    { name: 'v2-agent', version: '2.4.0' },
    { versionNegotiation: { mode: { pin: REVISION } } },
  );
  await client.connect(new V2Transport(mcpUrl, { requestInit: { headers: principal } }));
  t.teardown(() => client.close());
  const r = await client.callTool({ name: 'crm__lookup_customer', arguments: { id: 'C-10' } });
  t.same(r.content, [{ type: 'text', text: `customer C-10, served on ${REVISION}` }]);
  t.equal(airlock.events.at(-1)?.kind, 'call_result');
  t.equal(upstream.calls.at(-1), 'lookup C-10');
});

t.test('protocol_revision pins what Airlock speaks upstream', async (t) => {
  const crm = await crmUpstream();
  const session = await startAirlock(crm.url, {
    engine,
    topology: topology(crm.url, '2025-11-25') as Parameters<typeof startAirlock>[1]['topology'],
  });
  const pinned = await startAirlock(crm.url, {
    engine,
    topology: topology(crm.url, REVISION) as Parameters<typeof startAirlock>[1]['topology'],
  });
  t.teardown(async () => {
    await session.close();
    await pinned.close();
    await crm.close();
  });
  const old = await client20250618(new URL(`${session.base}/mcp/support`));
  const r = await old.client.callTool({ name: 'crm__lookup_customer', arguments: { id: 'C-1' } });
  t.match(JSON.stringify(r.content), /customer C-1/);
  await old.client.close();
  t.notOk(crm.methods.includes('server/discover'), '2025-11-25: no probe');
  t.ok(crm.methods.includes('initialize'));
  const other = await client20250618(new URL(`${pinned.base}/mcp/support`));
  t.teardown(() => other.client.close());
  const err = await rpcError(other.client.listTools());
  t.equal(err.code, GatewayErrorCode.UpstreamFailed, 'pinned to 2026-07-28, a 2025 upstream fails closed');
  t.ok(crm.methods.includes('server/discover'), 'the pinned client asked');
});

t.test('a stdio upstream pinned to 2026-07-28', async (t) => {
  const desk = await startAirlock(upstream.url, {
    engine,
    topology: {
      upstreams: [
        {
          name: 'zendesk',
          transport: 'stdio',
          command: process.execPath,
          args: [STDIO_UPSTREAM_2026],
          protocol_revision: REVISION,
        },
      ],
      virtual_servers: [{ name: 'support', upstreams: ['zendesk'] }],
    },
  });
  t.teardown(() => desk.close());
  const { client } = await client20250618(new URL(`${desk.base}/mcp/support`));
  t.teardown(() => client.close());
  const r = await client.callTool({ name: 'zendesk__get_ticket', arguments: { id: 'T-5' } });
  t.same(r.content, [{ type: 'text', text: 'ticket T-5: printer on fire (2026-07-28)' }]);
  t.same(
    desk.events.slice(-2).map((e) => [e.kind, e.effect]),
    [
      ['decision', 'allow'],
      ['call_result', 'allow'],
    ],
  );
});

t.test('protocol_revision takes only the values it documents', async (t) => {
  const config = (protocol_revision: unknown) => ({
    upstreams: [{ name: 'crm', transport: 'http', url: 'http://127.0.0.1:1/mcp', protocol_revision }],
    virtual_servers: [{ name: 'support', upstreams: ['crm'] }],
  });
  for (const ok of ['auto', '2026-07-28', '2025-11-25'])
    t.doesNotThrow(() => parseGatewayConfig(config(ok)), ok);
  t.throws(() => parseGatewayConfig(config('2025-06-18')), /protocol_revision/);
});

t.test('an upstream that never answers the probe times out, as it would the handshake', async (t) => {
  const silent = createServer(() => {}); // accepts, never answers
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(silent.address() as { port: number }).port}/mcp`;
  const stalled = await startAirlock(url, {
    engine,
    topology: {
      upstreams: [{ name: 'crm', transport: 'http', url, timeout_ms: 300 }],
      virtual_servers: [{ name: 'support', upstreams: ['crm'] }],
    },
  });
  t.teardown(async () => {
    await stalled.close();
    silent.closeAllConnections();
    await new Promise<void>((r) => silent.close(() => r()));
  });
  const { client } = await client20250618(new URL(`${stalled.base}/mcp/support`));
  t.teardown(() => client.close());
  const err = await rpcError(client.listTools());
  t.equal(err.code, GatewayErrorCode.UpstreamFailed);
  t.match(err.message, /upstream crm timed out/);
});
