// Fail closed: upstream down, no policy bundle, audit failure → a precise error and nothing forwarded.
import t from 'tap';
import { Engine } from '../../src/engine/index.js';
import { GatewayErrorCode } from '../../src/gateway/index.js';
import { connectClient, crmUpstream, referenceEngine, rpcError, startAirlock } from './harness.js';

const engine = await referenceEngine();

t.test('an unreachable upstream is a precise upstream error', async (t) => {
  const crm = await crmUpstream();
  const url = crm.url;
  await crm.close();
  const airlock = await startAirlock(url, { engine, timeoutMs: 2000 });
  const client = await connectClient(airlock.base);
  t.teardown(async () => {
    await client.close();
    await airlock.close();
  });
  const err = await rpcError(client.callTool({ name: 'crm__lookup_customer', arguments: { id: 'C-1' } }));
  t.equal(err.code, GatewayErrorCode.UpstreamFailed);
  t.equal(
    err.message,
    'MCP error -32004: upstream crm is unreachable',
    'what failed, not the transport internals',
  );
  t.same((err.data as { upstream: string }).upstream, 'crm');
  const rows = airlock.events.filter((e) => (e.details as { list_failed?: boolean })?.list_failed);
  t.match(
    rows.at(-1),
    {
      kind: 'call_result',
      phase: 'response',
      upstreamServer: 'crm',
      user: { sub: 'sam' },
      details: { action: 'tools/call', list_failed: true, error: /./ },
    },
    'the list the call needed failed upstream: its row says so',
  );
  const before = rows.length;
  const list = await rpcError(client.listTools());
  t.equal(list.code, GatewayErrorCode.UpstreamFailed);
  t.equal(list.message, 'MCP error -32004: upstream crm is unreachable');
  t.match(
    airlock.events.filter((e) => (e.details as { list_failed?: boolean })?.list_failed).slice(before),
    [{ kind: 'call_result', upstreamServer: 'crm', details: { action: 'tools/list', list_failed: true } }],
    'a tools/list that fails upstream leaves an audit row',
  );
  // The stdio upstream still answers: one failing upstream does not take the others down.
  const ok = await client.callTool({ name: 'zendesk__get_ticket', arguments: { id: 'T-9' } });
  t.same(ok.content, [{ type: 'text', text: 'ticket T-9: printer on fire' }]);
});

t.test('no policy bundle: nothing listed, nothing forwarded', async (t) => {
  const crm = await crmUpstream();
  const airlock = await startAirlock(crm.url, { engine: new Engine() });
  const client = await connectClient(airlock.base);
  t.teardown(async () => {
    await client.close();
    await airlock.close();
    await crm.close();
  });
  const list = await rpcError(client.listTools());
  t.equal(list.code, GatewayErrorCode.PolicyUnavailable);
  t.match(list.message, /no policy bundle is active/);
  const call = await rpcError(client.callTool({ name: 'crm__lookup_customer', arguments: { id: 'C-1' } }));
  t.equal(call.code, GatewayErrorCode.PolicyUnavailable);
  t.equal(crm.calls.length, 0);
});

t.test('an audit failure stops the call before it is forwarded', async (t) => {
  const crm = await crmUpstream();
  const airlock = await startAirlock(crm.url, {
    engine,
    audit: { record: () => Promise.reject(new Error('database is down')) },
  });
  const client = await connectClient(airlock.base);
  t.teardown(async () => {
    await client.close();
    await airlock.close();
    await crm.close();
  });
  const err = await rpcError(client.callTool({ name: 'crm__lookup_customer', arguments: { id: 'C-1' } }));
  t.equal(err.code, GatewayErrorCode.PolicyUnavailable);
  t.equal(
    err.message,
    'MCP error -32003: audit record failed, nothing forwarded: the audit trail is unavailable',
  );
  t.notMatch(err.message, /database is down/, "the store's own text stays in the gateway");
  t.equal(crm.calls.length, 0);
});

t.test('arguments over the input limits: -32602, a deny, nothing forwarded', async (t) => {
  const small = await referenceEngine({ inputLimits: { maxBytes: 4096 } });
  t.teardown(() => small.close());
  const crm = await crmUpstream();
  const airlock = await startAirlock(crm.url, { engine: small });
  const client = await connectClient(airlock.base);
  t.teardown(async () => {
    await client.close();
    await airlock.close();
    await crm.close();
  });
  const err = await rpcError(
    client.callTool({ name: 'crm__lookup_customer', arguments: { id: 'C-1', note: 'x'.repeat(8000) } }),
  );
  t.equal(err.code, -32602, 'invalid params');
  t.equal(err.code, GatewayErrorCode.InvalidParams);
  t.match(err.message, /input is larger than 4096 bytes as JSON \(engine\.input_limits\.max_bytes\)/);
  t.equal(crm.calls.length, 0, 'nothing was forwarded');
  // The same call within the limits goes through.
  const ok = await client.callTool({ name: 'crm__lookup_customer', arguments: { id: 'C-1' } });
  t.equal(ok.isError ?? false, false);
  t.equal(crm.calls.length, 1);
});
