import t from 'tap';
import { DECISION_META_KEY, GatewayErrorCode, MASK } from '../../src/gateway/index.js';
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
const client = await connectClient(airlock.base);
t.teardown(async () => {
  await client.close();
  await airlock.close();
  await crm.close();
});

t.test('tools/list shows only what the policy shows, aggregated by upstream', async (t) => {
  const { tools } = await client.listTools();
  const names = tools.map((x) => x.name).sort();
  t.same(names, [
    'crm__lookup_customer',
    'crm__update_customer',
    'zendesk__close_ticket',
    'zendesk__enable_macros',
    'zendesk__get_ticket',
  ]);
  const last = airlock.events.at(-1);
  t.equal(last?.kind, 'decision');
  t.equal(last?.phase, 'response');
});

t.test('an allowed call is forwarded and its result returned', async (t) => {
  const r = await client.callTool({ name: 'zendesk__get_ticket', arguments: { id: 'T-1' } });
  t.same(r.content, [{ type: 'text', text: 'ticket T-1: printer on fire' }]);
  t.equal(r._meta?.[DECISION_META_KEY], airlock.events.at(-2)?.decisionId, 'the result names its decision');
  const kinds = airlock.events.slice(-2).map((e) => [e.kind, e.effect]);
  t.same(kinds, [
    ['decision', 'allow'],
    ['call_result', 'allow'],
  ]);
});

t.test('a hidden tool answers exactly like an unknown tool', async (t) => {
  const before = crm.calls.length;
  const hidden = await rpcError(client.callTool({ name: 'crm__delete_customer', arguments: { id: 'C-1' } }));
  const unknown = await rpcError(client.callTool({ name: 'crm__no_such_tool', arguments: { id: 'C-1' } }));
  t.equal(hidden.code, GatewayErrorCode.NotFound);
  t.equal(hidden.code, unknown.code);
  t.equal(hidden.message.replace('delete_customer', 'X'), unknown.message.replace('no_such_tool', 'X'));
  t.same(hidden.data, unknown.data);
  t.equal(crm.calls.length, before, 'nothing forwarded');
});

t.test('deny: a JSON-RPC error with decision id and reasons, nothing forwarded', async (t) => {
  const before = crm.calls.length;
  const err = await rpcError(
    client.callTool({ name: 'crm__update_customer', arguments: { id: 'C-1', note: CARD } }),
  );
  t.equal(err.code, GatewayErrorCode.Denied);
  const data = err.data as { decision_id: string; reasons: string[] };
  t.type(data.decision_id, 'string');
  t.match(data.reasons.join(' '), /credit_card/);
  t.equal(crm.calls.length, before);
  const audited = airlock.events.at(-1);
  t.equal(audited?.effect, 'deny');
  t.equal(audited?.decisionId, data.decision_id);
  t.notMatch(
    JSON.stringify(audited?.arguments),
    CARD,
    "the denied call's card number is masked in the audit too",
  );
  t.match(JSON.stringify(audited?.arguments), MASK);
});

t.test('redact: result matches masked before returning', async (t) => {
  const r = await client.callTool({ name: 'crm__lookup_customer', arguments: { id: 'C-7' } });
  const text = (r.content as { text: string }[])[0]?.text ?? '';
  t.notMatch(text, CARD);
  t.match(text, `card ${MASK} monthly`);
  t.equal(airlock.events.at(-1)?.effect, 'redact');
  t.notMatch(JSON.stringify(airlock.events.at(-1)?.result), CARD, 'the audit holds the masked result');
});

t.test('redact: argument pointers masked before forwarding', async (t) => {
  const before = airlock.events.length;
  const r = await client.callTool({ name: 'zendesk__get_ticket', arguments: { id: `card ${CARD}` } });
  const text = (r.content as { text: string }[])[0]?.text ?? '';
  t.equal(text, `ticket ${MASK}: printer on fire`, 'the stdio upstream received the masked argument');
  const mine = airlock.events.slice(before);
  t.same(
    mine.map((e) => [e.kind, e.effect]),
    [
      ['decision', 'redact'],
      ['call_result', 'allow'],
    ],
  );
  t.same(mine[0]?.arguments, { id: MASK }, 'the audit holds the masked arguments');
  t.notMatch(JSON.stringify(mine), CARD, 'no card number reached the audit trail');
});

t.test('require_approval parks the call and answers pending, never forwarded', async (t) => {
  const err = await rpcError(client.callTool({ name: 'zendesk__close_ticket', arguments: { id: 'T-2' } }));
  t.equal(err.code, GatewayErrorCode.ApprovalPending);
  t.match(err.message, /approval required/);
  const data = err.data as { approval_id: string; status: string; approvers: string[] };
  t.equal(data.status, 'pending');
  t.match(data.approvers, ['group:security']);
  t.same(
    airlock.events.slice(-2).map((e) => e.kind),
    ['decision', 'approval_requested'],
  );
  t.equal(airlock.events.at(-2)?.effect, 'require_approval');
  const parked = await airlock.approvals!.get(data.approval_id);
  t.same(parked?.arguments, { id: 'T-2' }, 'parked with its exact arguments');
  // Repeating the call while it is pending answers the same approval, without parking a second one.
  const again = await rpcError(client.callTool({ name: 'zendesk__close_ticket', arguments: { id: 'T-2' } }));
  t.equal((again.data as { approval_id: string }).approval_id, data.approval_id);
});

t.test("an upstream's tool list is fetched once and reused by lists and calls", async (t) => {
  const lists = () => crm.methods.filter((m) => m === 'tools/list').length;
  await client.listTools();
  const before = lists();
  await client.listTools();
  await client.callTool({ name: 'crm__lookup_customer', arguments: { id: 'C-8' } });
  await client.callTool({ name: 'crm__lookup_customer', arguments: { id: 'C-9' } });
  t.equal(lists(), before, 'no tools/list reached the upstream for two lists and two calls');
  t.ok(crm.methods.includes('tools/call'));
});

t.test('an unknown virtual server is a 404; a caller without identity a 401', async (t) => {
  const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' });
  const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
  t.equal((await fetch(`${airlock.base}/mcp/nope`, { method: 'POST', body, headers })).status, 404);
  t.equal((await fetch(`${airlock.base}/mcp/support`, { method: 'POST', body, headers })).status, 401);
});

t.test('clients of protocol revisions 2025-06-18 and 2025-11-25 are both served', async (t) => {
  for (const version of ['2025-06-18', '2025-11-25']) {
    const headers = {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'x-airlock-test-principal': JSON.stringify(SUPPORT_PRINCIPAL),
    };
    const init = await fetch(`${airlock.base}/mcp/support`, {
      method: 'POST',
      headers,
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: { protocolVersion: version, capabilities: {}, clientInfo: { name: 'old', version: '1' } },
      }),
    });
    const body = (await init.json()) as { result: { protocolVersion: string } };
    t.equal(body.result.protocolVersion, version, `initialize answers ${version}`);
    t.match(
      init.headers.get('mcp-session-id'),
      /^a1\./,
      'a session id any replica can check (client-sessions.ts); the requests below go without it',
    );
    const list = await fetch(`${airlock.base}/mcp/support`, {
      method: 'POST',
      headers: { ...headers, 'mcp-protocol-version': version },
      body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' }),
    });
    const tools = ((await list.json()) as { result: { tools: unknown[] } }).result.tools;
    t.ok(tools.length > 0, `tools/list under ${version}`);
  }
});
