// One decision-API call on `airlock serve` with tracing turned on by --otlp-endpoint: a real
// OTLP/HTTP receiver on loopback gets the request's span, continuing the caller's traceparent, with
// authentication, authorization, evaluation and the audit commit as its children; closing the
// server exports the last spans and turns tracing off again.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { startServer } from '../../src/cli/commands/serve.js';
import { resolveServeConfig } from '../../src/cli/serve-config.js';
import { tracingEnabled } from '../../src/telemetry/index.js';
import { freshPgliteDir } from '../helpers/pglite-dir.js';
import { childrenOf, otlpReceiver } from './otlp-receiver.js';

const POLICIES = fileURLToPath(new URL('../../policies', import.meta.url));
const INPUT = readFileSync(new URL('../fixtures/decision-input.json', import.meta.url), 'utf8');
const DATA_REQUEST = readFileSync(new URL('../fixtures/decision-request.json', import.meta.url), 'utf8');
const SERVER = 2;
const TOKEN = 'telemetry-test-admin-token-5f1e';
const TRACE_ID = '0af7651916cd43dd8448eb211c80319c';
const CALLER_SPAN = 'b7ad6b7169203331';

t.test('POST /v1/decisions: its span and its stages reach the OTLP receiver', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'airlock-otel-api-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const receiver = await otlpReceiver();
  t.teardown(() => receiver.close());
  process.env.AIRLOCK_ADMIN_TOKEN = TOKEN;
  t.teardown(() => {
    delete process.env.AIRLOCK_ADMIN_TOKEN;
  });
  const config = await resolveServeConfig(
    {
      addr: '127.0.0.1:0',
      bundle: join(dir, 'bundle.tar.gz'),
      policies: POLICIES,
      dataDir: await freshPgliteDir(join(dir, 'data')),
      logLevel: 'silent',
      otlpEndpoint: receiver.url,
    },
    { AIRLOCK_ADMIN_TOKEN: TOKEN },
  );
  t.equal(config.telemetry?.traces?.endpoint, receiver.url, '--otlp-endpoint sets telemetry.traces.endpoint');
  const server = await startServer(config);
  let closed = false;
  t.teardown(() => (closed ? undefined : server.close()));
  t.ok(tracingEnabled(), 'tracing is on');

  const r = await fetch(`${server.url}/v1/decisions`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      authorization: `Bearer ${TOKEN}`,
      traceparent: `00-${TRACE_ID}-${CALLER_SPAN}-01`,
    },
    body: INPUT,
  });
  t.equal(r.status, 200);
  const answer = (await r.json()) as { decision_id: string; decision: { effect: string } };
  // The OPA Data API is traced the same way (a new trace: no traceparent).
  const data = await fetch(`${server.url}/v1/data/airlock/decision`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
    body: DATA_REQUEST,
  });
  t.equal(data.status, 200);
  const metrics = await (
    await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })
  ).text();
  await server.close();
  closed = true;
  t.notOk(tracingEnabled(), 'closing the server turns tracing off');

  // Closing flushed the batch: the spans are there without waiting for the export delay.
  const spans = receiver.spans;
  const request = spans.find((s) => s.name === 'POST /v1/decisions');
  t.ok(request, 'the request span was exported by close');
  if (!request) return;
  t.equal(request.kind, SERVER);
  t.equal(request.traceId, TRACE_ID, "the caller's trace continues");
  t.equal(request.parentSpanId, CALLER_SPAN);
  t.match(request.attributes, {
    'http.request.method': 'POST',
    'http.route': '/v1/decisions',
    'http.response.status_code': 200,
  });
  const children = childrenOf(spans, request);
  t.same(
    children.map((s) => s.name).sort(),
    ['airlock.audit', 'airlock.authenticate', 'airlock.authorize', 'airlock.evaluate'],
    'authentication and authorization (hooks before the handler) and evaluation and audit (in it) are children',
  );
  const evaluation = children.find((s) => s.name === 'airlock.evaluate')!;
  t.match(evaluation.attributes, {
    'airlock.api': 'decisions',
    'airlock.path': 'airlock/decision',
    'airlock.decision_id': answer.decision_id,
    'airlock.effect': answer.decision.effect,
  });
  t.match(children.find((s) => s.name === 'airlock.authorize')!.attributes, {
    'airlock.entrypoint': 'airlock/system/authz',
    'airlock.allowed': true,
    'user.id': 'admin',
  });
  const dataSpan = spans.find((s) => s.name === 'POST /v1/data/*');
  t.ok(dataSpan, 'the Data API request has its span');
  t.not(dataSpan?.traceId, TRACE_ID, 'in a trace of its own');
  t.equal(dataSpan?.parentSpanId, undefined);
  t.same(
    childrenOf(spans, dataSpan!)
      .map((s) => s.name)
      .sort(),
    ['airlock.audit', 'airlock.authenticate', 'airlock.authorize', 'airlock.evaluate'],
  );
  t.notOk(
    spans.some((s) => s.name.includes('/metrics') || s.name.includes('/health')),
    'scrapes and probes are not traced',
  );
  const text = JSON.stringify(spans);
  t.notMatch(text, TOKEN, 'no credential in any span');
  t.notMatch(text, 'alice@corp.example', 'no input value in any span');

  // The same stages in the Prometheus histogram on the API's registry (the scrape itself was
  // authenticated and authorized too).
  for (const [stage, count] of [
    ['authenticate', 3],
    ['authorize', 3],
    ['evaluate', 2],
    ['audit', 2],
  ] as const)
    t.match(
      metrics,
      new RegExp(`airlock_stage_duration_seconds_count\\{surface="api",stage="${stage}"\\} ${count}\\n`),
      `histogram of ${stage}: ${count}`,
    );
});
