// Console sessions are bounded and expire: absolute lifetime, idle timeout, a cap that ends the least
// recently used; ids are opaque and malformed ones never looked up. And outside loopback the cookies
// are Secure with the __Host- prefix.
import Fastify from 'fastify';
import t from 'tap';
import { startIdp } from '../../scripts/demo/idp.js';
import { consolePlugin, createConsoleService, SessionStore } from '../../src/console/index.js';
import { createIdentity } from '../../src/identity/index.js';
import { referenceEngine } from '../gateway/harness.js';

const user = (sub: string) => ({ sub, groups: ['security'] });

t.test('absolute lifetime and idle timeout', async (t) => {
  let now = 0;
  const store = new SessionStore({ ttlMs: 10_000, idleMs: 3_000, max: 10 }, () => now);
  const { id, session } = store.create(user('bob'));
  t.match(id, /^[A-Za-z0-9_-]{43}$/);
  t.not(session.csrf, id, 'the CSRF token is not the session id');
  now = 2_000;
  t.ok(store.get(id), 'used within the idle window');
  now = 4_500;
  t.ok(store.get(id), 'the idle clock restarted at the last use');
  now = 7_000;
  t.ok(store.peek(id), 'peek sees it');
  now = 7_600;
  t.notOk(store.peek(id), 'peek did not count as activity: idle since 4.5 s');
  t.notOk(store.get(id), 'idle: gone');

  const second = store.create(user('bob')).id;
  for (let i = 1; i <= 5; i++) {
    now += 2_000;
    if (i < 5) t.ok(store.get(second), `still alive at ${now}`);
  }
  t.notOk(store.get(second), 'past the absolute lifetime however active');
});

t.test('bounded: the least recently used session ends first', async (t) => {
  const store = new SessionStore({ ttlMs: 60_000, idleMs: 60_000, max: 3 });
  const a = store.create(user('a')).id;
  const b = store.create(user('b')).id;
  const c = store.create(user('c')).id;
  t.ok(store.get(a), 'a is now the most recently used');
  const d = store.create(user('d')).id;
  t.equal(store.size, 3);
  t.notOk(store.get(b), 'b, least recently used, ended');
  t.ok(store.get(a));
  t.ok(store.get(c));
  t.ok(store.get(d));
});

t.test('ids: unknown, malformed and deleted ids find nothing', async (t) => {
  const store = new SessionStore({ ttlMs: 60_000, idleMs: 60_000, max: 3 });
  const { id } = store.create(user('a'));
  t.notOk(store.get(undefined));
  t.notOk(store.get(''));
  t.notOk(store.get(`${id}x`));
  t.notOk(store.get('A'.repeat(43)));
  t.ok(store.delete(id));
  t.notOk(store.get(id));
});

t.test('outside loopback the cookies are Secure, with the __Host- prefix', async (t) => {
  const idp = await startIdp();
  t.teardown(() => idp.close());
  const engine = await referenceEngine();
  t.teardown(() => engine.close());
  const identity = createIdentity({
    resource: 'https://airlock.corp.example/mcp',
    allow_insecure_http: true,
    issuers: [{ issuer: idp.issuer }],
  });
  const service = createConsoleService({ client_id: 'airlock-console' }, { identity, engine });
  const app = Fastify();
  await app.register(consolePlugin, {
    service,
    audit: { db: undefined as never, record: async () => undefined as never, checkpointer: undefined },
    approvals: { list: async () => [] },
    assets: new Map(),
  });
  t.teardown(() => app.close());
  const res = await app.inject({ url: '/console/login', headers: { host: 'airlock.corp.example' } });
  t.equal(res.statusCode, 302);
  t.match(
    String(res.headers['set-cookie']),
    /^__Host-airlock_console_login=[A-Za-z0-9_-]{32}; Path=\/; Max-Age=600; HttpOnly; SameSite=Lax; Secure$/,
  );
  const to = new URL(String(res.headers.location));
  t.equal(to.searchParams.get('redirect_uri'), 'http://airlock.corp.example/console/callback');
  t.notOk(to.searchParams.has('client_secret'), 'no secret in the URL');
  // A session cookie sent under the loopback name is not read on this origin.
  const me = await app.inject({
    url: '/console/api/me',
    headers: { host: 'airlock.corp.example', cookie: `airlock_console=${'a'.repeat(43)}` },
  });
  t.equal(me.statusCode, 401);
  const page = await app.inject({ url: '/console/', headers: { host: 'airlock.corp.example' } });
  t.equal(page.statusCode, 503, 'not built: a precise error');
  t.match(page.json(), { detail: /npm run build:console/ });
});
