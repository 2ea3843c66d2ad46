// Logging and resource subscriptions per caller, through a real Airlock to a real session-keeping
// upstream: a caller's log level reaches only its own upstream session, log messages and resource
// updates reach only the caller whose session they came on; each request is decided and audited,
// and a policy can refuse either (the upstream then gets nothing).
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import {
  type LoggingMessageNotification,
  LoggingMessageNotificationSchema,
  ResourceUpdatedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import t from 'tap';
import { GatewayErrorCode } from '../../src/gateway/index.js';
import { connectClient, rpcError, startAirlock } from './harness.js';
import { allowingEngine, sessionUpstream } from './session-fixture.js';

const upstream = await sessionUpstream();
t.teardown(() => upstream.close());

const principal = (sub: string) => ({
  user: { sub, email: `${sub}@corp.example`, groups: ['eng'], claims: {} },
  agent: { id: 'log-agent', client_id: 'log-agent', claims: {} },
  model: null,
});

const topology = {
  upstreams: [{ name: 'counter', transport: 'http' as const, url: upstream.url, timeout_ms: 5000 }],
  virtual_servers: [{ name: 'counting', upstreams: ['counter'] }],
};

/** A client recording the log messages and resource updates it receives. */
async function listening(base: string, sub: string) {
  const client = await connectClient(base, 'counting', principal(sub));
  const logs: LoggingMessageNotification['params'][] = [];
  const updates: string[] = [];
  client.setNotificationHandler(LoggingMessageNotificationSchema, async (n) => {
    logs.push(n.params);
  });
  client.setNotificationHandler(ResourceUpdatedNotificationSchema, async (n) => {
    updates.push(n.params.uri);
  });
  return { client, logs, updates };
}

const log = (c: Client, level: string, text: string) =>
  c.callTool({ name: 'counter__log', arguments: { level, text } });

/** Logs until the caller's notification stream delivers (it opens asynchronously after connect). */
async function streamReady(c: Awaited<ReturnType<typeof listening>>) {
  for (let i = 0; i < 200 && c.logs.length === 0; i++) {
    await log(c.client, 'emergency', 'ping');
    await new Promise((r) => setTimeout(r, 25));
  }
  if (c.logs.length === 0) throw new Error('the notification stream never delivered');
}

const until = async (ok: () => boolean) => {
  for (let i = 0; i < 400 && !ok(); i++) await new Promise((r) => setTimeout(r, 25));
};

t.test('log level and log messages are per caller', async (t) => {
  const airlock = await startAirlock('', { engine: await allowingEngine(), topology });
  const alice = await listening(airlock.base, 'alice');
  const bob = await listening(airlock.base, 'bob');
  t.teardown(async () => {
    await alice.client.close();
    await bob.client.close();
    await airlock.close();
  });
  await streamReady(alice);
  await streamReady(bob);
  const bobBefore = bob.logs.length;

  await alice.client.setLoggingLevel('error');
  const row = airlock.events.find((e) => (e.details as { action?: string })?.action === 'logging/setLevel');
  t.match(row, {
    kind: 'decision',
    effect: 'allow',
    upstreamServer: 'counter',
    arguments: { level: 'error' },
  });
  t.ok(
    airlock.events.some(
      (e) =>
        e.kind === 'call_result' &&
        (e.details as { action?: string; forwarded?: boolean })?.forwarded === true &&
        e.decisionId === row?.decisionId,
    ),
    'the outcome is audited',
  );

  await log(alice.client, 'info', 'alice-info');
  await log(alice.client, 'error', 'alice-error');
  await log(bob.client, 'info', 'bob-info');
  await until(
    () => alice.logs.some((l) => l.data === 'alice-error') && bob.logs.some((l) => l.data === 'bob-info'),
  );
  const aliceSaw = alice.logs.map((l) => l.data);
  t.ok(aliceSaw.includes('alice-error'));
  t.notOk(aliceSaw.includes('alice-info'), "alice's level applies to her session");
  t.ok(
    bob.logs.some((l) => l.data === 'bob-info'),
    "bob's session keeps its own level",
  );
  t.notOk(aliceSaw.includes('bob-info'), "bob's messages never reach alice");
  t.notOk(
    bob.logs.slice(bobBefore).some((l) => String(l.data).startsWith('alice')),
    "alice's messages never reach bob",
  );
  t.equal(
    alice.logs.find((l) => l.data === 'alice-error')?.logger,
    'counter/counter',
    'the logger names the upstream',
  );
});

t.test('resource updates reach only the subscribing caller', async (t) => {
  const airlock = await startAirlock('', { engine: await allowingEngine(), topology });
  const alice = await listening(airlock.base, 'alice');
  const bob = await listening(airlock.base, 'bob');
  t.teardown(async () => {
    await alice.client.close();
    await bob.client.close();
    await airlock.close();
  });
  await streamReady(alice);
  await streamReady(bob);
  await alice.client.subscribeResource({ uri: 'counter://state' });
  const subscribed = airlock.events.find(
    (e) => e.kind === 'decision' && (e.details as { action?: string })?.action === 'resources/subscribe',
  );
  t.match(subscribed, {
    effect: 'allow',
    upstreamServer: 'counter',
    target: { type: 'resource', name: 'counter://state' },
  });
  const touch = (c: Client) =>
    c
      .callTool({ name: 'counter__touch', arguments: { uri: 'counter://state' } })
      .then((r) => (r.content as { text: string }[])[0]?.text);
  t.equal(await touch(bob.client), 'nobody listens', "alice's subscription is not on bob's session");
  t.equal(await touch(alice.client), 'announced');
  await until(() => alice.updates.length > 0);
  t.same(alice.updates, ['counter://state']);
  t.same(bob.updates, [], 'bob gets nothing');
  await alice.client.unsubscribeResource({ uri: 'counter://state' });
  t.equal(await touch(alice.client), 'nobody listens', 'unsubscribed upstream');
});

t.test(
  'a policy can refuse logging/setLevel and resources/subscribe; the upstream gets nothing',
  async (t) => {
    const airlock = await startAirlock('', {
      engine: await allowingEngine(['logging/setLevel', 'resources/subscribe']),
      topology,
    });
    const client = await connectClient(airlock.base, 'counting', principal('mallory'));
    t.teardown(async () => {
      await client.close();
      await airlock.close();
    });
    const before = upstream.methods.length;
    const denied = await rpcError(client.setLoggingLevel('debug'));
    t.equal(denied.code, GatewayErrorCode.Denied);
    t.match(denied.message, /logging\/setLevel is not allowed here/);
    const refused = await rpcError(client.subscribeResource({ uri: 'counter://state' }));
    t.equal(refused.code, GatewayErrorCode.Denied);
    const sent = upstream.methods.slice(before);
    t.notOk(sent.includes('logging/setLevel'), 'no setLevel upstream');
    t.notOk(sent.includes('resources/subscribe'), 'no subscribe upstream');
    const rows = airlock.events.filter((e) => e.kind === 'decision' && e.effect === 'deny');
    t.ok(
      rows.some((e) => (e.details as { action?: string })?.action === 'logging/setLevel'),
      'the refused setLevel is on the record',
    );
    t.ok(
      rows.some(
        (e) =>
          e.target?.name === 'counter://state' &&
          (e.details as { action?: string })?.action === 'resources/subscribe',
      ),
      'the refused subscription is on the record',
    );
  },
);
