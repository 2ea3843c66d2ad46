// `Mcp-Param-*` headers on protocol revision 2026-07-28: a tool declaring `x-mcp-header` on an
// argument is called by the SDK's v2 client (which sends the header) through Airlock; a header that
// disagrees with the body, is missing, or claims an argument the body lacks is refused with HTTP 400
// and -32020 before anything is decided or forwarded. Also the declarations Airlock reads.
import { createServer, type Server as HttpServer } from 'node:http';
import {
  Client as V2Client,
  StreamableHTTPClientTransport as V2Transport,
} from '@modelcontextprotocol/client';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { CallToolRequestSchema, ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import t from 'tap';
import { TEST_PRINCIPAL_HEADER } from '../../../src/gateway/index.js';
import { paramDeclarations } from '../../../src/gateway/protocol/param-headers.js';
import { referenceEngine, SUPPORT_PRINCIPAL, startAirlock } from '../harness.js';

const REVISION = '2026-07-28';

const DEPLOY_SCHEMA = {
  type: 'object',
  properties: {
    region: { type: 'string', 'x-mcp-header': 'Region' },
    replicas: { type: 'integer', 'x-mcp-header': 'Replicas' },
    options: { type: 'object', properties: { dry: { type: 'boolean', 'x-mcp-header': 'Dry-Run' } } },
    note: { type: 'string' },
  },
  required: ['region'],
};

/** A stateless upstream (v1 SDK low-level server) whose `lookup_customer` declares argument headers. */
async function upstream() {
  const calls: unknown[] = [];
  const http: HttpServer = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString()) : undefined;
    const s = new Server({ name: 'deployer', version: '1.0.0' }, { capabilities: { tools: {} } });
    s.setRequestHandler(ListToolsRequestSchema, async () => ({
      tools: [{ name: 'lookup_customer', inputSchema: DEPLOY_SCHEMA as never }],
    }));
    s.setRequestHandler(CallToolRequestSchema, async (r) => {
      calls.push(r.params.arguments);
      return { content: [{ type: 'text', text: `deployed ${JSON.stringify(r.params.arguments)}` }] };
    });
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
    await s.connect(transport);
    await transport.handleRequest(req, res, body);
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(http.address() as { port: number }).port}/mcp`,
    calls,
    close: () =>
      new Promise<void>((r) => {
        http.closeAllConnections();
        http.close(() => r());
      }),
  };
}

// The reference policy lets the support agent call crm's lookup_customer: this upstream is "crm".
const up = await upstream();
const airlock = await startAirlock(up.url, {
  engine: await referenceEngine(),
  topology: {
    upstreams: [{ name: 'crm', transport: 'http', url: up.url, timeout_ms: 5000 }],
    virtual_servers: [{ name: 'support', upstreams: ['crm'] }],
  },
});
const url = `${airlock.base}/mcp/support`;
t.teardown(async () => {
  await airlock.close();
  await up.close();
});

t.test('the declarations read from an input schema', async (t) => {
  t.same(
    paramDeclarations(DEPLOY_SCHEMA).map((d) => [d.path.join('.'), d.header, d.type]),
    [
      ['region', 'Region', 'string'],
      ['replicas', 'Replicas', 'integer'],
      ['options.dry', 'Dry-Run', 'boolean'],
    ],
  );
  t.same(
    paramDeclarations({
      type: 'object',
      'x-mcp-header': 'Root',
      properties: {
        list: { type: 'array', items: { type: 'string', 'x-mcp-header': 'Item' }, 'x-mcp-header': 'List' },
        spaced: { type: 'string', 'x-mcp-header': 'Has Space' },
        a: { type: 'string', 'x-mcp-header': 'Twice' },
        b: { type: 'string', 'x-mcp-header': 'twice' },
      },
    }).map((d) => d.header),
    ['Twice'],
    'not on the root, arrays or items; tokens only; the first of case-insensitive repeats',
  );
});

t.test('the v2 SDK client sends the declared headers and the call goes through', async (t) => {
  const client = new V2Client(
    { name: 'v2-agent', version: '2.4.0' },
    { versionNegotiation: { mode: { pin: REVISION } } },
  );
  const sent: Record<string, string>[] = [];
  await client.connect(
    new V2Transport(new URL(url), {
      requestInit: { headers: { [TEST_PRINCIPAL_HEADER]: JSON.stringify(SUPPORT_PRINCIPAL) } },
      fetch: async (input, init) => {
        const h = new Headers(init?.headers);
        const params: Record<string, string> = {};
        h.forEach((v, k) => {
          if (k.startsWith('mcp-param-')) params[k] = v;
        });
        sent.push(params);
        return fetch(input, init);
      },
    }),
  );
  t.teardown(() => client.close());
  await client.listTools();
  const r = await client.callTool({
    name: 'crm__lookup_customer',
    arguments: { region: 'eu-west', replicas: 3, options: { dry: true } },
  });
  t.match(JSON.stringify(r.content), /deployed/);
  t.same(sent.at(-1), {
    'mcp-param-region': 'eu-west',
    'mcp-param-replicas': '3',
    'mcp-param-dry-run': 'true',
  });
});

async function call(args: Record<string, unknown>, headers: Record<string, string>) {
  const res = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      [TEST_PRINCIPAL_HEADER]: JSON.stringify(SUPPORT_PRINCIPAL),
      'mcp-protocol-version': REVISION,
      'mcp-method': 'tools/call',
      'mcp-name': 'crm__lookup_customer',
      ...headers,
    },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'tools/call',
      params: {
        name: 'crm__lookup_customer',
        arguments: args,
        _meta: {
          'io.modelcontextprotocol/protocolVersion': REVISION,
          'io.modelcontextprotocol/clientCapabilities': {},
        },
      },
    }),
  });
  return {
    status: res.status,
    body: (await res.json()) as { result?: unknown; error?: { code: number; data?: unknown } },
  };
}

t.test(
  'headers that disagree with the body are refused with 400, nothing forwarded or decided',
  async (t) => {
    const forwarded = up.calls.length;
    const decided = airlock.events.filter((e) => e.kind === 'decision' && e.phase === 'request').length;
    const cases: [string, Record<string, unknown>, Record<string, string>, unknown][] = [
      [
        'a different value',
        { region: 'eu-west' },
        { 'mcp-param-region': 'us-east' },
        { header: 'Mcp-Param-Region', sent: 'us-east', body: 'region="eu-west"' },
      ],
      ['missing', { region: 'eu-west' }, {}, { header: 'Mcp-Param-Region', sent: '(absent)' }],
      [
        'a header for an absent argument',
        { region: 'eu-west' },
        { 'mcp-param-region': 'eu-west', 'mcp-param-replicas': '2' },
        { header: 'Mcp-Param-Replicas', body: 'replicas (absent)' },
      ],
      [
        'a nested argument',
        { region: 'eu-west', options: { dry: false } },
        { 'mcp-param-region': 'eu-west', 'mcp-param-dry-run': 'true' },
        { header: 'Mcp-Param-Dry-Run' },
      ],
      [
        'malformed Base64',
        { region: 'eu-west' },
        { 'mcp-param-region': '=?base64?***?=' },
        { header: 'Mcp-Param-Region' },
      ],
    ];
    for (const [what, args, headers, mismatch] of cases) {
      const r = await call(args, headers);
      t.equal(r.status, 400, what);
      t.match(r.body.error, { code: -32020, data: { mismatch } }, what);
    }
    t.equal(up.calls.length, forwarded, 'nothing was forwarded');
    t.equal(
      airlock.events.filter((e) => e.kind === 'decision' && e.phase === 'request').length,
      decided,
      'no call was decided',
    );
    const ok = await call(
      { region: 'zürich', replicas: 2 },
      {
        'mcp-param-region': `=?base64?${Buffer.from('zürich').toString('base64')}?=`,
        'mcp-param-replicas': '2.0e0',
      },
    );
    t.equal(ok.status, 200, 'Base64 values and numbers written otherwise are the same value');
    t.ok(ok.body.result);
  },
);
