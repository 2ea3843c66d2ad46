// Telemetry off (the default): `airlock serve` and the gateway register nothing with the
// OpenTelemetry API — no tracer provider, so no exporter; no context manager; no propagator —
// even with the standard OTEL_EXPORTER_OTLP_* variables set, and the HTTP upstream gets no
// traceparent (the caller's is not passed on either).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { propagation, trace } from '@opentelemetry/api';
import t from 'tap';
import { startServer } from '../../src/cli/commands/serve.js';
import { resolveServeConfig } from '../../src/cli/serve-config.js';
import { TEST_PRINCIPAL_HEADER } from '../../src/gateway/index.js';
import { activeTracer, Stages, traceHeaders, tracingEnabled } from '../../src/telemetry/index.js';
import { referenceEngine, STDIO_UPSTREAM, SUPPORT_PRINCIPAL, startAirlock } from '../gateway/harness.js';
import { freshPgliteDir } from '../helpers/pglite-dir.js';
import { otlpReceiver } from './otlp-receiver.js';
import { tracedUpstream } from './upstream.js';

const POLICIES = fileURLToPath(new URL('../../policies', import.meta.url));
const INPUT = readFileSync(new URL('../fixtures/decision-input.json', import.meta.url), 'utf8');
const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
/** Where @opentelemetry/api keeps whatever was registered with it (its own global slot). */
const API_SLOT = Symbol.for('opentelemetry.js.api.1');
const registered = () =>
  (globalThis as unknown as Record<symbol, Record<string, unknown> | undefined>)[API_SLOT] ?? {};

t.test('serve without a telemetry section registers no provider, exporter or propagator', async (t) => {
  const receiver = await otlpReceiver();
  t.teardown(() => receiver.close());
  // What an OpenTelemetry SDK would pick up on its own: Airlock does not.
  process.env.OTEL_EXPORTER_OTLP_ENDPOINT = receiver.url.replace('/v1/traces', '');
  process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT = receiver.url;
  t.teardown(() => {
    delete process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
    delete process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
  });
  const dir = mkdtempSync(join(tmpdir(), 'airlock-otel-off-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const config = await resolveServeConfig(
    {
      addr: '127.0.0.1:0',
      bundle: join(dir, 'bundle.tar.gz'),
      policies: POLICIES,
      dataDir: await freshPgliteDir(join(dir, 'data')),
      logLevel: 'silent',
    },
    {},
  );
  t.equal(config.telemetry, undefined, 'no telemetry section by default');
  const server = await startServer(config);
  t.teardown(() => server.close());
  const r = await fetch(`${server.url}/v1/decisions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', traceparent: TRACEPARENT },
    body: INPUT,
  });
  t.equal(r.status, 200, 'decisions are answered');

  t.notOk(tracingEnabled());
  t.equal(activeTracer(), undefined);
  t.same(
    Object.keys(registered()).filter((k) => k !== 'version'),
    [],
    'nothing registered with the API',
  );
  const span = trace.getTracer('probe').startSpan('probe');
  t.notOk(span.isRecording(), 'tracers are the API’s no-op ones');
  t.equal(span.spanContext().traceId, '0'.repeat(32));
  t.same(propagation.fields(), [], 'no propagator');
  t.equal(traceHeaders(), undefined, 'nothing to inject');
  t.equal(await new Stages('api').run('evaluate', async (s) => s), undefined, 'a stage gets no span');
  t.same(receiver.requests, [], 'nothing was exported');
});

t.test('the gateway with telemetry off passes no traceparent upstream', async (t) => {
  const upstream = await tracedUpstream();
  t.teardown(() => upstream.close());
  const engine = await referenceEngine();
  t.teardown(() => engine.close());
  const airlock = await startAirlock(upstream.url, {
    engine,
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
        headers: { [TEST_PRINCIPAL_HEADER]: JSON.stringify(SUPPORT_PRINCIPAL), traceparent: TRACEPARENT },
      },
    }),
  );
  t.teardown(() => client.close());
  const result = await client.callTool({ name: 'crm__lookup_customer', arguments: { id: 'C-1' } });
  t.notOk(result.isError);
  const calls = upstream.seen.filter((s) => s.method === 'tools/call');
  t.equal(calls.length, 1);
  t.equal(calls[0]!.traceparent, undefined, 'no traceparent upstream');
  t.ok(
    upstream.seen.every((s) => s.traceparent === undefined && s.tracestate === undefined),
    'on no request',
  );
  t.same(
    Object.keys(registered()).filter((k) => k !== 'version'),
    [],
    'still nothing registered',
  );
});
