// An upstream's log messages under policy (src/gateway/relay/log-messages.ts), through a real
// Airlock to a real session-keeping upstream: each message on a caller's own session is one
// decision (`notifications/message`, the upstream's own logger, level and data), relayed as
// allowed, masked as redacted, dropped as denied, in order; dropped and redacted ones are audited;
// a caller without a notification stream costs no evaluation.
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import {
  type LoggingMessageNotification,
  LoggingMessageNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import t from 'tap';
import { buildBundle, Engine } from '../../src/engine/index.js';
import { TEST_PRINCIPAL_HEADER } from '../../src/gateway/index.js';
import { LogMessageQueue } from '../../src/gateway/relay/log-messages.js';
import { connectClient, startAirlock } from './harness.js';
import { sessionUpstream } from './session-fixture.js';

// Allows and shows everything; for log messages: "drop" in the text denies, a card number is masked
// by the credit_card detector, and the reasons say what the decision input held.
const POLICY = `package airlock
import rego.v1

listed(kind, key) := [item[key] | some item in object.get(input, ["result", kind], [])]

seen := sprintf("%s %s %s %s", [input.server.name, input.server.virtual, input.arguments.logger, input.arguments.level])

decision := {"effect": "deny", "reasons": [concat(" ", ["dropped:", seen])]} if {
	input.action == "notifications/message"
	contains(input.arguments.data, "drop")
} else := {
	"effect": "redact",
	"reasons": [concat(" ", ["masked:", seen])],
	"redact": {"arguments": [], "result": [{"path": "/data", "pattern": "pii.credit_card"}]},
} if {
	input.action == "notifications/message"
	regex.match(data.pii.detectors.credit_card.regex, input.arguments.data)
} else := {
	"effect": "allow",
	"reasons": [],
	"visible_tools": listed("tools", "name"),
	"visible_resources": listed("resources", "uri"),
	"visible_prompts": listed("prompts", "name"),
}
`;

const engine = new Engine();
await engine.activate(
  buildBundle(
    {
      sources: [{ file: 'logs.rego', text: POLICY }],
      data: { pii: { detectors: { credit_card: { regex: '\\b(?:\\d[ -]?){12,18}\\d\\b' } } } },
    },
    { entrypoints: ['airlock/decision'] },
  ).bundle,
  'log-test',
);
// Counts the evaluations for log messages (the real engine still decides each one).
let logEvaluations = 0;
const evaluate = engine.evaluate.bind(engine);
engine.evaluate = (entrypoint, input) => {
  if ((input as { action?: string }).action === 'notifications/message') logEvaluations++;
  return evaluate(entrypoint, input);
};

const upstream = await sessionUpstream();
const airlock = await startAirlock('', {
  engine,
  topology: {
    upstreams: [{ name: 'counter', transport: 'http', url: upstream.url, timeout_ms: 5000 }],
    virtual_servers: [{ name: 'counting', upstreams: ['counter'] }],
  },
});
t.teardown(async () => {
  await airlock.close();
  await upstream.close();
});

const principal = (sub: string) => ({
  user: { sub, email: `${sub}@corp.example`, groups: ['eng'], claims: {} },
  agent: { id: 'log-agent', client_id: 'log-agent', claims: {} },
  model: null,
});

const log = (c: Client, text: string, level = 'info') =>
  c.callTool({ name: 'counter__log', arguments: { level, text } });

const until = async (ok: () => boolean) => {
  for (let i = 0; i < 400 && !ok(); i++) await new Promise((r) => setTimeout(r, 25));
};

const alice = await connectClient(airlock.base, 'counting', principal('alice'));
const logs: LoggingMessageNotification['params'][] = [];
alice.setNotificationHandler(LoggingMessageNotificationSchema, async (n) => {
  logs.push(n.params);
});
t.teardown(() => alice.close());
// The notification stream opens asynchronously after connect.
for (let i = 0; i < 200 && logs.length === 0; i++) {
  await log(alice, 'ready');
  await new Promise((r) => setTimeout(r, 25));
}
const texts = () => logs.map((l) => l.data);
const logRows = () =>
  airlock.events.filter(
    (e) => (e.details as { action?: string } | undefined)?.action === 'notifications/message',
  );

t.test('an allowed message is relayed as sent, one evaluation, no audit row', async (t) => {
  t.ok(texts().includes('ready'), 'the stream delivers');
  const evaluations = logEvaluations;
  const rows = logRows().length;
  await log(alice, 'plain words');
  await until(() => texts().includes('plain words'));
  t.match(
    logs.find((l) => l.data === 'plain words'),
    { level: 'info', logger: 'counter/counter' },
  );
  t.equal(logEvaluations - evaluations, 1, 'one evaluation for one message');
  t.equal(logRows().length, rows, 'allowed messages are not audited, as other notifications');
});

t.test('a redacted message reaches the caller masked; the row keeps the masked copy', async (t) => {
  await log(alice, 'card 4111 1111 1111 1111 charged', 'warning');
  await until(() => texts().some((x) => String(x).startsWith('card ')));
  t.equal(
    logs.find((l) => String(l.data).startsWith('card '))?.data,
    'card [REDACTED] charged',
    'masked before the caller saw it',
  );
  t.notOk(
    texts().some((x) => String(x).includes('4111')),
    'the number never reached the caller',
  );
  const row = logRows().findLast((e) => e.effect === 'redact');
  t.match(row, {
    kind: 'decision',
    phase: 'request',
    upstreamServer: 'counter',
    user: { sub: 'alice' },
    reasons: ['masked: counter counting counter warning'],
    arguments: { level: 'warning', logger: 'counter', data: 'card [REDACTED] charged' },
    details: { action: 'notifications/message', outcome: 'redacted' },
  });
});

t.test('a denied message is dropped and audited; the next one still comes, in order', async (t) => {
  await log(alice, 'please drop this');
  await log(alice, 'after one');
  await log(alice, 'after two');
  await until(() => texts().includes('after two'));
  t.notOk(texts().includes('please drop this'), 'dropped');
  const i = texts().indexOf('after one');
  t.ok(i >= 0 && texts()[i + 1] === 'after two', 'the later messages arrive in their order');
  t.match(
    logRows().findLast((e) => e.effect === 'deny'),
    {
      reasons: ['dropped: counter counting counter info'],
      details: { action: 'notifications/message', outcome: 'dropped' },
    },
  );
});

t.test('a caller without a notification stream costs no evaluation', async (t) => {
  const evaluations = logEvaluations;
  // A bare POST: carol's upstream session logs, but carol listens nowhere.
  const r = await fetch(`${airlock.base}/mcp/counting`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      [TEST_PRINCIPAL_HEADER]: JSON.stringify(principal('carol')),
    },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'tools/call',
      params: { name: 'counter__log', arguments: { level: 'info', text: 'to nobody' } },
    }),
  });
  t.equal(r.status, 200);
  await r.text();
  // Alice's own message after it shows that the relay has moved on.
  await log(alice, 'marker');
  await until(() => texts().includes('marker'));
  t.equal(logEvaluations - evaluations, 1, "only alice's message was decided");
  t.notOk(texts().includes('to nobody'));
});

t.test('a caller with too many messages awaiting their decision has the new ones dropped', async (t) => {
  const queue = new LogMessageQueue(2);
  const ran: number[] = [];
  let release!: () => void;
  const gate = new Promise<void>((r) => {
    release = r;
  });
  t.ok(
    queue.push('k', async () => {
      await gate;
      ran.push(1);
    }),
  );
  t.ok(
    queue.push('k', async () => {
      ran.push(2);
    }),
  );
  t.notOk(
    queue.push('k', async () => {
      ran.push(3);
    }),
    'the third waits for nobody: dropped',
  );
  t.ok(
    queue.push('other', async () => {
      ran.push(9);
    }),
    'other callers are not held up',
  );
  t.equal(queue.overflowed, 1);
  release();
  await new Promise((r) => setTimeout(r, 10));
  t.same(ran, [9, 1, 2], 'in order per caller');
  t.ok(
    queue.push('k', async () => {
      ran.push(4);
    }),
    'room again once decided',
  );
});
