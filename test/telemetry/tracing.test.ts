// The tracer set-up on its own: the caller's sampling decision is followed, a malformed
// traceparent starts a new trace, export headers reach the collector, and the configuration
// refuses credentials in the endpoint URL and a header secret that cannot be read.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import t from 'tap';
import { startServer } from '../../src/cli/commands/serve.js';
import { ConfigError, validateServeConfig } from '../../src/cli/serve-config.js';
import {
  checkEndpoint,
  Stages,
  startTracing,
  traceRequests,
  tracingEnabled,
} from '../../src/telemetry/index.js';
import { otlpReceiver } from './otlp-receiver.js';

const TRACE_ID = '5b8efff798038103d269b633813fc60c';
const PARENT = 'eee19b7ec3c1b174';

t.test('request spans: sampling, malformed trace context, export headers', async (t) => {
  const receiver = await otlpReceiver();
  t.teardown(() => receiver.close());
  const tracing = startTracing({
    endpoint: receiver.url,
    headers: { 'x-collector-key': 'collector-secret-1' },
    exportDelayMs: 50,
  });
  t.teardown(() => tracing.shutdown());
  t.throws(() => startTracing({ endpoint: receiver.url }), /already started/, 'one per process');
  const app = Fastify();
  traceRequests(app);
  const stages = new Stages('api');
  app.get('/work/:id', async () => stages.run('evaluate', async () => 'done'));
  await app.listen({ port: 0, host: '127.0.0.1' });
  t.teardown(() => app.close());
  const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  const get = (traceparent?: string) =>
    fetch(`${base}/work/1`, { headers: traceparent ? { traceparent } : {} }).then((r) => r.text());

  await get(`00-${TRACE_ID}-${PARENT}-00`); // the caller did not sample: nothing recorded
  await get('00-not-a-trace-context-01'); // malformed: a new trace
  await get(`00-${'1'.repeat(32)}-${'2'.repeat(16)}-01`);
  await tracing.flush();
  await receiver.until((spans) => spans.filter((s) => s.name === 'GET /work/:id').length >= 2);
  const requests = receiver.spans.filter((s) => s.name === 'GET /work/:id');
  t.equal(requests.length, 2, 'the unsampled request was not exported');
  t.notOk(
    receiver.spans.some((s) => s.traceId === TRACE_ID),
    'nothing of the unsampled trace',
  );
  const fresh = requests.find((s) => s.traceId !== '1'.repeat(32))!;
  t.equal(fresh.parentSpanId, undefined, 'a malformed traceparent starts a new trace');
  t.match(fresh.traceId, /^[0-9a-f]{32}$/);
  const continued = requests.find((s) => s.traceId === '1'.repeat(32))!;
  t.equal(continued.parentSpanId, '2'.repeat(16));
  const stage = receiver.spans.find(
    (s) => s.name === 'airlock.evaluate' && s.parentSpanId === continued.spanId,
  );
  t.ok(stage, 'the handler’s stage is a child of the request');
  t.ok(
    receiver.headers.every((h) => h['x-collector-key'] === 'collector-secret-1'),
    'export headers sent',
  );
  t.ok(receiver.headers.length > 0);
  await tracing.shutdown();
  t.notOk(tracingEnabled());
});

t.test('configuration: no credentials in the endpoint, header secrets must be readable', async (t) => {
  t.equal(checkEndpoint('http://127.0.0.1:4318/v1/traces'), undefined);
  t.match(checkEndpoint('http://user:pw@collector:4318/v1/traces'), /credentials/);
  t.match(checkEndpoint('ftp://collector/v1/traces'), /http/);
  t.throws(() => startTracing({ endpoint: 'https://k:s@collector/v1/traces' }), /credentials/);
  t.notOk(tracingEnabled(), 'a refused start leaves tracing off');
  for (const endpoint of [
    'http://user:pw@collector:4318/v1/traces',
    'http://collector/v1/traces?api_key=x',
    'collector:4318',
  ])
    t.throws(
      () => validateServeConfig({ telemetry: { traces: { endpoint } } }, 'test.yaml'),
      ConfigError,
      endpoint,
    );
  t.throws(
    () =>
      validateServeConfig(
        { telemetry: { traces: { endpoint: 'http://c/v1/traces', headers: { k: 'plain' } } } },
        't',
      ),
    ConfigError,
    'header values are secret sources, not literals',
  );
  const ok = validateServeConfig(
    {
      telemetry: {
        traces: {
          endpoint: 'http://c:4318/v1/traces',
          headers: { 'x-key': { env: 'K' } },
          sample_ratio: 0.5,
        },
      },
    },
    't',
  );
  t.equal(ok.telemetry?.traces?.sample_ratio, 0.5);

  const dir = mkdtempSync(join(tmpdir(), 'airlock-otel-config-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  await t.rejects(
    startServer({
      addr: '127.0.0.1:0',
      log_level: 'silent',
      bundle: { source: join(dir, 'b.tar.gz') },
      database: { data_dir: join(dir, 'data') },
      telemetry: {
        traces: {
          endpoint: 'http://127.0.0.1:4318/v1/traces',
          headers: { 'x-key': { env: 'AIRLOCK_TEST_UNSET_OTLP_KEY' } },
        },
      },
    }),
    { name: 'ConfigError', message: /telemetry\.traces\.headers\.x-key/ },
    'an unreadable header secret stops the start',
  );
  t.notOk(tracingEnabled());
});
