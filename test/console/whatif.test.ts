// The what-if route without a browser: POST /console/api/replay refuses what it must (no session,
// no CSRF token, a user without policy.replay, a tarball that is not a bundle, one too large, a bad
// range) with problem+json and no report, and replays the trail against a candidate that changes a
// decision, compared with the active bundle.
import { gzipSync } from 'node:zlib';
import t, { type Test } from 'tap';
import { candidateTarball, noRepoListingForEng, signInWithoutBrowser, startConsoleStack } from './fixture.js';

t.setTimeout(240_000);
const stack = await startConsoleStack();
t.teardown(() => stack.close());
const { url } = stack;
const since = new Date(Date.now() - 60_000).toISOString();

const alice = await stack.agentFor('alice');
await alice.callTool({ name: 'github__list_repos', arguments: {} });

const session = async (sub: string) => {
  const cookie = await signInWithoutBrowser(url, sub);
  const me = (await (await fetch(`${url}/console/api/me`, { headers: { cookie } })).json()) as {
    csrf_token: string;
  };
  return { cookie, csrf: me.csrf_token };
};
const bob = await session('bob');
const aliceSession = await session('alice');
const candidate = await candidateTarball(noRepoListingForEng, 'no-listing');

const upload = (
  who: { cookie: string; csrf?: string } | undefined,
  body: Uint8Array,
  query = `since=${encodeURIComponent(since)}`,
  type = 'application/gzip',
) =>
  fetch(`${url}/console/api/replay?${query}`, {
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
  t.notOk('changes' in body || 'transitions' in body, 'no part of a report');
};

t.test('refusals', async (t) => {
  await problem(t, await upload(undefined, candidate), 401, 'unauthenticated');
  await problem(t, await upload({ cookie: bob.cookie }, candidate), 403, 'csrf-refused', /x-airlock-csrf/);
  await problem(
    t,
    await upload({ cookie: bob.cookie, csrf: 'x'.repeat(bob.csrf.length) }, candidate),
    403,
    'csrf-refused',
    /does not match/,
  );
  await problem(t, await upload(aliceSession, candidate), 403, 'console-forbidden', /needs policy\.replay/);
  await problem(
    t,
    await upload(bob, Buffer.from('not a tarball at all')),
    422,
    'candidate-invalid',
    /^upload: not a bundle tarball/,
  );
  await problem(
    t,
    await upload(bob, gzipSync(Buffer.from('still not a tar archive, but gzipped'.repeat(40)))),
    422,
    'candidate-invalid',
    /^upload: /,
  );
  await problem(
    t,
    await upload(bob, Buffer.alloc(10 * 1024 * 1024 + 1)),
    413,
    'candidate-too-large',
    /at most 10485760 bytes/,
  );
  await problem(t, await upload(bob, candidate, ''), 400, 'bad-request', /since is required/);
  await problem(t, await upload(bob, candidate, 'since=yesterday'), 400, 'bad-request', /not an ISO 8601/);
  await problem(
    t,
    await upload(bob, candidate, `since=${since}&until=2000-01-01`),
    400,
    'bad-request',
    /until must be after since/,
  );
  await problem(
    t,
    await upload(bob, candidate, `since=${since}&effect=deny`),
    400,
    'bad-request',
    /unknown parameter/,
  );
  await problem(t, await upload(bob, new Uint8Array(0)), 400, 'candidate-missing');
  await problem(t, await upload(bob, candidate, undefined, 'image/png'), 415, 'unsupported-media-type');
});

t.test('a candidate that denies a recorded call: the change, per tool and per user', async (t) => {
  const res = await upload(bob, candidate);
  t.equal(res.status, 200);
  const report = (await res.json()) as {
    candidate: { revision: string };
    baseline: { origin: string } | null;
    changed: number;
    transitions: Record<string, number>;
    byTool: { name: string; changed: number }[];
    byUser: { name: string; changed: number }[];
    changes: { user: string; tool: string; candidate: { effect: string } }[];
  };
  t.equal(report.candidate.revision, 'no-listing');
  t.match(report.baseline?.origin, /^active bundle/, 'compared with the active bundle');
  t.equal(report.changed, 1);
  t.same(report.transitions, { 'allow→deny': 1 });
  t.match(report.byTool, [{ name: 'list_repos', changed: 1 }]);
  t.match(report.byUser, [{ name: 'alice', changed: 1 }]);
  t.match(report.changes, [{ user: 'alice', tool: 'list_repos', candidate: { effect: 'deny' } }]);
});
