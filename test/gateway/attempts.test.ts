// Every attempt on the record: calls of hidden or unknown tools, resources and prompts are audited as
// denied with the real reason while the agent gets exactly the unknown-item error; malformed
// requests get the JSON-RPC code the specification gives them with a short message; tokens in the
// query string are refused before anything else.
import t, { type Test } from 'tap';
import type { AuditEvent, AuditStore } from '../../src/audit/index.js';
import { GatewayErrorCode, TEST_PRINCIPAL_HEADER } from '../../src/gateway/index.js';
import { postgresBackend } from '../audit/backends.js';
import {
  CARD,
  connectClient,
  crmUpstream,
  referenceEngine,
  rpcError,
  SUPPORT_PRINCIPAL,
  startAirlock,
} from './harness.js';

const engine = await referenceEngine();
const crm = await crmUpstream();
const airlock = await startAirlock(crm.url, { engine });
const store = airlock.store as AuditStore;
t.teardown(async () => {
  await airlock.close();
  await crm.close();
});

/** POSTs one raw JSON-RPC body as the support agent; the HTTP status and body text. */
async function post(base: string, body: string): Promise<{ status: number; text: string }> {
  const r = await fetch(`${base}/mcp/support`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      [TEST_PRINCIPAL_HEADER]: JSON.stringify(SUPPORT_PRINCIPAL),
    },
    body,
  });
  const text = await r.text();
  // A tools/call answers on an SSE stream: the JSON-RPC response is its last event's data.
  if (!r.headers.get('content-type')?.startsWith('text/event-stream')) return { status: r.status, text };
  const data = text.split('\n').filter((l) => l.startsWith('data: '));
  return { status: r.status, text: data.at(-1)?.slice('data: '.length) ?? '' };
}

const call = (method: string, params: unknown) => JSON.stringify({ jsonrpc: '2.0', id: 7, method, params });

/** The audit events after `seq`. */
async function newest(on: AuditStore, after: number): Promise<AuditEvent[]>;
async function newest(after: number): Promise<AuditEvent[]>;
async function newest(a: AuditStore | number, b?: number): Promise<AuditEvent[]> {
  const [on, after] = typeof a === 'number' ? [store, a] : [a, b ?? 0];
  // The rows of the attempts, not those of an upstream session opened meanwhile (client/capabilities).
  return (await on.query({ after })).events.filter(
    (e) => (e.details as { action?: unknown } | null)?.action !== 'client/capabilities',
  );
}
/** The newest event's sequence number. */
async function head(on: AuditStore = store): Promise<number> {
  return (await on.query({ order: 'desc', limit: 1 })).events[0]?.seq ?? 0;
}

t.test('hidden and unknown items: the same error for the agent, the real reason in the trail', async (t) => {
  const cases = [
    {
      method: 'tools/call',
      type: 'tool',
      hidden: 'crm__delete_customer', // crm offers it; support-agent may not see it
      unknown: 'crm__delete_customez',
      params: (name: string) => ({ name, arguments: { id: 'C-1' } }),
      hiddenReason: 'tool crm__delete_customer is hidden from agent support-agent by policy',
      unknownReason: 'upstream crm offers no tool delete_customez',
    },
    {
      method: 'resources/read',
      type: 'resource',
      hidden: 'crm://customers/C-1',
      unknown: 'crm://customers/C-9',
      params: (uri: string) => ({ uri }),
      hiddenReason: 'resource crm://customers/C-1 is hidden from agent support-agent by policy',
      unknownReason: 'no upstream of virtual server support offers resource crm://customers/C-9',
    },
    {
      method: 'prompts/get',
      type: 'prompt',
      hidden: 'crm__internal-escalation',
      unknown: 'crm__internal-escalatioz',
      params: (name: string) => ({ name, arguments: {} }),
      hiddenReason: 'prompt crm__internal-escalation is hidden from agent support-agent by policy',
      unknownReason: 'upstream crm offers no prompt internal-escalatioz',
    },
  ];
  for (const c of cases) {
    const before = await head();
    const hidden = await post(airlock.base, call(c.method, c.params(c.hidden)));
    const unknown = await post(airlock.base, call(c.method, c.params(c.unknown)));
    t.equal(hidden.status, 200);
    t.equal(
      hidden.text,
      unknown.text.replace(c.unknown, c.hidden),
      `${c.method}: the hidden item's answer is byte for byte the unknown item's`,
    );
    t.match(JSON.parse(hidden.text), {
      error: {
        code: GatewayErrorCode.NotFound,
        message: `${c.type[0]!.toUpperCase()}${c.type.slice(1)} ${c.hidden} not found`,
      },
    });
    t.notMatch(hidden.text, /hidden|policy|support-agent/, 'nothing says why');
    const events = await newest(before);
    t.match(
      events.map((e) => ({
        kind: e.kind,
        effect: e.effect,
        targetType: e.targetType,
        targetName: e.targetName,
        reasons: e.reasons,
        userSub: e.userSub,
        agentId: e.agentId,
        details: e.details,
      })),
      [
        {
          kind: 'decision',
          effect: 'deny',
          targetType: c.type,
          targetName: c.hidden,
          reasons: [c.hiddenReason],
          userSub: 'sam',
          agentId: 'support-agent',
          details: { action: c.method, not_found: 'hidden' },
        },
        {
          kind: 'decision',
          effect: 'deny',
          targetType: c.type,
          targetName: c.unknown,
          reasons: [c.unknownReason],
          details: { action: c.method, not_found: 'unknown' },
        },
      ],
      `${c.method}: both attempts recorded as denied, each with its own reason`,
    );
    t.equal(events.length, 2);
  }
  t.equal(crm.calls.length, 0, 'nothing was forwarded');

  // A name no upstream of the virtual server can own at all.
  const before = await head();
  const client = await connectClient(airlock.base);
  t.teardown(() => client.close());
  const err = await rpcError(client.callTool({ name: 'nobody__x', arguments: { a: 1 } }));
  t.equal(err.code, GatewayErrorCode.NotFound);
  const [e] = await newest(before);
  t.match(e, {
    effect: 'deny',
    targetName: 'nobody__x',
    arguments: { a: 1 },
    reasons: ['no upstream of virtual server support offers tool nobody__x (no such upstream)'],
  });
});

t.test('the arguments of a refused attempt are kept as the policy keeps them', async (t) => {
  const before = await head();
  const r = await post(
    airlock.base,
    call('tools/call', { name: 'crm__delete_customer', arguments: { id: 'C-1', note: `card ${CARD}` } }),
  );
  t.match(JSON.parse(r.text), { error: { code: GatewayErrorCode.NotFound } });
  const [e] = await newest(before);
  t.match(e, { effect: 'deny', targetName: 'crm__delete_customer', arguments: { id: 'C-1' } });
  t.notMatch(JSON.stringify(e), CARD, 'the card number does not land in the trail');
});

/** Lone surrogates and NUL on one backend: Postgres text and jsonb hold neither. */
async function unstorableSuite(t: Test, on: { base: string; store: AuditStore; calls: unknown[] }) {
  for (const [bad, label] of [
    ['\\ud800', 'a lone UTF-16 surrogate'],
    ['\\u0000', 'U+0000 (NUL)'],
  ] as const) {
    const before = await head(on.store);
    const r = await post(
      on.base,
      `{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"crm__lookup_customer","arguments":{"id":"C-1${bad}x"}}}`,
    );
    t.equal(r.status, 200, `${label}: answered, not a 500`);
    t.same(JSON.parse(r.text), {
      jsonrpc: '2.0',
      id: 3,
      error: {
        code: -32602,
        message: `Invalid params: /arguments/id contains ${label}: strings must be well-formed Unicode without U+0000`,
      },
    });
    const events = await newest(on.store, before);
    t.equal(events.length, 1);
    t.match(events[0], {
      kind: 'decision',
      effect: 'deny',
      targetName: 'crm__lookup_customer',
      arguments: { id: 'C-1\ufffdx' },
      reasons: [
        `invalid params: /arguments/id contains ${label}: strings must be well-formed Unicode without U+0000`,
      ],
      details: { action: 'tools/call', invalid_params: '/arguments/id', note: /U\+FFFD/ },
    });
  }
  t.equal(on.calls.length, 0, 'nothing was forwarded');
}

t.test('lone surrogates and NUL in arguments: -32602, and the attempt is recorded (PGlite)', (t) =>
  unstorableSuite(t, { base: airlock.base, store, calls: crm.calls }),
);

const postgres = await postgresBackend();
t.test('… and on Postgres', { skip: typeof postgres === 'string' ? postgres : false }, async (t) => {
  if (typeof postgres === 'string') return;
  const pgStore = await postgres.open();
  const upstream = await crmUpstream();
  const onPostgres = await startAirlock(upstream.url, { engine, store: pgStore });
  t.teardown(async () => {
    await onPostgres.close();
    await pgStore.close();
    await upstream.close();
    await postgres.teardown();
  });
  await unstorableSuite(t, { base: onPostgres.base, store: pgStore, calls: upstream.calls });
});

t.test('params that do not fit the method: -32602 with a short message, not a zod dump', async (t) => {
  const cases: [string, unknown, string][] = [
    [
      'tools/call',
      { name: 5 },
      'Invalid params: params.name: Invalid input: expected string, received number',
    ],
    ['prompts/get', {}, 'Invalid params: params.name: Invalid input: expected string, received undefined'],
    [
      'resources/read',
      { uri: ['x'] },
      'Invalid params: params.uri: Invalid input: expected string, received array',
    ],
  ];
  for (const [method, params, message] of cases) {
    const r = await post(airlock.base, call(method, params));
    t.equal(r.status, 200);
    t.same(JSON.parse(r.text), { jsonrpc: '2.0', id: 7, error: { code: -32602, message } }, method);
  }
  const notJson = await post(airlock.base, '{"jsonrpc":"2.0",');
  t.equal(notJson.status, 400);
  t.same(JSON.parse(notJson.text), {
    jsonrpc: '2.0',
    id: null,
    error: { code: -32700, message: 'Parse error: the body is not valid JSON' },
  });
  const notRpc = await post(airlock.base, '{"id":1,"method":"tools/list"}');
  t.equal(notRpc.status, 400);
  t.same(JSON.parse(notRpc.text), {
    jsonrpc: '2.0',
    id: 1,
    error: { code: -32600, message: 'Invalid Request: not a JSON-RPC 2.0 message' },
  });
  const unknownMethod = await post(airlock.base, call('tools/destroy', {}));
  t.match(JSON.parse(unknownMethod.text), { error: { code: -32601 } }, 'an unknown method is -32601');
});

t.test('a token in the query string is refused before anything else', async (t) => {
  const before = await head();
  for (const q of ['access_token=eyJhbGciOi.secret.sig', 'token=abc', 'x=1&Access_Token=abc']) {
    const r = await fetch(`${airlock.base}/mcp/support?${q}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: call('tools/call', { name: 'crm__lookup_customer', arguments: { id: 'C-1' } }),
    });
    t.equal(r.status, 400, q);
    t.match(r.headers.get('content-type'), /^application\/problem\+json/);
    t.match(r.headers.get('www-authenticate'), /^Bearer error="invalid_request"/);
    const body = (await r.json()) as Record<string, unknown>;
    t.match(body, { status: 400, error: 'invalid_request', detail: /must not be sent in the query string/ });
    t.notMatch(JSON.stringify(body), /abc|secret/, 'the token is not echoed');
  }
  // Even on a virtual server that does not exist, and even with a body that is not JSON.
  const r = await fetch(`${airlock.base}/mcp/nowhere?token=abc`, { method: 'POST', body: '{' });
  t.equal(r.status, 400);
  t.equal(await head(), before, 'nothing was audited');
  t.equal(crm.calls.length, 0, 'nothing was forwarded');
});
