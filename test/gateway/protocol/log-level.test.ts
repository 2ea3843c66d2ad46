import {
  Client as V2Client,
  StreamableHTTPClientTransport as V2Transport,
} from '@modelcontextprotocol/client';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { McpServer as V2McpServer } from '@modelcontextprotocol/server';
import t from 'tap';
import { TEST_PRINCIPAL_HEADER } from '../../../src/gateway/index.js';
import { sessionHttpUpstream } from '../../helpers/session-http-upstream.js';
import { allowAllEngine } from '../allow-all.js';
import { SUPPORT_PRINCIPAL, startAirlock } from '../harness.js';
import { servePerRequest } from './per-request-upstream.js';

const REVISION = '2026-07-28';
const LOG_LEVEL = 'io.modelcontextprotocol/logLevel';
const LEVELS = ['debug', 'info', 'warning', 'error'] as const;

/** The 2026-07-28 upstream: `chatty` logs once at each of LEVELS during the call. */
const modern = await servePerRequest(
  () => {
    const s = new V2McpServer({ name: 'modern', version: '2.0.0' }, { capabilities: { logging: {} } });
    s.registerTool('chatty', {}, async (ctx) => {
      for (const level of LEVELS) await ctx.mcpReq.log(level, `modern ${level}`);
      return { content: [{ type: 'text', text: 'done' }] };
    });
    return s;
  },
  () => false,
  'auto',
);

/** A session-revision upstream keeping sessions: `chatty` logs the same, related to the call. */
async function olderUpstream() {
  const metas: unknown[] = [];
  const upstream = await sessionHttpUpstream(() => {
    const s = new McpServer({ name: 'older', version: '1.0.0' }, { capabilities: { logging: {} } });
    s.registerTool('chatty', {}, async (extra) => {
      metas.push(extra._meta);
      for (const level of LEVELS)
        await extra.sendNotification({
          method: 'notifications/message',
          params: { level, data: `older ${level}` },
        });
      return { content: [{ type: 'text', text: 'done' }] };
    });
    return s;
  });
  return { ...upstream, metas };
}
const older = await olderUpstream();

const airlock = await startAirlock(modern.url, {
  engine: await allowAllEngine(),
  topology: {
    upstreams: [
      { name: 'modern', transport: 'http', url: modern.url, timeout_ms: 10_000 },
      { name: 'older', transport: 'http', url: older.url, timeout_ms: 10_000 },
    ],
    virtual_servers: [{ name: 'support', upstreams: ['modern', 'older'] }],
  } as Parameters<typeof startAirlock>[1]['topology'],
});
t.teardown(async () => {
  await airlock.close();
  await modern.close();
  await older.close();
});

const client = new V2Client(
  { name: 'v2-agent', version: '2.4.0' },
  { versionNegotiation: { mode: { pin: REVISION } } },
);
const logged: { level: string; logger?: string; data: unknown }[] = [];
client.setNotificationHandler('notifications/message', (n) => {
  logged.push(n.params as (typeof logged)[number]);
});
await client.connect(
  new V2Transport(new URL(`${airlock.base}/mcp/support`), {
    requestInit: { headers: { [TEST_PRINCIPAL_HEADER]: JSON.stringify(SUPPORT_PRINCIPAL) } },
  }),
);
t.teardown(() => client.close());

const call = (name: string, level?: string) =>
  client.callTool({ name, arguments: {}, ...(level ? { _meta: { [LOG_LEVEL]: level } } : {}) });

t.test(
  'a 2026-07-28 upstream is told the level; the call streams its messages at that level or above',
  async (t) => {
    logged.length = 0;
    const r = await call('modern__chatty', 'warning');
    t.match(r.content, [{ text: 'done' }]);
    t.same(
      logged.map((m) => [m.level, m.data, m.logger]),
      [
        ['warning', 'modern warning', 'modern'],
        ['error', 'modern error', 'modern'],
      ],
      'only warning and error, in order, the logger naming the upstream',
    );
    const sent = modern.seen.filter((s) => s.method === 'tools/call').at(-1);
    t.match(sent?.meta, { [LOG_LEVEL]: 'warning' }, 'the level went upstream in the envelope');
  },
);

t.test('a session-revision upstream: its messages during the call are filtered by Airlock', async (t) => {
  logged.length = 0;
  await call('older__chatty', 'info');
  t.same(
    logged.map((m) => [m.level, m.data]),
    [
      ['info', 'older info'],
      ['warning', 'older warning'],
      ['error', 'older error'],
    ],
  );
  t.notOk(
    JSON.stringify(older.metas.at(-1) ?? {}).includes(LOG_LEVEL),
    'the 2026-07-28 key is not sent to an older revision',
  );
});

t.test('a call naming no level gets no log messages on its stream', async (t) => {
  logged.length = 0;
  await call('older__chatty');
  await call('modern__chatty');
  t.same(logged, []);
});
