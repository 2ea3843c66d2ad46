// The policy routes over the whole product (real OpenID sign-in, `airlock serve`, an agent through the
// gateway), without a browser: the status of the active bundle and live data for security; an input
// evaluated against the active bundle, with precise refusals of bad bodies; a revocation written by an
// admin through airlock/admin takes effect on the agent's next call and is recorded, while a security
// engineer is refused by airlock/console and a write outside the admin's roots by airlock/admin.
import { writeFileSync } from 'node:fs';
import t, { type Test } from 'tap';
import { shownLocation } from '../../src/console/policy-routes.js';
import { rpcError } from '../gateway/harness.js';
import { signInWithoutBrowser, startConsoleStack } from './fixture.js';

t.setTimeout(240_000);
const stack = await startConsoleStack();
t.teardown(() => stack.close());
const { url } = stack;

const session = async (sub: string) => {
  const cookie = await signInWithoutBrowser(url, sub);
  const me = (await (await fetch(`${url}/console/api/me`, { headers: { cookie } })).json()) as {
    csrf_token: string;
  };
  return { cookie, csrf: me.csrf_token };
};
const bob = await session('bob');
const ada = await session('ada');
const alice = await session('alice');

const send = (
  path: string,
  who: { cookie: string; csrf?: string } | undefined,
  body: string,
  type = 'application/json',
) =>
  fetch(`${url}${path}`, {
    method: 'POST',
    headers: {
      'content-type': type,
      ...(who ? { cookie: who.cookie } : {}),
      ...(who?.csrf ? { 'x-airlock-csrf': who.csrf } : {}),
    },
    body,
  });
const problem = async (t: Test, res: Response, status: number, type: string, detail?: RegExp) => {
  t.equal(res.status, status, type);
  t.match(res.headers.get('content-type'), /^application\/problem\+json/);
  const body = (await res.json()) as Record<string, unknown>;
  t.equal(body.type, `https://airlock.dev/problems/${type}`);
  if (detail) t.match(body.detail, detail);
};
const input = (sub: string, groups: string[], tool: string) => ({
  phase: 'request',
  action: 'tools/call',
  user: { sub, groups },
  agent: { id: 'devops-agent' },
  server: { name: 'github', virtual: 'devops' },
  tool: { name: tool },
  arguments: {},
});

t.test('policy status: the active bundle and live data, for those with policy.read', async (t) => {
  t.equal((await fetch(`${url}/console/api/policy`)).status, 401);
  await problem(
    t,
    await fetch(`${url}/console/api/policy`, { headers: { cookie: alice.cookie } }),
    403,
    'console-forbidden',
    /alice may not policy\.read/,
  );
  const res = await fetch(`${url}/console/api/policy`, { headers: { cookie: bob.cookie } });
  t.equal(res.status, 200);
  const s = (await res.json()) as Record<string, unknown>;
  t.match(s, {
    ready: true,
    bundle: { revision: /\S/, origin: /airlock\.tar\.gz/, activated_at: /^\d{4}-/, signed: false },
    last_failure: null,
    load_failures: 0,
    console_entrypoint: 'airlock/console',
    admin_entrypoint: 'airlock/admin',
    live_data: { enabled: true, version: 0 },
  });
  t.ok((s.bundle as { entrypoints: string[] }).entrypoints.includes('airlock/decision'));
});

t.test('evaluate: refusals before the body, precise errors for bad ones, the decision', async (t) => {
  const good = JSON.stringify({ input: input('alice', ['eng'], 'list_repos') });
  await problem(t, await send('/console/api/evaluate', undefined, good), 401, 'unauthenticated');
  await problem(t, await send('/console/api/evaluate', { cookie: bob.cookie }, good), 403, 'csrf-refused');
  await problem(
    t,
    await send('/console/api/evaluate', alice, good),
    403,
    'console-forbidden',
    /alice may not policy\.replay/,
  );
  await problem(
    t,
    await send('/console/api/evaluate', bob, '{"input": {'),
    400,
    'bad-request',
    /not valid JSON/,
  );
  await problem(t, await send('/console/api/evaluate', bob, '[1]'), 400, 'bad-request', /a JSON object/);
  await problem(t, await send('/console/api/evaluate', bob, '{}'), 400, 'bad-request', /input is required/);
  await problem(
    t,
    await send('/console/api/evaluate', bob, JSON.stringify({ entrypoint: 'airlock/nope', input: {} })),
    400,
    'bad-request',
    /no entrypoint "airlock\/nope" \(it has .*airlock\/decision/,
  );
  await problem(
    t,
    await send('/console/api/evaluate', bob, `{"input": ${'['.repeat(40)}${']'.repeat(40)}}`),
    400,
    'bad-request',
    /nested deeper than 32 levels/,
  );
  await problem(
    t,
    await send('/console/api/evaluate', bob, JSON.stringify({ input: 'x'.repeat(300 * 1024) })),
    413,
    'body-too-large',
  );
  await problem(
    t,
    await send('/console/api/evaluate', bob, good, 'text/plain'),
    415,
    'unsupported-media-type',
  );

  const res = await send('/console/api/evaluate', bob, good);
  t.equal(res.status, 200);
  t.match(await res.json(), { entrypoint: 'airlock/decision', defined: true, result: { effect: 'allow' } });
  const denied = await send(
    '/console/api/evaluate',
    bob,
    JSON.stringify({ input: input('alice', ['eng'], 'delete_everything') }),
  );
  t.match(await denied.json(), { result: { effect: 'deny' } });
});

t.test('a revocation by an admin takes effect and is recorded; others are refused', async (t) => {
  const agent = await stack.agentFor('alice');
  await agent.callTool({ name: 'github__list_repos', arguments: {} });
  const revoke = JSON.stringify({
    op: 'put',
    path: '/revocations/users/alice',
    value: { reason: 'laptop stolen' },
  });

  await problem(
    t,
    await send('/console/api/data', bob, revoke),
    403,
    'console-forbidden',
    /needs data\.write\): bob may not data\.write/,
  );
  await problem(t, await send('/console/api/data', { cookie: ada.cookie }, revoke), 403, 'csrf-refused');
  await problem(
    t,
    await send('/console/api/data', ada, JSON.stringify({ op: 'put', path: '/agents/x', value: {} })),
    403,
    'admin-forbidden',
    /airlock\/admin refused PUT \/agents\/x: principal ada may not write data\.agents/,
  );
  await problem(
    t,
    await send('/console/api/data', ada, JSON.stringify({ op: 'put', path: 'revocations' })),
    400,
    'bad-request',
    /path must be a string starting with \//,
  );

  const res = await send('/console/api/data', ada, revoke);
  t.equal(res.status, 200);
  t.match(await res.json(), {
    version: 1,
    live_data: { revocations: { users: { alice: { reason: 'laptop stolen' } } } },
  });
  const refused = await rpcError(agent.callTool({ name: 'github__list_repos', arguments: {} }));
  t.match(refused.message, /Tool github__list_repos not found/, 'hidden from her, as a denied tool is');
  const last = (await (
    await fetch(`${url}/console/api/audit?user=alice&kind=decision&order=desc&limit=1`, {
      headers: { cookie: bob.cookie },
    })
  ).json()) as { events: { effect: string; target_name: string }[] };
  t.match(last.events[0], { effect: 'deny', target_name: 'github__list_repos' }, 'denied in the trail');
  const why = await send(
    '/console/api/evaluate',
    bob,
    JSON.stringify({ input: input('alice', ['eng'], 'list_repos') }),
  );
  t.match(
    await why.json(),
    { result: { effect: 'deny', reasons: ['user alice is revoked'] } },
    'the revocation is the reason',
  );

  const trail = (await (
    await fetch(`${url}/console/api/audit?kind=data_change`, { headers: { cookie: bob.cookie } })
  ).json()) as { events: { user_sub: string; details: { operation: string; path: string } }[] };
  t.match(trail.events[0], {
    user_sub: 'ada',
    details: { operation: 'put', path: '/revocations/users/alice' },
  });

  const restore = await send(
    '/console/api/data',
    ada,
    JSON.stringify({ op: 'delete', path: '/revocations/users/alice' }),
  );
  t.equal(restore.status, 200);
  const ran = await agent.callTool({ name: 'github__list_repos', arguments: {} });
  t.notOk(ran.isError, 'restored: she may list again');
  await problem(
    t,
    await send('/console/api/data', ada, JSON.stringify({ op: 'delete', path: '/revocations/users/alice' })),
    404,
    'data-write-refused',
    /does not exist/,
  );
});

t.test('a bundle that fails to load: shown as the last failure, the active bundle kept', async (t) => {
  const status = async () =>
    (await (await fetch(`${url}/console/api/policy`, { headers: { cookie: bob.cookie } })).json()) as {
      bundle: { revision: string };
      last_failure: { origin: string; message: string; at: string } | null;
      load_failures: number;
    };
  const before = await status();
  writeFileSync(stack.bundlePath, 'not a tarball');
  let after = before;
  // The server polls the file every 2 s; wait for its verdict (bounded).
  for (let i = 0; i < 100 && after.last_failure === null; i++) {
    await new Promise((r) => setTimeout(r, 200));
    after = await status();
  }
  t.match(after.last_failure, { origin: 'airlock.tar.gz', message: /\S/, at: /^\d{4}-/ });
  t.notMatch(after.last_failure?.message, /\/tmp\//, 'no directories');
  t.ok(after.load_failures >= 1);
  t.equal(after.bundle.revision, before.bundle.revision, 'the active bundle stays');
});

t.test('bundle locations are shown without credentials, query strings or directories', async (t) => {
  t.equal(
    shownLocation('GET https://u:secret@bundles.corp/b.tar.gz?token=abc failed (/var/lib/airlock/b.tar.gz)'),
    'GET https://bundles.corp/b.tar.gz failed (b.tar.gz)',
  );
});
