// Resources and prompts through the gateway, list_changed passed on, and the request limits.
import { type McpError, ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import t from 'tap';
import { buildBundle, Engine } from '../../src/engine/index.js';
import { GatewayErrorCode, MASK } from '../../src/gateway/index.js';
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
const airlock = await startAirlock(crm.url, {
  engine,
  gateway: { limits: { json_depth: 16, body_bytes: 4096 } },
});
const client = await connectClient(airlock.base);
t.teardown(async () => {
  await client.close();
  await airlock.close();
  await crm.close();
});

t.test('resources/list shows only the resources the agent may read', async (t) => {
  const { resources } = await client.listResources();
  t.same(
    resources.map((r) => r.uri),
    ['kb://articles/refunds'],
    'crm://customers/C-1 is hidden: the support agent reads kb://* only',
  );
  t.equal(airlock.events.at(-1)?.kind, 'decision');
  t.same(airlock.events.at(-1)?.details, { action: 'resources/list', visible: ['kb://articles/refunds'] });
});

t.test('resources/read: allowed, redacted on the way back, hidden equals absent', async (t) => {
  const read = await client.readResource({ uri: 'kb://articles/refunds' });
  const text = (read.contents[0] as { text: string }).text;
  t.notMatch(text, CARD, 'the card number never reaches the agent');
  t.match(text, MASK);
  t.match(text, /Refunds within 30 days/);
  const last = airlock.events.at(-1)!;
  t.equal(last.kind, 'call_result');
  t.notMatch(JSON.stringify(last.result), CARD, 'the audit keeps only the redacted form');

  const fromTemplate = await client.readResource({ uri: 'kb://articles/shipping' });
  t.same(fromTemplate.contents, [{ uri: 'kb://articles/shipping', text: 'article shipping' }]);

  const hidden = await rpcError(client.readResource({ uri: 'crm://customers/C-1' }));
  const unknown = await rpcError(client.readResource({ uri: 'crm://customers/C-404' }));
  t.equal(hidden.code, GatewayErrorCode.NotFound);
  t.equal(hidden.code, unknown.code);
  t.equal(hidden.message.replace('C-1', 'X'), unknown.message.replace('C-404', 'X'));
});

t.test('prompts: listed by policy, named <upstream>__<prompt>, hidden equals absent', async (t) => {
  const { prompts } = await client.listPrompts();
  t.same(
    prompts.map((p) => p.name),
    ['crm__ticket-reply'],
  );
  const got = await client.getPrompt({ name: 'crm__ticket-reply', arguments: { tone: 'warm' } });
  t.same(got.messages[0]?.content, { type: 'text', text: 'Reply to the ticket in a warm tone.' });
  const hidden = await rpcError(client.getPrompt({ name: 'crm__internal-escalation' }));
  const unknown = await rpcError(client.getPrompt({ name: 'crm__nope' }));
  t.equal(hidden.code, GatewayErrorCode.NotFound);
  t.equal(hidden.message.replace('internal-escalation', 'X'), unknown.message.replace('nope', 'X'));
});

t.test("an upstream's tools/list_changed reaches connected agents", async (t) => {
  let notified = 0;
  const listener = await connectClient(airlock.base);
  t.teardown(() => listener.close());
  const changed = new Promise<void>((resolve) => {
    listener.setNotificationHandler(ToolListChangedNotificationSchema, async () => {
      notified++;
      resolve();
    });
  });
  // Give the client's notification stream (GET) a moment to open.
  await new Promise((r) => setTimeout(r, 200));
  const before = (await client.listTools()).tools.map((x) => x.name);
  t.notOk(before.includes('zendesk__run_macro'));
  await client.callTool({ name: 'zendesk__enable_macros', arguments: {} });
  await changed;
  t.equal(notified, 1);
  const after = (await client.listTools()).tools.map((x) => x.name);
  t.ok(after.includes('zendesk__run_macro'), 'the new tool is listed at once: the cached list was dropped');
});

const post = (body: string) =>
  fetch(`${airlock.base}/mcp/support`, {
    method: 'POST',
    body,
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'x-airlock-test-principal': JSON.stringify({
        user: { sub: 'sam', groups: ['support'], claims: {} },
        agent: { id: 'support-agent', claims: {} },
        model: null,
      }),
    },
  });

t.test('limits: nesting and body size get precise errors', async (t) => {
  const deep = `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"zendesk__get_ticket","arguments":{"id":${'['.repeat(40)}1${']'.repeat(40)}}}}`;
  const tooDeep = await post(deep);
  t.equal(tooDeep.status, 400);
  const body = (await tooDeep.json()) as { error: McpError };
  t.equal(body.error.code, GatewayErrorCode.InvalidRequest);
  t.match(body.error.message, /nested deeper than 16 levels/);

  const big = await post(
    JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'ping', params: { pad: 'x'.repeat(5000) } }),
  );
  t.equal(big.status, 413);
  t.match(big.headers.get('content-type'), /^application\/problem\+json/);
  t.match(await big.json(), { status: 413, detail: /limited to 4096 bytes/ });

  const broken = await post('{"jsonrpc": ');
  t.equal(broken.status, 400);
  t.match(broken.headers.get('content-type'), /^application\/json/);
  t.match(
    await broken.json(),
    { jsonrpc: '2.0', id: null, error: { code: -32700 } },
    'a JSON-RPC parse error',
  );
});

t.test('notification streams are bounded per agent', async (t) => {
  const limited = await startAirlock(crm.url, {
    engine,
    store: airlock.store!,
    gateway: { limits: { concurrent_calls_per_agent: 1 } },
  });
  t.teardown(() => limited.close());
  const open = (signal: AbortSignal) =>
    fetch(`${limited.base}/mcp/support`, {
      signal,
      headers: { accept: 'text/event-stream', 'x-airlock-test-principal': JSON.stringify(SUPPORT_PRINCIPAL) },
    });
  const first = new AbortController();
  const a = await open(first.signal);
  t.equal(a.status, 200);
  t.match(a.headers.get('content-type'), /text\/event-stream/);
  const second = new AbortController();
  const b = await open(second.signal);
  t.equal(b.status, 429);
  t.match(await b.json(), { detail: /support-agent already has 1 notification streams open \(limit 1\)/ });
  first.abort();
  await a.body?.cancel().catch(() => {});
  let c: Response | undefined;
  for (let i = 0; i < 50 && c?.status !== 200; i++) {
    await new Promise((r) => setTimeout(r, 20));
    c = await open(second.signal);
  }
  t.equal(c?.status, 200, 'a closed stream frees its place');
  second.abort();
});

t.test('a policy asking approval of anything but tools/call fails closed', async (t) => {
  // A policy of its own: everything listed is visible; prompts/get needs an approval.
  const policy = `package airlock
import rego.v1

decision := {"effect": "require_approval", "reasons": ["prompts need a second look"], "approval": {"approvers": ["group:security"]}} if {
	input.action == "prompts/get"
}

decision := {"effect": "allow", "reasons": [], "visible_prompts": [p.name | some p in input.result.prompts]} if {
	input.action == "prompts/list"
}
`;
  const built = buildBundle(
    { sources: [{ file: 'approve-prompts.rego', text: policy }], data: {} },
    {
      entrypoints: ['airlock/decision'],
    },
  );
  const asking = new Engine();
  await asking.activate(built.bundle, 'test');
  const other = await startAirlock(crm.url, { engine: asking, store: airlock.store! });
  const c = await connectClient(other.base);
  t.teardown(async () => {
    await c.close();
    await other.close();
  });
  const before = crm.methods.filter((m) => m === 'prompts/get').length;
  const err = await rpcError(c.getPrompt({ name: 'crm__ticket-reply', arguments: { tone: 'warm' } }));
  t.equal(err.code, GatewayErrorCode.PolicyUnavailable);
  t.match(err.message, /approval of prompts\/get, which only tools\/call supports/);
  t.equal(crm.methods.filter((m) => m === 'prompts/get').length, before, 'nothing forwarded');
});
