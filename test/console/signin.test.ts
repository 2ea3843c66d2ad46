// The console without a browser: sign-in through the real provider (code + PKCE), cookie flags,
// unauthenticated access refused, CSRF refused on every write, logout, policy deciding the views.
import t from 'tap';
import { signInWithoutBrowser, startConsoleStack } from './fixture.js';

const stack = await startConsoleStack();
t.teardown(() => stack.close());
const { url } = stack;

const get = (path: string, cookie?: string, headers: Record<string, string> = {}) =>
  fetch(`${url}${path}`, { redirect: 'manual', headers: { ...headers, ...(cookie ? { cookie } : {}) } });
const post = (path: string, cookie: string | undefined, headers: Record<string, string>, body = '{}') =>
  fetch(`${url}${path}`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/json', ...headers, ...(cookie ? { cookie } : {}) },
    body,
  });

t.test('unauthenticated access is refused', async (t) => {
  for (const path of [
    '/console/api/me',
    '/console/api/approvals',
    '/console/api/events',
    '/console/api/audit',
  ]) {
    const res = await get(path);
    t.equal(res.status, 401, path);
    t.equal(res.headers.get('content-type'), 'application/problem+json; charset=utf-8', path);
  }
  t.equal(
    (await get('/console/api/me', 'airlock_console=not-a-session-id-at-all-000000000000000000')).status,
    401,
  );
  t.equal((await post('/console/logout', undefined, {})).status, 401);
  t.equal((await get('/v1/approvals')).status, 401, 'the approver API too');
  const page = await get('/console/');
  t.equal(page.status, 200, 'the page itself is public: it shows the sign-in button');
  t.match(page.headers.get('content-security-policy'), /script-src 'self'/);
});

t.test('sign-in: authorization code with PKCE, state and nonce; cookies with the right flags', async (t) => {
  const res = await get('/console/login');
  t.equal(res.status, 302);
  const to = new URL(res.headers.get('location')!);
  t.equal(to.origin, stack.idp.issuer);
  t.equal(to.searchParams.get('response_type'), 'code');
  t.equal(to.searchParams.get('code_challenge_method'), 'S256');
  t.match(to.searchParams.get('code_challenge'), /^[A-Za-z0-9_-]{43}$/);
  t.ok(to.searchParams.get('state'));
  t.ok(to.searchParams.get('nonce'));
  t.equal(to.searchParams.get('redirect_uri'), `${url}/console/callback`);
  const login = res.headers.getSetCookie()[0]!;
  t.match(login, /^airlock_console_login=[A-Za-z0-9_-]{32}; Path=\/; Max-Age=600; HttpOnly; SameSite=Lax$/);

  const cookie = await signInWithoutBrowser(url, 'bob');
  t.match(cookie, /^airlock_console=[A-Za-z0-9_-]{43}$/);
  const me = await get('/console/api/me', cookie);
  t.equal(me.status, 200);
  const body = (await me.json()) as {
    user: { sub: string; groups: string[] };
    actions: string[];
    csrf_token: string;
  };
  t.same(body.user.sub, 'bob');
  t.same(body.user.groups, ['security'], 'groups from the ID token');
  t.same(
    body.actions,
    ['approvals.answer', 'approvals.own', 'audit.read', 'policy.read', 'policy.replay'],
    'what airlock/console grants',
  );
  t.match(body.csrf_token, /^[A-Za-z0-9_-]{43}$/);
});

t.test(
  'the session cookie is HttpOnly, SameSite=Lax, Path=/ and bounded; no Secure on http loopback',
  async (t) => {
    // Catch the callback's Set-Cookie by completing a sign-in by hand.
    const cookie = await signInWithoutBrowser(url, 'alice');
    t.ok(cookie);
    // The fixture's jar dropped the flags; ask again and look at a real Set-Cookie from the callback.
    const { cookieFlags } = await import('./flags.js');
    const flags = await cookieFlags(url, 'alice');
    t.match(flags, /^airlock_console=[A-Za-z0-9_-]{43}; Path=\/; Max-Age=28800; HttpOnly; SameSite=Lax$/);
    t.notMatch(flags, /Secure/, 'plain http on loopback: a Secure cookie would never come back');
  },
);

t.test('a callback without the login cookie, or replayed, is refused', async (t) => {
  const res = await get('/console/login');
  const state = new URL(res.headers.get('location')!).searchParams.get('state')!;
  const forged = await get(`/console/callback?code=abc&state=${state}`);
  t.equal(forged.status, 400);
  t.match(await forged.json(), { detail: /no sign-in in progress in this browser/ });
  t.notOk(
    forged.headers.getSetCookie().some((c) => c.startsWith('airlock_console=') && !/Max-Age=0/.test(c)),
  );
});

t.test('every write needs the CSRF token and the console origin', async (t) => {
  const cookie = await signInWithoutBrowser(url, 'bob');
  const me = (await (await get('/console/api/me', cookie)).json()) as { csrf_token: string };
  const agent = await stack.agentFor('alice');
  const parked = await agent
    .callTool({ name: 'github__delete_repo', arguments: { repo: 'corp/csrf' } })
    .catch((e) => e);
  const id = (parked as { data?: { approval_id?: string } }).data?.approval_id;
  t.ok(id, 'a call parked');

  const approve = `/v1/approvals/${id}/approve`;
  const noToken = await post(approve, cookie, { origin: url });
  t.equal(noToken.status, 403);
  t.match(await noToken.json(), { type: /csrf-refused/, detail: /x-airlock-csrf/ });
  const wrongToken = await post(approve, cookie, { origin: url, 'x-airlock-csrf': 'x'.repeat(43) });
  t.equal(wrongToken.status, 403);
  const otherOrigin = await post(approve, cookie, {
    origin: 'http://127.0.0.1:1',
    'x-airlock-csrf': me.csrf_token,
  });
  t.equal(otherOrigin.status, 403);
  const crossSite = await post(approve, cookie, {
    'sec-fetch-site': 'cross-site',
    'x-airlock-csrf': me.csrf_token,
  });
  t.equal(crossSite.status, 403);
  const logout = await post('/console/logout', cookie, { origin: url });
  t.equal(logout.status, 403, 'logout is a write too');
  t.equal(stack.deletes(), 0, 'nothing ran');
  const still = (await (await get(`/v1/approvals/${id}`, cookie)).json()) as { status: string };
  t.equal(still.status, 'pending', 'the refused writes changed nothing');

  const ok = await post(
    approve,
    cookie,
    { origin: url, 'x-airlock-csrf': me.csrf_token },
    '{"reason":"looks right"}',
  );
  t.equal(ok.status, 200);
  t.match(await ok.json(), {
    status: 'approved',
    answered_by: { sub: 'bob' },
    answer_reasons: ['looks right'],
  });
});

t.test('policy decides: a requester sees their own parked calls, not the inbox or the trail', async (t) => {
  const cookie = await signInWithoutBrowser(url, 'alice');
  const me = (await (await get('/console/api/me', cookie)).json()) as {
    actions: string[];
    csrf_token: string;
  };
  t.same(me.actions, ['approvals.own']);
  t.equal((await get('/console/api/audit', cookie)).status, 403);
  const agent = await stack.agentFor('alice');
  await agent.callTool({ name: 'github__delete_repo', arguments: { repo: 'corp/own' } }).catch(() => {});
  const list = (await (await get('/console/api/approvals', cookie)).json()) as {
    approvals: { requester: { sub: string }; mine: boolean; arguments: unknown }[];
  };
  t.ok(list.approvals.length > 0);
  t.ok(
    list.approvals.every((a) => a.requester.sub === 'alice' && a.mine),
    'only her own',
  );
  t.ok(list.approvals.some((a) => JSON.stringify(a.arguments) === '{"repo":"corp/own"}'));
  const answer = await post(`/v1/approvals/${'0'.repeat(8)}-0000-0000-0000-000000000000/approve`, cookie, {
    origin: url,
    'x-airlock-csrf': me.csrf_token,
  });
  t.equal(answer.status, 403, 'airlock/console gives her no approvals.answer');
  t.match(await answer.json(), { type: /console-forbidden/ });
});

t.test('the audit explorer reads the trail for security, filtered and paged by sequence', async (t) => {
  const cookie = await signInWithoutBrowser(url, 'bob');
  const page = await get('/console/api/audit?tool=delete_repo&effect=require_approval&limit=1', cookie);
  t.equal(page.status, 200);
  const body = (await page.json()) as {
    events: { seq: number; target_name: string; effect: string }[];
    next: number;
  };
  t.equal(body.events.length, 1);
  t.match(body.events[0], { target_name: 'delete_repo', effect: 'require_approval' });
  t.equal(body.next, body.events[0]!.seq);
  const next = (await (
    await get(
      `/console/api/audit?tool=delete_repo&effect=require_approval&limit=1&after=${body.next}`,
      cookie,
    )
  ).json()) as { events: { seq: number }[] };
  t.ok(next.events[0]!.seq > body.events[0]!.seq, 'the next page continues after the cursor');
  t.equal((await get('/console/api/audit?bogus=1', cookie)).status, 400);
  t.equal((await get('/console/api/audit?limit=5000', cookie)).status, 400);
});

t.test('logout ends the session', async (t) => {
  const cookie = await signInWithoutBrowser(url, 'bob');
  const me = (await (await get('/console/api/me', cookie)).json()) as { csrf_token: string };
  const out = await post('/console/logout', cookie, { origin: url, 'x-airlock-csrf': me.csrf_token });
  t.equal(out.status, 200);
  t.match(out.headers.getSetCookie()[0], /^airlock_console=; Path=\/; Max-Age=0; HttpOnly; SameSite=Lax$/);
  t.equal((await get('/console/api/me', cookie)).status, 401, 'the old cookie is dead');
});
