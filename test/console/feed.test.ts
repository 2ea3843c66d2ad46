// The inbox's live feed over a real approval store (PGlite): one signal when a call is parked, when
// one is answered, and when one expires on the store's clock; none while nothing changes.
import t from 'tap';
import { ApprovalsFeed } from '../../src/console/feed.js';
import { ApprovalStore } from '../../src/gateway/approvals.js';
import { pgliteBackend } from '../audit/backends.js';
import { parkRequest } from '../gateway/approval-fixture.js';

const backend = pgliteBackend();
const audit = await backend.open();
let clock = Date.parse('2026-06-01T10:00:00Z');
const store = await ApprovalStore.open(audit.db, { now: () => clock, pollIntervalMs: 5000 });
t.teardown(async () => {
  await store.close();
  await audit.close();
  await backend.teardown();
});

t.test('signals parked, answered and expired calls, and nothing else', async (t) => {
  const feed = new ApprovalsFeed(store, 20);
  let signals = 0;
  const stop = feed.subscribe(() => signals++);
  t.teardown(() => stop());
  const settle = () => new Promise((r) => setTimeout(r, 150));
  await settle();
  t.equal(signals, 0, 'the first look is the baseline');

  const a = await store.park(parkRequest({ ttlSeconds: 60 }));
  await settle();
  t.equal(signals, 1, 'a parked call');
  await settle();
  t.equal(signals, 1, 'no change, no signal');

  await store.answer(a.id, { status: 'approved', by: { sub: 'bob', groups: ['security'] } });
  await settle();
  t.equal(signals, 2, 'an answered call');

  await store.park(parkRequest({ ttlSeconds: 60, arguments: { id: 'c-43' } }));
  await settle();
  t.equal(signals, 3);
  clock += 61_000;
  await settle();
  t.equal(signals, 4, 'an expired call leaves the pending set');

  stop();
  t.equal(feed.listeners, 0, 'polling stops with the last listener');
});
