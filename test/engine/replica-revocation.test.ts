// Instant revocation across replicas: two real `airlock serve` gateways on one Postgres database. An
// admin revokes alice through replica A's Data API; alice's very next call on replica B — no sleep,
// no poll (both replicas have live-data polling off) — is denied, and lifting the revocation on A is
// obeyed by the next call on B just as fast. Postgres only: a PGlite directory belongs to one process,
// so there is no second replica to ask.
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { ErrorCode } from '@modelcontextprotocol/sdk/types.js';
import t from 'tap';
import { GatewayErrorCode } from '../../src/gateway/index.js';
import { rpcError } from '../gateway/harness.js';
import { postgresDatabase, type Replica, startFleet } from '../helpers/gateway-fleet.js';

// Two child processes start slowly on a loaded 2-core machine (tsx): this file's own bound.
t.setTimeout(600_000);

const db = await postgresDatabase('replicas');
if (typeof db === 'string') {
  t.comment(`NOTICE: revocation across replicas skipped: ${db}`);
} else {
  const fleet = await startFleet();
  t.teardown(async () => {
    await fleet.close();
    await db.drop();
  });
  // Polling off: only the check before each evaluation can carry A's write to B.
  const noPolling = { live_data: { poll_interval_ms: 0 } };
  const a: Replica = await fleet.start(db, noPolling);
  const b: Replica = await fleet.start(db, noPolling);
  const alice = await fleet.token('alice', ['eng']);
  const carol = await fleet.token('carol', ['admins']);
  const onB: Client = await fleet.agent(b, alice);
  const search = (query: string) => onB.callTool({ name: 'github__search_code', arguments: { query } });
  const revocation = (method: 'PUT' | 'DELETE') =>
    fetch(`${a.url}/v1/data/revocations/users/alice`, {
      method,
      headers: {
        authorization: `Bearer ${carol}`,
        ...(method === 'PUT' ? { 'content-type': 'application/json' } : {}),
      },
      ...(method === 'PUT' ? { body: JSON.stringify({ reason: 'left the company' }) } : {}),
    });

  t.test('a revocation written on replica A is obeyed by the next call on replica B', async (t) => {
    t.not(a.url, b.url);
    const before = await search('before');
    t.same(before.content, [{ type: 'text', text: 'found before' }], 'alice may search on B');
    const upstreamBefore = fleet.upstreamCalls();

    t.equal((await revocation('PUT')).status, 204, 'carol (admins) revokes alice on A');
    // Revoked, alice may see no tool: her call is answered as for a tool that does not exist.
    const refused = await rpcError(search('after-revocation'));
    t.equal(refused.code, ErrorCode.InvalidParams, "B refuses alice's very next call");
    t.match(refused.message, /github__search_code not found/);
    t.equal(fleet.upstreamCalls(), upstreamBefore, 'nothing reached the upstream');
    const listed = await rpcError(onB.listTools());
    t.equal(listed.code, GatewayErrorCode.Denied, 'her tool list is denied');
    t.match(listed.message, /alice is revoked/, 'because she is revoked');

    t.equal((await revocation('DELETE')).status, 204, 'the revocation is lifted on A');
    const again = await search('after-lifting');
    t.same(again.content, [{ type: 'text', text: 'found after-lifting' }], 'B obeys that at once too');
  });
}
