// The approver API and the approval webhook with tracing on: a real OTLP/HTTP receiver on loopback
// gets a SERVER span per /v1/approvals request (continuing the caller's traceparent) with its
// stages as children, and the webhook's CLIENT span, whose traceparent the webhook receiver gets.
// Parked arguments and the approver's credential appear in no span.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import t from 'tap';
import { approvalsPlugin } from '../../src/api/approvals.js';
import { AuditStore } from '../../src/audit/index.js';
import { ApprovalStore } from '../../src/gateway/approvals.js';
import { startTracing, traced } from '../../src/telemetry/index.js';
import { parkRequest } from '../gateway/approval-fixture.js';
import { referenceEngine } from '../gateway/harness.js';
import { freshPgliteDir } from '../helpers/pglite-dir.js';
import { childrenOf, otlpReceiver, type ReceivedSpan } from './otlp-receiver.js';

const SERVER = 2;
const CLIENT = 3;
const TRACE_ID = '0af7651916cd43dd8448eb211c80319c';
const CALLER_SPAN = 'b7ad6b7169203331';
const ARGUMENT = 'C-PARKED-ARGUMENT-4417';
const CREDENTIAL = 'approver-credential-9f8e7d';

t.test('the approver API and the approval webhook', async (t) => {
  const receiver = await otlpReceiver();
  t.teardown(() => receiver.close());
  const tracing = startTracing({ endpoint: receiver.url, exportDelayMs: 50 });
  t.teardown(() => tracing.shutdown());

  // The webhook's receiver: what it was sent, with its trace headers.
  const hooks: { traceparent: string | undefined; body: string }[] = [];
  const hook = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    hooks.push({
      traceparent: req.headers.traceparent as string | undefined,
      body: Buffer.concat(chunks).toString(),
    });
    res.writeHead(204).end();
  });
  await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => hook.close(() => r())));

  const dir = mkdtempSync(join(tmpdir(), 'airlock-approval-traces-'));
  const audit = await AuditStore.open({ dataDir: await freshPgliteDir(join(dir, 'audit')) });
  const store = await ApprovalStore.open(audit.db, {
    webhook: { url: `http://127.0.0.1:${(hook.address() as { port: number }).port}/hook` },
  });
  const engine = await referenceEngine();
  const app = Fastify({ logger: false });
  await app.register(approvalsPlugin, {
    store,
    engine,
    audit,
    // bob of security, by a credential that must not reach any span.
    authenticate: async (request) =>
      request.headers.authorization === `Bearer ${CREDENTIAL}`
        ? { sub: 'bob', groups: ['security'] }
        : undefined,
  });
  t.teardown(async () => {
    await app.close();
    await store.close();
    await audit.close();
    await engine.close();
    rmSync(dir, { recursive: true, force: true });
  });

  // Parked inside a span of its own (in the gateway: the call's approval stage).
  const parkedIn = await traced('test park', async (span) => {
    const a = await store.park(parkRequest({ arguments: { id: ARGUMENT } }));
    return { id: a.id, span: span!.spanContext() };
  });
  const headers = {
    authorization: `Bearer ${CREDENTIAL}`,
    traceparent: `00-${TRACE_ID}-${CALLER_SPAN}-01`,
  };
  const listed = await app.inject({ method: 'GET', url: '/v1/approvals?status=pending', headers });
  t.equal(listed.statusCode, 200);
  t.match(listed.json(), { approvals: [{ id: parkedIn.id }] });
  const approved = await app.inject({
    method: 'POST',
    url: `/v1/approvals/${parkedIn.id}/approve`,
    headers: { ...headers, 'content-type': 'application/json' },
    payload: '{}',
  });
  t.equal(approved.statusCode, 200);
  t.match(approved.json(), { status: 'approved' });
  const anonymous = await app.inject({ method: 'GET', url: '/v1/approvals' });
  t.equal(anonymous.statusCode, 401);

  await tracing.flush();
  const isWebhook = (s: ReceivedSpan) => s.name === 'POST approval webhook';
  await receiver.until(
    (spans) =>
      spans.some(isWebhook) &&
      spans.some((s) => s.name === 'POST /v1/approvals/:id/approve') &&
      spans.filter((s) => s.name === 'GET /v1/approvals').length === 2,
  );
  const spans = receiver.spans;

  // GET /v1/approvals: authentication and the approve policy asked, as children.
  const list = spans.find((s) => s.name === 'GET /v1/approvals' && s.traceId === TRACE_ID)!;
  t.equal(list.kind, SERVER);
  t.equal(list.parentSpanId, CALLER_SPAN, "a child of the caller's span");
  t.match(list.attributes, { 'http.route': '/v1/approvals', 'http.response.status_code': 200 });
  t.same(
    childrenOf(spans, list)
      .map((s) => s.name)
      .sort(),
    ['airlock.authenticate', 'airlock.evaluate'],
  );
  t.match(childrenOf(spans, list).find((s) => s.name === 'airlock.evaluate')?.attributes, {
    'airlock.entrypoint': 'airlock/approve',
    'airlock.allowed': true,
    'airlock.stage': 'evaluate',
  });

  // POST …/approve: authenticate, evaluate, then the answer with its audit record inside it.
  const answer = spans.find((s) => s.name === 'POST /v1/approvals/:id/approve')!;
  t.equal(answer.kind, SERVER);
  t.equal(answer.traceId, TRACE_ID);
  t.match(answer.attributes, { 'airlock.approval_id': parkedIn.id, 'http.response.status_code': 200 });
  const stages = childrenOf(spans, answer);
  t.same(stages.map((s) => s.name).sort(), [
    'airlock.approval.answer',
    'airlock.authenticate',
    'airlock.evaluate',
  ]);
  const answered = stages.find((s) => s.name === 'airlock.approval.answer')!;
  t.match(answered.attributes, { 'airlock.approval.status': 'approved', 'airlock.stage': 'approval' });
  t.same(
    childrenOf(spans, answered).map((s) => [s.name, s.attributes['airlock.audit.kind']]),
    [['airlock.audit', 'approval_granted']],
    'the approval_granted record is committed inside the answer',
  );

  // An unauthenticated request: its span says 401.
  const refused = spans.find((s) => s.name === 'GET /v1/approvals' && s.traceId !== TRACE_ID)!;
  t.equal(refused.attributes['http.response.status_code'], 401);

  // The webhook: a CLIENT span under the park, and its traceparent went to the receiver.
  const webhook = spans.find(isWebhook)!;
  t.equal(webhook.kind, CLIENT);
  t.equal(webhook.parentSpanId, parkedIn.span.spanId, 'a child of the span the call was parked in');
  t.equal(webhook.traceId, parkedIn.span.traceId);
  t.match(webhook.attributes, { 'http.response.status_code': 204, 'airlock.approval_id': parkedIn.id });
  t.equal(hooks.length, 1);
  t.equal(
    hooks[0]!.traceparent,
    `00-${webhook.traceId}-${webhook.spanId}-01`,
    'the receiver can continue the trace',
  );
  t.match(hooks[0]!.body, ARGUMENT, 'the webhook itself carries the arguments (approvers see them)');

  const text = JSON.stringify(spans);
  t.notMatch(text, ARGUMENT, 'no parked argument in any span');
  t.notMatch(text, CREDENTIAL, "no approver's credential in any span");
  t.notMatch(text, '/hook', 'no webhook URL in any span');
});
