// A request's evaluations share one look for live data written by other replicas (gateway.ts,
// SHARED_LOOK_MS): a tools/call evaluates the policy three times (visibility, the call, the result)
// but asks the database once, and the next request asks again, so it sees any write made meanwhile.
import t from 'tap';
import { LiveData } from '../../src/engine/index.js';
import { connectClient, crmUpstream, referenceEngine, startAirlock } from './harness.js';

const engine = await referenceEngine();
const crm = await crmUpstream();
const airlock = await startAirlock(crm.url, { engine });
const live = await LiveData.open(airlock.store!.db, engine, {
  pollIntervalMs: 0,
  checkBeforeEvaluation: true,
});
const client = await connectClient(airlock.base);
// Counts the gateway's evaluations (the engine itself is unchanged).
let evaluations = 0;
const evaluate = engine.evaluate.bind(engine);
engine.evaluate = (...args) => {
  evaluations++;
  return evaluate(...args);
};
t.teardown(async () => {
  live.stop();
  await client.close();
  await airlock.close();
  await crm.close();
});

t.test('one look per tools/call, not one per evaluation', async (t) => {
  await client.callTool({ name: 'zendesk__get_ticket', arguments: { id: 'T-0' } }); // warm the session
  evaluations = 0;
  const before = live.mark();
  const r = await client.callTool({ name: 'zendesk__get_ticket', arguments: { id: 'T-1' } });
  t.same(r.content, [{ type: 'text', text: 'ticket T-1: printer on fire' }]);
  t.ok(evaluations >= 3, `the call evaluated the policy ${evaluations} times`);
  t.equal(live.mark() - before, 1, 'the database was asked once');
  await client.callTool({ name: 'zendesk__get_ticket', arguments: { id: 'T-2' } });
  t.equal(live.mark() - before, 2, 'the next request asks again');
});

t.test('the next request sees a revocation written just before it', async (t) => {
  await live.write({ op: 'put', path: ['revocations', 'users', 'sam'], value: true }, 'admin');
  const refused = await client.callTool({ name: 'zendesk__get_ticket', arguments: { id: 'T-3' } }).then(
    (r) => r.isError === true,
    () => true,
  );
  t.ok(refused, 'sam is revoked: the call is refused');
  await live.write({ op: 'delete', path: ['revocations', 'users', 'sam'] }, 'admin');
  const r = await client.callTool({ name: 'zendesk__get_ticket', arguments: { id: 'T-4' } });
  t.same(r.content, [{ type: 'text', text: 'ticket T-4: printer on fire' }]);
});
