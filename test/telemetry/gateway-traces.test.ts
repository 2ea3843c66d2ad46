// One tools/call through a real gateway with tracing on: a real OTLP/HTTP receiver on loopback
// gets the request's span (continuing the caller's traceparent) with its stages as children, and
// the HTTP upstream is called with a traceparent of the same trace, naming the upstream span.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { Registry } from 'prom-client';
import t from 'tap';
import { TEST_PRINCIPAL_HEADER } from '../../src/gateway/index.js';
import { STAGE_METRIC, startTracing, tracingEnabled } from '../../src/telemetry/index.js';
import { referenceEngine, STDIO_UPSTREAM, SUPPORT_PRINCIPAL, startAirlock } from '../gateway/harness.js';
import { childrenOf, otlpReceiver, type ReceivedSpan } from './otlp-receiver.js';
import { tracedUpstream } from './upstream.js';

// OTLP/JSON span kinds.
const SERVER = 2;
const CLIENT = 3;
const ERROR = 2;

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const CALLER_SPAN = '00f067aa0ba902b7';
const ARGUMENT = 'C-ARGUMENT-7731';

t.test('a tools/call: its span, its stages and the upstream traceparent', async (t) => {
  const receiver = await otlpReceiver();
  t.teardown(() => receiver.close());
  const tracing = startTracing({ endpoint: receiver.url, exportDelayMs: 50, serviceName: 'airlock-test' });
  t.teardown(() => tracing.shutdown());
  t.ok(tracingEnabled());
  const upstream = await tracedUpstream();
  t.teardown(() => upstream.close());
  const engine = await referenceEngine();
  t.teardown(() => engine.close());
  const registry = new Registry();
  const airlock = await startAirlock(upstream.url, {
    engine,
    metricsRegistry: registry,
    topology: {
      upstreams: [
        { name: 'crm', transport: 'http', url: upstream.url, timeout_ms: 5000 },
        { name: 'zendesk', transport: 'stdio', command: process.execPath, args: [STDIO_UPSTREAM] },
      ],
      virtual_servers: [{ name: 'support', upstreams: ['crm', 'zendesk'] }],
    },
  });
  t.teardown(() => airlock.close());

  const client = new Client({ name: 'test-agent', version: '1.0.0' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(`${airlock.base}/mcp/support`), {
      requestInit: {
        headers: {
          [TEST_PRINCIPAL_HEADER]: JSON.stringify(SUPPORT_PRINCIPAL),
          traceparent: `00-${TRACE_ID}-${CALLER_SPAN}-01`,
          tracestate: 'vendor=opaque',
        },
      },
    }),
  );
  t.teardown(() => client.close());
  const result = await client.callTool({ name: 'crm__lookup_customer', arguments: { id: ARGUMENT } });
  t.notOk(result.isError, 'the call went through');
  const unknown = await client.callTool({ name: 'no_such_tool', arguments: {} }).catch((e: Error) => e);
  t.ok(unknown instanceof Error, 'an unknown tool is refused');

  await tracing.flush();
  const isCall = (s: ReceivedSpan) => s.name === 'tools/call crm__lookup_customer' && s.kind === SERVER;
  await receiver.until(
    (spans) => spans.some(isCall) && spans.some((s) => s.name === 'tools/call no_such_tool'),
  );
  const spans = receiver.spans;
  t.ok(receiver.requests.every((r) => r.path === '/v1/traces' && r.contentType === 'application/json'));

  const call = spans.find(isCall)!;
  t.equal(call.service, 'airlock-test', 'service.name from the configuration');
  t.equal(call.traceId, TRACE_ID, "the caller's trace continues");
  t.equal(call.parentSpanId, CALLER_SPAN, "the request's span is a child of the caller's span");
  t.match(call.attributes, {
    'mcp.method.name': 'tools/call',
    'gen_ai.tool.name': 'crm__lookup_customer',
    'airlock.virtual_server': 'support',
    'user.id': 'sam',
    'gen_ai.agent.id': 'support-agent',
    'http.request.method': 'POST',
    'http.response.status_code': 200,
  });

  const children = childrenOf(spans, call);
  const names = children.map((s) => s.name).sort();
  t.same(
    names,
    [
      'airlock.audit',
      'airlock.audit',
      'airlock.authenticate',
      'airlock.evaluate',
      'airlock.evaluate',
      'airlock.evaluate',
      'tools/call lookup_customer',
    ],
    'authentication, three evaluations, two audit commits and the upstream call, all children of the request',
  );
  const evaluations = children.filter((s) => s.name === 'airlock.evaluate');
  t.same(
    evaluations.map((s) => `${s.attributes['airlock.action']} ${s.attributes['airlock.phase']}`).sort(),
    ['tools/call request', 'tools/call response', 'tools/list response'],
    'the visibility of the tool, the call and its result were decided',
  );
  t.ok(
    evaluations.every(
      (s) => s.attributes['airlock.effect'] === 'allow' || s.attributes['airlock.effect'] === 'redact',
    ),
  );
  t.same(
    children
      .filter((s) => s.name === 'airlock.audit')
      .map((s) => s.attributes['airlock.audit.kind'])
      .sort(),
    ['call_result', 'decision'],
  );
  const up = children.find((s) => s.kind === CLIENT)!;
  t.match(up.attributes, {
    'airlock.upstream': 'crm',
    'mcp.method.name': 'tools/call',
    'airlock.stage': 'upstream',
  });

  // The upstream got the trace: same trace id, the upstream span as its parent.
  const forwarded = upstream.seen.filter((s) => s.method === 'tools/call');
  t.equal(forwarded.length, 1);
  t.equal(forwarded[0]!.traceparent, `00-${TRACE_ID}-${up.spanId}-01`, 'traceparent names the upstream span');
  t.equal(forwarded[0]!.tracestate, 'vendor=opaque', 'the caller’s tracestate travels on');

  // A refused call: its JSON-RPC error on the request's span.
  const refused = spans.find((s) => s.name === 'tools/call no_such_tool')!;
  t.equal(refused.status?.code, ERROR);
  t.type(refused.attributes['rpc.response.status_code'], 'string');

  // Arguments, results and the principal header are not in any span.
  const text = JSON.stringify(spans);
  t.notMatch(text, ARGUMENT, 'no argument value in any span');
  t.notMatch(text, 'Acme', 'no result text in any span');
  t.notMatch(text, 'sam@corp.example', 'no e-mail address in any span');

  // The stage histogram on the registry handed to the gateway.
  const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === STAGE_METRIC)!;
  const count = (stage: string) =>
    metric.values.find(
      (v) =>
        (v as { metricName?: string }).metricName === `${STAGE_METRIC}_count` &&
        v.labels.stage === stage &&
        v.labels.surface === 'gateway',
    )?.value;
  t.ok((count('authenticate') ?? 0) >= 3, 'every request authenticated (initialize, initialized, calls)');
  t.equal(count('upstream'), 1, 'one upstream call');
  t.ok((count('evaluate') ?? 0) >= 2);
  t.ok((count('audit') ?? 0) >= 3, 'the call and the refused one audited');
});
