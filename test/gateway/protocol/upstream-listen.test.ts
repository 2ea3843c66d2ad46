// A 2026-07-28 upstream pushes list changes and resource updates only on a `subscriptions/listen`
// stream: Airlock opens one on its session with that upstream (the list changes it offers, and the
// resources its callers subscribed), so they reach Airlock's callers as from older upstreams. The
// SDK's v2 client, pinned to 2026-07-28, listens through Airlock; the upstream is the v2 server.
import {
  Client as V2Client,
  StreamableHTTPClientTransport as V2Transport,
} from '@modelcontextprotocol/client';
import { McpServer as V2McpServer } from '@modelcontextprotocol/server';
import t from 'tap';
import { TEST_PRINCIPAL_HEADER } from '../../../src/gateway/index.js';
import { allowAllEngine } from '../allow-all.js';
import { SUPPORT_PRINCIPAL, startAirlock } from '../harness.js';
import { servePerRequest } from './per-request-upstream.js';

const REVISION = '2026-07-28';
const URI = 'memo://today';

const upstream = await servePerRequest(
  () => {
    const s = new V2McpServer(
      { name: 'modern', version: '2.0.0' },
      { capabilities: { tools: { listChanged: true }, resources: { subscribe: true, listChanged: true } } },
    );
    s.registerTool('noop', {}, async () => ({ content: [{ type: 'text', text: 'ok' }] }));
    s.registerResource('today', URI, {}, async () => ({ contents: [{ uri: URI, text: 'nothing yet' }] }));
    return s;
  },
  () => false,
  'auto',
);

const airlock = await startAirlock(upstream.url, {
  engine: await allowAllEngine(),
  topology: {
    upstreams: [{ name: 'modern', transport: 'http', url: upstream.url, timeout_ms: 10_000 }],
    virtual_servers: [{ name: 'support', upstreams: ['modern'] }],
  } as Parameters<typeof startAirlock>[1]['topology'],
});
t.teardown(async () => {
  await airlock.close();
  await upstream.close();
});

const client = new V2Client(
  { name: 'v2-agent', version: '2.4.0' },
  { versionNegotiation: { mode: { pin: REVISION } } },
);
await client.connect(
  new V2Transport(new URL(`${airlock.base}/mcp/support`), {
    requestInit: { headers: { [TEST_PRINCIPAL_HEADER]: JSON.stringify(SUPPORT_PRINCIPAL) } },
  }),
);
t.teardown(() => client.close());

/** Resolves with the params of the next `method` notification the client gets. */
function next(method: 'notifications/tools/list_changed' | 'notifications/resources/updated') {
  return new Promise<unknown>((resolve) => {
    client.setNotificationHandler(method, (n: { params?: unknown }) => resolve(n.params ?? {}));
  });
}

const listed = `subscriptions/listen` as const;

t.test('list changes and resource updates of a 2026-07-28 upstream reach a listening caller', async (t) => {
  // Connecting opens the upstream session, and with it Airlock's listen stream to the upstream.
  t.match((await client.listTools()).tools, [{ name: 'modern__noop' }]);
  const subscription = await client.listen({ toolsListChanged: true, resourceSubscriptions: [URI] });
  t.teardown(() => subscription.close());
  t.same(subscription.honoredFilter.resourceSubscriptions, [URI], 'Airlock subscribed the URI upstream');
  const listens = upstream.seen.filter((s) => s.method === listed);
  t.ok(listens.length >= 2, 'Airlock listened upstream: list changes, then with the resource');
  t.match(listens.at(-1)?.meta, { 'io.modelcontextprotocol/protocolVersion': REVISION });

  const changed = next('notifications/tools/list_changed');
  upstream.notify.toolsChanged();
  t.ok(await changed, 'the upstream’s tools/list_changed reached the caller');

  const updated = next('notifications/resources/updated');
  upstream.notify.resourceUpdated(URI);
  t.match(await updated, { uri: URI }, 'the update of the subscribed resource reached the caller');

  // The caller stops listening: Airlock unsubscribes, and listens upstream without the resource.
  const before = upstream.seen.filter((s) => s.method === listed).length;
  await subscription.close();
  for (let i = 0; i < 200 && upstream.seen.filter((s) => s.method === listed).length === before; i++)
    await new Promise((r) => setTimeout(r, 50));
  t.equal(
    upstream.seen.filter((s) => s.method === listed).length,
    before + 1,
    'one listen stream opened anew',
  );
});
