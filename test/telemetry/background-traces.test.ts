import { createServer, type Server } from 'node:http';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { ListRootsRequestSchema, ListRootsResultSchema } from '@modelcontextprotocol/sdk/types.js';
import t from 'tap';
import { bundleSource, Engine } from '../../src/engine/index.js';
import { TEST_PRINCIPAL_HEADER } from '../../src/gateway/index.js';
import { startTracing, type Tracing } from '../../src/telemetry/index.js';
import { fixtureBundle } from '../engine/fixture.js';
import { allowAllEngine } from '../gateway/allow-all.js';
import { SUPPORT_PRINCIPAL, startAirlock } from '../gateway/harness.js';
import { type SessionHttpUpstream, sessionHttpUpstream } from '../helpers/session-http-upstream.js';
import { childrenOf, type OtlpReceiver, otlpReceiver, type ReceivedSpan } from './otlp-receiver.js';

const SERVER = 2;
const CLIENT = 3;
const BUNDLE_TOKEN = 'bundle-query-token-5c1d';
const BUNDLE_SECRET = 'bundle-header-secret-77aa';
const ROOT_URI = 'file:///home/lee/secret-project-3141';

let receiver: OtlpReceiver;
let tracing: Tracing;
t.before(async () => {
  receiver = await otlpReceiver();
  tracing = startTracing({ endpoint: receiver.url, exportDelayMs: 50 });
});
t.teardown(async () => {
  await tracing.shutdown();
  await receiver.close();
});

const listen = async (server: Server) => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
};

t.test('bundle polls over HTTP: poll, download and activation', async (t) => {
  const tarball = await fixtureBundle('rev-traced');
  const seen: { traceparent: string | undefined; etag: string | undefined }[] = [];
  const server = createServer((req, res) => {
    seen.push({
      traceparent: req.headers.traceparent as string | undefined,
      etag: req.headers['if-none-match'] as string | undefined,
    });
    if (req.headers['if-none-match'] === '"v1"') return void res.writeHead(304).end();
    res.writeHead(200, { 'content-type': 'application/gzip', etag: '"v1"' }).end(tarball);
  });
  const base = await listen(server);
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  const engine = new Engine();
  t.teardown(() => engine.close());
  const source = bundleSource(`${base}/bundles/airlock.tar.gz?token=${BUNDLE_TOKEN}`, engine, {
    pollIntervalMs: 0,
    headers: { authorization: `Bearer ${BUNDLE_SECRET}` },
  });
  t.teardown(() => source.stop());
  t.equal((await source.start())?.revision, 'rev-traced', 'the first poll activates the bundle');
  t.equal(await source.poll(), undefined, 'the second is answered 304');

  await tracing.flush();
  await receiver.until((spans) => spans.filter((s) => s.name === 'airlock.bundle.poll').length >= 2);
  const spans = receiver.spans;
  const polls = spans.filter((s) => s.name === 'airlock.bundle.poll');
  t.equal(polls.length, 2);
  for (const poll of polls) {
    t.notOk(poll.parentSpanId, 'a poll is a trace of its own');
    t.equal(poll.attributes['airlock.bundle.source'], 'http');
  }
  const [first, second] = polls.sort(
    (a, b) => Number(b.attributes['airlock.bundle.changed']) - Number(a.attributes['airlock.bundle.changed']),
  );
  t.equal(first!.attributes['airlock.bundle.changed'], true);
  t.same(
    childrenOf(spans, first!)
      .map((s) => s.name)
      .sort(),
    ['GET bundle', 'airlock.bundle.activate'],
  );
  const download = childrenOf(spans, first!).find((s) => s.name === 'GET bundle')!;
  t.equal(download.kind, CLIENT);
  t.equal(download.attributes['http.response.status_code'], 200);
  t.equal(
    childrenOf(spans, first!).find((s) => s.name === 'airlock.bundle.activate')?.attributes[
      'airlock.bundle_revision'
    ],
    'rev-traced',
  );
  t.equal(second!.attributes['airlock.bundle.changed'], false);
  t.same(
    childrenOf(spans, second!).map((s) => [s.name, s.attributes['http.response.status_code']]),
    [['GET bundle', 304]],
    'unchanged: a download answered 304, no activation',
  );
  t.equal(
    seen[0]?.traceparent,
    `00-${download.traceId}-${download.spanId}-01`,
    'the bundle server gets the trace',
  );
  const text = JSON.stringify(spans);
  t.notMatch(text, BUNDLE_TOKEN, 'not the bundle URL (its query may carry a token)');
  t.notMatch(text, BUNDLE_SECRET, 'not the request headers');
});

/** An HTTP upstream keeping sessions, whose `ask_roots` asks the calling client for its roots. */
function rootsUpstream(): Promise<SessionHttpUpstream> {
  return sessionHttpUpstream(() => {
    const s = new McpServer({ name: 'files', version: '1.0.0' });
    s.registerTool('ask_roots', { inputSchema: {} }, async (_args, extra) => {
      const roots = await extra.sendRequest({ method: 'roots/list' }, ListRootsResultSchema);
      return { content: [{ type: 'text', text: `${roots.roots.length} roots` }] };
    });
    return s;
  });
}

t.test('a server→client request relayed during a call', async (t) => {
  const upstream = await rootsUpstream();
  t.teardown(() => upstream.close());
  const engine = await allowAllEngine();
  t.teardown(() => engine.close());
  const airlock = await startAirlock(upstream.url, {
    engine,
    topology: {
      upstreams: [{ name: 'files', transport: 'http', url: upstream.url, timeout_ms: 10_000 }],
      virtual_servers: [{ name: 'support', upstreams: ['files'] }],
    },
  });
  t.teardown(() => airlock.close());
  const client = new Client({ name: 'roots-client', version: '1.0.0' }, { capabilities: { roots: {} } });
  let asked = 0;
  client.setRequestHandler(ListRootsRequestSchema, async () => {
    asked++;
    return { roots: [{ uri: ROOT_URI, name: 'project' }] };
  });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(`${airlock.base}/mcp/support`), {
      requestInit: { headers: { [TEST_PRINCIPAL_HEADER]: JSON.stringify(SUPPORT_PRINCIPAL) } },
    }),
  );
  t.teardown(() => client.close());
  const { tools } = await client.listTools();
  const name = tools.find((x) => x.name.endsWith('ask_roots'))!.name;
  const result = await client.callTool({ name, arguments: {} });
  t.same(result.content, [{ type: 'text', text: '1 roots' }]);
  t.equal(asked, 1, 'the calling client was asked');

  await tracing.flush();
  const isRelay = (s: ReceivedSpan) => s.name === 'roots/list' && s.kind === SERVER;
  await receiver.until((spans) => spans.some(isRelay) && spans.some((s) => s.name === `tools/call ${name}`));
  const spans = receiver.spans;
  const call = spans.find((s) => s.name === `tools/call ${name}` && s.kind === SERVER)!;
  const relay = spans.find(isRelay)!;
  t.equal(relay.traceId, call.traceId, "the relayed request belongs to the call's trace");
  // Its parent: the upstream call it arrived on, itself a child of the call's span.
  const parent = spans.find((s) => s.spanId === relay.parentSpanId);
  t.equal(parent?.name, 'tools/call ask_roots', 'a child of the upstream call');
  t.equal(parent?.kind, CLIENT);
  t.equal(parent?.parentSpanId, call.spanId, 'which is a child of the tools/call span');
  t.match(relay.attributes, { 'mcp.method.name': 'roots/list', 'airlock.upstream': 'files' });
  t.type(relay.attributes['airlock.call_decision_id'], 'string');
  const children = childrenOf(spans, relay);
  t.same(
    children.map((s) => s.name).sort(),
    ['airlock.audit', 'airlock.audit', 'airlock.evaluate', 'airlock.evaluate', 'roots/list'],
    'request decision and record, the request to the client, response decision and record',
  );
  const sent = children.find((s) => s.name === 'roots/list')!;
  t.equal(sent.kind, CLIENT, 'the request sent to the calling client');
  t.notMatch(JSON.stringify(spans), ROOT_URI, 'no root URI in any span');
});
