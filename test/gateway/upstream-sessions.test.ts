// Per-caller upstream sessions: two users through one Airlock to one session-keeping upstream never
// share its session state; idle sessions are closed; a session the upstream forgets is opened again;
// the pool is bounded.
import t from 'tap';
import { type GatewayConfig, TEST_PRINCIPAL_HEADER } from '../../src/gateway/index.js';
import { connectClient, rpcBody, STDIO_UPSTREAM, startAirlock } from './harness.js';
import { allowingEngine, sessionUpstream } from './session-fixture.js';

const engine = await allowingEngine();
const upstream = await sessionUpstream();
t.teardown(() => upstream.close());

const principal = (sub: string) => ({
  user: { sub, email: `${sub}@corp.example`, groups: ['eng'], claims: {} },
  agent: { id: 'counter-agent', client_id: 'counter-agent', claims: {} },
  model: null,
});

function topology(sessions?: Record<string, unknown>): Pick<GatewayConfig, 'upstreams' | 'virtual_servers'> {
  return {
    upstreams: [
      {
        name: 'counter',
        transport: 'http',
        url: upstream.url,
        timeout_ms: 5000,
        ...(sessions ? { sessions } : {}),
      },
    ],
    virtual_servers: [{ name: 'counting', upstreams: ['counter'] }],
  };
}

const text = (r: unknown) => ((r as { content: { text: string }[] }).content[0] as { text: string }).text;

async function airlockWith(
  t: { teardown: (fn: () => Promise<void>) => void },
  sessions?: Record<string, unknown>,
) {
  const airlock = await startAirlock('', { engine, topology: topology(sessions) });
  const clients: Awaited<ReturnType<typeof connectClient>>[] = [];
  t.teardown(async () => {
    for (const c of clients) await c.close();
    await airlock.close();
  });
  return {
    airlock,
    client: async (sub: string) => {
      const c = await connectClient(airlock.base, 'counting', principal(sub));
      clients.push(c);
      return c;
    },
  };
}

const count = (c: Awaited<ReturnType<typeof connectClient>>) =>
  c.callTool({ name: 'counter__count', arguments: {} }).then(text);

t.test('two users never share an upstream session', async (t) => {
  const before = upstream.open();
  const { client } = await airlockWith(t);
  const alice = await client('alice');
  const bob = await client('bob');
  t.equal(await count(alice), 'count 1');
  t.equal(await count(alice), 'count 2');
  t.equal(await count(bob), 'count 1', "bob's session starts from nothing");
  t.equal(await count(alice), 'count 3', "bob's call did not touch alice's session");
  t.equal(await count(bob), 'count 2');
  t.equal(upstream.open() - before, 2, 'one upstream session per caller');
});

t.test("a completion reaches the caller's own session", async (t) => {
  const { client } = await airlockWith(t);
  const carol = await client('carol');
  const dan = await client('dan');
  await count(carol);
  await count(carol);
  const complete = (c: Awaited<ReturnType<typeof connectClient>>) =>
    c
      .complete({ ref: { type: 'ref/prompt', name: 'counter__tally' }, argument: { name: 'at', value: '' } })
      .then((r) => r.completion.values);
  t.same(await complete(carol), ['count 2'], "carol's session, where she counted");
  t.same(await complete(dan), ['count 0'], "dan's own session");
});

t.test('the same user through another agent or virtual server has another session', async (t) => {
  const { airlock } = await airlockWith(t);
  const a = await connectClient(airlock.base, 'counting', principal('carol'));
  const other = principal('carol');
  other.agent = { id: 'second-agent', client_id: 'second-agent', claims: {} };
  const b = await connectClient(airlock.base, 'counting', other);
  t.teardown(async () => {
    await a.close();
    await b.close();
  });
  t.equal(await count(a), 'count 1');
  t.equal(await count(b), 'count 1');
  t.equal(await count(a), 'count 2');
});

t.test(
  'an idle session is closed, not while its caller listens; the next call opens a new one',
  async (t) => {
    const { airlock, client } = await airlockWith(t, { idle_ms: 50 });
    const dave = await client('dave');
    t.equal(await count(dave), 'count 1');
    // The SDK client keeps a notification stream (GET) open: dave's session is his listening post.
    await new Promise((r) => setTimeout(r, 400));
    t.equal(await count(dave), 'count 2', 'kept while dave has a notification stream open');
    const ended = upstream.nextEnd();
    await dave.close();
    const id = await ended;
    t.ok(
      upstream.ended.includes(id),
      'closed once the stream closed; the upstream saw the session end (DELETE)',
    );
    // A caller without a stream: plain POSTs.
    const post = async () => {
      const r = await fetch(`${airlock.base}/mcp/counting`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          'mcp-protocol-version': '2025-06-18',
          [TEST_PRINCIPAL_HEADER]: JSON.stringify(principal('dave')),
        },
        body: JSON.stringify({
          jsonrpc: '2.0',
          id: 1,
          method: 'tools/call',
          params: { name: 'counter__count', arguments: {} },
        }),
      });
      return text(((await rpcBody(r)) as { result: unknown }).result);
    };
    const endedAgain = upstream.nextEnd();
    t.equal(await post(), 'count 1', 'a fresh session');
    await endedAgain;
    t.pass('an idle session without a listener is closed');
  },
);

t.test('a session the upstream forgot is opened again and the call succeeds', async (t) => {
  const { client } = await airlockWith(t);
  const erin = await client('erin');
  t.equal(await count(erin), 'count 1');
  t.equal(await count(erin), 'count 2');
  upstream.forget();
  t.equal(await count(erin), 'count 1', 'the call went through on a new session');
  t.equal(await count(erin), 'count 2');
});

t.test('a full pool closes the least recently used session without a request in flight', async (t) => {
  const { client } = await airlockWith(t, { max: 2 });
  const f = await client('frank');
  t.equal(await count(f), 'count 1');
  const g = await client('grace');
  t.equal(await count(g), 'count 1');
  t.equal(await count(f), 'count 2');
  // A third caller (its initialize opens its session) takes the place of the least recently used.
  const ended = upstream.nextEnd();
  const h = await client('heidi');
  await ended;
  t.equal(await count(h), 'count 1', 'a third caller gets a session');
  t.equal(await count(f), 'count 3', 'the most recently used session was kept');
  t.equal(await count(g), 'count 1', "grace's session was the one closed");
});

t.test('lists are per session; tools that need tasks are not listed', async (t) => {
  const { client } = await airlockWith(t);
  const ivan = await client('ivan');
  const { tools } = await ivan.listTools();
  const names = tools.map((x) => x.name);
  t.ok(names.includes('counter__count'));
  t.notOk(names.includes('counter__background-job'), 'taskSupport "required" is hidden');
});

t.test('stdio: one process for everybody by default; per_caller starts one per caller', async (t) => {
  for (const [isolation, shared] of [
    ['shared', true],
    ['per_caller', false],
  ] as const) {
    const airlock = await startAirlock('', {
      engine,
      topology: {
        upstreams: [
          {
            name: 'desk',
            transport: 'stdio',
            command: process.execPath,
            args: [STDIO_UPSTREAM],
            sessions: { isolation },
          },
        ],
        virtual_servers: [{ name: 'counting', upstreams: ['desk'] }],
      },
    });
    const alice = await connectClient(airlock.base, 'counting', principal('alice'));
    const bob = await connectClient(airlock.base, 'counting', principal('bob'));
    const names = async (c: typeof alice) => (await c.listTools()).tools.map((x) => x.name);
    t.notOk((await names(bob)).includes('desk__run_macro'));
    // enable_macros adds a tool to the process it runs in.
    await alice.callTool({ name: 'desk__enable_macros', arguments: {} });
    for (let i = 0; i < 200 && !(await names(alice)).includes('desk__run_macro'); i++)
      await new Promise((r) => setTimeout(r, 25));
    t.ok((await names(alice)).includes('desk__run_macro'), `${isolation}: alice sees what she enabled`);
    t.equal(
      (await names(bob)).includes('desk__run_macro'),
      shared,
      shared ? "shared: the process (and its state) is everybody's" : "per_caller: bob's process is his own",
    );
    await alice.close();
    await bob.close();
    await airlock.close();
  }
});
