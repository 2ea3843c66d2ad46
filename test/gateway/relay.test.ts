// What travels besides a call's params, through a real Airlock to a real session-keeping upstream:
// the upstream's JSON-RPC errors with their code, its instructions, `_meta` both ways, progress
// (which also keeps a long call alive past its timeout), and cancellation (by notification and by
// disconnect), which the upstream sees and the audit trail records.
import t from 'tap';
import { DECISION_META_KEY, GatewayErrorCode, TEST_PRINCIPAL_HEADER } from '../../src/gateway/index.js';
import { connectClient, rpcError, startAirlock } from './harness.js';
import { allowingEngine, INSTRUCTIONS, QUOTA_ERROR, sessionUpstream } from './session-fixture.js';

const engine = await allowingEngine();
const upstream = await sessionUpstream();
const PRINCIPAL = {
  user: { sub: 'rita', email: 'rita@corp.example', groups: ['eng'], claims: {} },
  agent: { id: 'relay-agent', client_id: 'relay-agent', claims: {} },
  model: null,
};
// A short timeout: the progress test runs longer than it in all.
const TIMEOUT_MS = 1500;
const airlock = await startAirlock('', {
  engine,
  topology: {
    upstreams: [{ name: 'counter', transport: 'http', url: upstream.url, timeout_ms: TIMEOUT_MS }],
    virtual_servers: [{ name: 'counting', upstreams: ['counter'] }],
  },
});
const client = await connectClient(airlock.base, 'counting', PRINCIPAL);
t.teardown(async () => {
  await client.close();
  await airlock.close();
  await upstream.close();
});

/** The first audit event (waited for) that `match` accepts. */
async function audited(match: (e: (typeof airlock.events)[number]) => boolean) {
  for (let i = 0; i < 500; i++) {
    const e = airlock.events.find(match);
    if (e) return e;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('no such audit event');
}

t.test("an upstream's JSON-RPC error reaches the client with its code, message and data", async (t) => {
  const err = await rpcError(client.readResource({ uri: 'quota://exhausted' }));
  t.equal(err.code, QUOTA_ERROR.code, 'the upstream code, not -32004');
  t.match(err.message, /quota exhausted/);
  const data = err.data as Record<string, unknown>;
  t.equal(data.retry_after, 5, "the upstream's data kept");
  t.equal(data.upstream, 'counter');
  t.type(data.decision_id, 'string', "Airlock's decision id added");
  const row = await audited((e) => e.kind === 'call_result' && e.decisionId === data.decision_id);
  t.match(row.details, { upstream_code: QUOTA_ERROR.code });
});

t.test("initialize answers with the upstreams' instructions", async (t) => {
  const instructions = client.getInstructions();
  t.match(instructions, INSTRUCTIONS);
  t.match(instructions, /counter__/, 'says which names they speak of');
});

t.test('request _meta reaches the upstream; result _meta comes back with the decision id', async (t) => {
  const before = upstream.metas.length;
  const r = await client.callTool({
    name: 'counter__echo-meta',
    arguments: {},
    _meta: { 'client.example/trace': 'c-7', 'airlock.dev/model': 'anthropic/claude-sonnet-4' },
  });
  const seen = upstream.metas[before] as Record<string, unknown>;
  t.equal(seen['client.example/trace'], 'c-7');
  t.notOk('airlock.dev/model' in seen, "Airlock's own keys stay with Airlock");
  t.equal(r._meta?.['upstream.example/trace'], 't-1');
  t.type(r._meta?.[DECISION_META_KEY], 'string');
});

t.test('progress is relayed to the client and keeps a call alive past its timeout', async (t) => {
  const seen: { progress: number; total?: number; message?: string }[] = [];
  const steps = 3;
  const ms = 700; // 3 × 700 ms > TIMEOUT_MS: only progress keeps the call alive
  const r = await client.callTool({ name: 'counter__slow', arguments: { steps, ms } }, undefined, {
    onprogress: (p) => seen.push(p),
    timeout: 60_000,
  });
  t.match((r.content as { text: string }[])[0]?.text, `done after ${steps} steps`);
  t.same(
    seen.map((p) => p.progress),
    [1, 2, 3],
  );
  t.equal(seen[0]?.total, steps);
  t.equal(seen[0]?.message, 'step 1');
});

t.test('a client cancellation reaches the upstream and is audited as cancelled', async (t) => {
  const started = upstream.nextWait();
  const cancelled = upstream.nextCancel();
  const abort = new AbortController();
  const call = client.callTool({ name: 'counter__wait', arguments: {} }, undefined, { signal: abort.signal });
  await started;
  abort.abort('the user pressed stop');
  await t.rejects(call);
  t.type(await cancelled, 'string', 'the upstream saw notifications/cancelled');
  const row = await audited(
    (e) =>
      e.kind === 'call_result' && (e.details as { outcome?: string } | undefined)?.outcome === 'cancelled',
  );
  t.equal(row.target?.name, 'wait');
});

t.test('a client that disconnects cancels its call upstream', async (t) => {
  const started = upstream.nextWait();
  const cancelled = upstream.nextCancel();
  const abort = new AbortController();
  const before = airlock.events.length;
  const response = fetch(`${airlock.base}/mcp/counting`, {
    method: 'POST',
    signal: abort.signal,
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': '2025-06-18',
      [TEST_PRINCIPAL_HEADER]: JSON.stringify(PRINCIPAL),
    },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 41,
      method: 'tools/call',
      params: { name: 'counter__wait', arguments: {} },
    }),
  });
  await started;
  abort.abort();
  // A tools/call answers on an SSE stream, whose headers may have arrived before the abort.
  await response.then((r) => r.body?.cancel()).catch(() => {});
  t.type(await cancelled, 'string', 'the upstream saw notifications/cancelled');
  const row = await audited(
    (e) =>
      airlock.events.indexOf(e) >= before &&
      e.kind === 'call_result' &&
      (e.details as { outcome?: string } | undefined)?.outcome === 'cancelled',
  );
  t.ok(row);
});

t.test('a timeout still answers -32004', async (t) => {
  const err = await rpcError(client.callTool({ name: 'counter__slow', arguments: { steps: 1, ms: 3000 } }));
  t.equal(err.code, GatewayErrorCode.UpstreamFailed);
  t.match(err.message, /timed out/);
});
