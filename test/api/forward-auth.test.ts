// Forward-auth in process: /v1/authz/http reads the original request the way nginx, Caddy/Traefik
// and Envoy's HTTP ext_authz send it, authenticates the bearer token with a real OpenID provider,
// decides airlock/http through the Decider (audited), and answers 200 only for allow === true.
import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import t from 'tap';
import { startIdp } from '../../scripts/demo/idp.js';
import {
  auditDecisionLog,
  buildApi,
  type DecisionLog,
  OriginalRequestError,
  originalRequest,
} from '../../src/api/index.js';
import { buildBundle, Engine, filesFromTarball } from '../../src/engine/index.js';
import { createIdentity } from '../../src/identity/index.js';
import { openStore } from '../engine/fixture.js';

const RESOURCE = 'http://127.0.0.1/app';
t.setTimeout(300_000); // an IdP, PGlite and a compiled policy: slow on a loaded machine

// A test policy: the request path picks the answer; /echo/* returns the whole input in a header.
const POLICY = `package airlock

import rego.v1

# METADATA
# entrypoint: true
http := {"allow": true, "reasons": [], "headers": {"X-Airlock-User": input.user.sub}} if input.path == "/ok"

http := {"allow": true, "headers": {"X-Input": json.marshal(input)}} if startswith(input.path, "/echo")

http := {"allow": false, "reasons": ["nope"], "headers": {"X-Why": "test"}} if input.path == "/deny"

http := {"allow": false, "reasons": ["slow down"], "status": 429} if input.path == "/limited"

http := {"allow": "yes"} if input.path == "/invalid"

http := {"allow": false, "status": 200} if input.path == "/deny-as-200"

http := {"allow": true, "headers": {"Content-Length": "0"}} if input.path == "/reserved"

http := {"allow": 1} if input.path == "/truthy"

# Two values for one complete rule: an evaluation error (conflict).
http := {"allow": true} if input.path == "/conflict"

http := {"allow": false} if input.path == "/conflict"
`;

const idp = await startIdp();
const identity = createIdentity({
  resource: RESOURCE,
  allow_insecure_http: true,
  issuers: [{ issuer: idp.issuer }],
});
const built = buildBundle(
  { sources: [{ file: 'http.rego', text: POLICY }], data: {} },
  { entrypoints: ['airlock/http'], revision: 'fa-1', optimize: false },
);
const engine = new Engine();
await engine.loadFiles(await filesFromTarball(built.tarball), 'test');
const { store, drop } = await openStore('pglite');
const api = await buildApi({
  access: { mode: 'unauthenticated', via: 'test' },
  engine,
  log: auditDecisionLog(store),
  forwardAuth: { identity },
});
t.teardown(async () => {
  await api.app.close();
  await drop();
  await idp.close();
});

const alice = await idp.userToken({ sub: 'alice', audience: RESOURCE, extra: { groups: ['eng'] } });
const bearer = { authorization: `Bearer ${alice}` };
const nginx = (uri: string, method = 'GET') => ({ 'x-original-uri': uri, 'x-original-method': method });

const check = (headers: Record<string, string>, url = '/v1/authz/http') =>
  api.app.inject({ method: 'GET', url, headers });
const seen = (res: { headers: Record<string, unknown> }) =>
  JSON.parse(String(res.headers['x-input'])) as Record<string, unknown>;
const decisions = async () => (await store.query({ kind: 'decision', limit: 1000 })).events;

const validInput = new Ajv2020({ strict: false }).compile(
  JSON.parse(readFileSync(new URL('../../schema/http-input.schema.json', import.meta.url), 'utf8')),
);

t.test(
  'a missing or invalid token is 401 with a Bearer challenge, and never reaches the policy',
  async (t) => {
    const before = (await decisions()).length;
    const none = await check(nginx('/ok'));
    t.equal(none.statusCode, 401);
    t.match(none.headers['www-authenticate'], /^Bearer resource_metadata="/);
    const bad = await check({ ...nginx('/ok'), authorization: 'Bearer not.a.token' });
    t.equal(bad.statusCode, 401);
    t.match(bad.headers['www-authenticate'], /^Bearer .*error="invalid_token"/);
    t.notMatch(bad.body, /not\.a\.token/, 'the token is not echoed');
    const other = await idp.userToken({ sub: 'alice', audience: 'https://other.example' });
    t.equal((await check({ ...nginx('/ok'), authorization: `Bearer ${other}` })).statusCode, 401);
    t.equal((await decisions()).length, before, 'no decision was asked');
  },
);

t.test('nginx: X-Original-Method and X-Original-URI', async (t) => {
  const res = await check({
    ...bearer,
    ...nginx('/echo/a%20b/c?x=1&x=2&y', 'DELETE'),
    'x-forwarded-host': 'App.Corp.Example',
    'x-forwarded-proto': 'https',
    cookie: 'session=secret',
    'X-Custom': 'v',
  });
  t.equal(res.statusCode, 200);
  const input = seen(res);
  t.ok(validInput(input), JSON.stringify(validInput.errors));
  t.match(input, {
    proxy: 'nginx',
    method: 'DELETE',
    path: '/echo/a b/c',
    query: { x: ['1', '2'], y: [''] },
    host: 'app.corp.example',
    scheme: 'https',
    user: { sub: 'alice', iss: idp.issuer, groups: ['eng'] },
    agent: { id: 'devops-agent' },
  });
  const headers = input.headers as Record<string, string>;
  t.equal(headers['x-custom'], 'v', 'headers are lower-cased');
  t.notOk('authorization' in headers, 'the token is not policy input');
  t.notOk('cookie' in headers, 'cookies are not policy input');
});

t.test('Caddy and Traefik: X-Forwarded-Method and X-Forwarded-Uri', async (t) => {
  const res = await check({
    ...bearer,
    'x-forwarded-method': 'POST',
    'x-forwarded-uri': '/echo/%61pi?q=%2F',
    'x-forwarded-host': 'app.example:8443',
    'x-forwarded-proto': 'http',
  });
  t.equal(res.statusCode, 200);
  const input = seen(res);
  t.ok(validInput(input));
  t.match(input, {
    proxy: 'forwarded',
    method: 'POST',
    path: '/echo/api',
    query: { q: ['/'] },
    host: 'app.example:8443',
    scheme: 'http',
  });
});

t.test('Envoy: the original path appended to the endpoint, the method and Host of the check', async (t) => {
  const res = await api.app.inject({
    method: 'PUT',
    url: '/v1/authz/http/echo/items/7?fields=a,b',
    headers: {
      ...bearer,
      host: 'shop.example',
      'x-forwarded-proto': 'https',
      'content-type': 'application/json',
    },
    payload: '{not json at all',
  });
  t.equal(res.statusCode, 200, 'the body is never parsed');
  const input = seen(res);
  t.ok(validInput(input));
  t.match(input, {
    proxy: 'envoy',
    method: 'PUT',
    path: '/echo/items/7',
    query: { fields: ['a,b'] },
    host: 'shop.example',
    scheme: 'https',
  });
  const root = await api.app.inject({ method: 'GET', url: '/v1/authz/http/echo', headers: bearer });
  t.equal(seen(root).path, '/echo');
  const head = await api.app.inject({ method: 'HEAD', url: '/v1/authz/http/ok', headers: bearer });
  t.equal(head.statusCode, 200, 'HEAD is decided too');
  t.equal(head.headers['x-airlock-user'], 'alice');
  t.equal(head.body, '');
  for (const method of ['OPTIONS', 'PATCH', 'TRACE'] as const) {
    const r = await api.app.inject({ method, url: '/v1/authz/http/ok', headers: bearer });
    t.equal(r.statusCode, 200, method);
  }
});

t.test(
  'allow is 200 with the policy headers; deny is 403 (or the policy 4xx) with the reasons',
  async (t) => {
    const ok = await check({ ...bearer, ...nginx('/ok') });
    t.equal(ok.statusCode, 200);
    t.equal(ok.headers['x-airlock-user'], 'alice');
    t.equal(ok.headers['cache-control'], 'no-store');
    t.match(ok.json(), { allow: true, decision_id: ok.headers['x-airlock-decision-id'] });

    const deny = await check({ ...bearer, ...nginx('/deny') });
    t.equal(deny.statusCode, 403);
    t.equal(deny.headers['x-why'], 'test');
    t.match(deny.json(), { status: 403, reasons: ['nope'] });
    t.notMatch(deny.body, /airlock\/http|http\.rego/, 'no policy internals');

    const limited = await check({ ...bearer, ...nginx('/limited') });
    t.equal(limited.statusCode, 429);
    t.match(limited.json(), { reasons: ['slow down'] });
  },
);

t.test('no decision is 503, never 200', async (t) => {
  for (const [path, detail] of [
    ['/undefined', 'the policy gave no decision'],
    ['/conflict', 'policy evaluation failed'],
    ['/invalid', 'the policy gave an invalid decision'],
    ['/truthy', 'the policy gave an invalid decision'],
    ['/deny-as-200', 'the policy gave an invalid decision'],
    ['/reserved', 'the policy gave an invalid decision'],
  ] as const) {
    const res = await check({ ...bearer, ...nginx(path) });
    t.equal(res.statusCode, 503, path);
    t.match(res.json(), { status: 503, detail }, path);
    t.notMatch(res.body, /http\.rego|conflict/, 'no evaluation text reaches the proxy');
  }
});

t.test('every decision is on the audit trail', async (t) => {
  const allowed = await check({ ...bearer, ...nginx('/ok', 'POST'), 'x-forwarded-host': 'app.example' });
  const [a] = (await store.query({ decisionId: String(allowed.headers['x-airlock-decision-id']) })).events;
  t.match(a, {
    kind: 'decision',
    userSub: 'alice',
    agentId: 'devops-agent',
    effect: 'allow',
    bundleRevision: 'fa-1',
    details: {
      api: 'http',
      path: 'airlock/http',
      request: { proxy: 'nginx', method: 'POST', host: 'app.example', path: '/ok' },
    },
  });
  // The input is kept for replay, header and query values masked (they may be credentials).
  const kept = a!.details as { input: { headers: Record<string, string> }; input_masked: string[] };
  t.same(kept.input_masked, ['headers', 'query']);
  t.ok(kept.input.headers['x-forwarded-host'] !== undefined, 'header names are kept');
  t.ok(
    Object.values(kept.input.headers).every((v) => v === '[REDACTED]'),
    'no header value in the kept input',
  );
  const denied = await check({ ...bearer, ...nginx('/deny') });
  const [d] = (await store.query({ decisionId: String(denied.headers['x-airlock-decision-id']) })).events;
  t.match(d, { effect: 'deny', reasons: ['nope'] });
  const failed = await check({ ...bearer, ...nginx('/conflict') });
  const [f] = (await store.query({ decisionId: String(failed.headers['x-airlock-decision-id']) })).events;
  t.match(f, { effect: 'deny', reasons: [/^evaluation failed/] });
  const metrics = await api.app.inject({ method: 'GET', url: '/metrics' });
  t.match(metrics.body, /airlock_decisions_total\{api="http",effect="allow"\} \d+/);
  t.match(metrics.body, /airlock_decisions_total\{api="http",effect="error"\} \d+/);
});

t.test('an original request that is absent or ambiguous is 400 and never decided', async (t) => {
  const before = (await decisions()).length;
  const cases: [string, Record<string, string>, string?][] = [
    ['no original request', {}],
    [
      'nginx and Caddy headers at once',
      { ...nginx('/ok'), 'x-forwarded-uri': '/admin', 'x-forwarded-method': 'GET' },
    ],
    [
      'a client-added X-Original-URI behind Caddy',
      { 'x-original-uri': '/ok', 'x-forwarded-uri': '/admin', 'x-forwarded-method': 'GET' },
    ],
    ['an appended path and nginx headers', nginx('/ok'), '/v1/authz/http/admin'],
    ['nginx without the method', { 'x-original-uri': '/ok' }],
    ['Caddy without the URI', { 'x-forwarded-method': 'GET' }],
    ['a dot segment', nginx('/public/../admin')],
    ['an encoded dot segment', nginx('/public/%2e%2e/admin')],
    ['an empty segment', nginx('//admin')],
    ['an encoded slash', nginx('/public%2F..%2Fadmin')],
    ['a backslash', nginx('/public\\admin')],
    ['an encoded NUL', nginx('/ok%00')],
    ['bad percent-encoding', nginx('/%zz')],
    ['an absolute URI', nginx('http://evil.example/ok')],
    ['a bad method', nginx('/ok', 'GET /x')],
    ['a bad host', { ...nginx('/ok'), 'x-forwarded-host': 'a b' }],
    ['a bad scheme', { ...nginx('/ok'), 'x-forwarded-proto': 'gopher' }],
  ];
  for (const [name, headers, url] of cases) {
    const res = await check({ ...bearer, ...headers }, url);
    t.equal(res.statusCode, 400, name);
    t.match(res.json(), { type: /bad-original-request$/ }, name);
  }
  const twice = await api.app.inject({
    method: 'GET',
    url: '/v1/authz/http',
    headers: { ...bearer, 'x-original-method': 'GET', 'x-original-uri': ['/ok', '/admin'] },
  });
  t.equal(twice.statusCode, 400, 'a repeated X-Original-URI');
  t.equal((await decisions()).length, before, 'none was decided');
});

t.test("the check request's own query string is not the original request's", async (t) => {
  // Caddy's forward_auth keeps the original query when it rewrites the URI to /v1/authz/http.
  const res = await check(
    { ...bearer, 'x-forwarded-method': 'GET', 'x-forwarded-uri': '/deny?a=1' },
    '/v1/authz/http?a=1&path=/ok',
  );
  t.equal(res.statusCode, 403);
});

t.test('originalRequest: trailing slash kept, query names free of prototype tricks', async (t) => {
  const r = originalRequest({
    method: 'GET',
    url: '/v1/authz/http',
    headers: { 'x-original-uri': ['/docs/?__proto__=x&constructor=y'], 'x-original-method': ['GET'] },
  });
  t.equal(r.path, '/docs/');
  t.same(Object.keys(r.query), ['__proto__', 'constructor']);
  t.same(Object.getOwnPropertyDescriptor(r.query, '__proto__')?.value, ['x']);
  t.throws(
    () => originalRequest({ method: 'GET', url: '/v1/authz/http/a/./b', headers: {} }),
    OriginalRequestError,
  );
});

t.test('no bundle and an audit trail that cannot be written are 503', async (t) => {
  const empty = await buildApi({
    access: { mode: 'unauthenticated', via: 'test' },
    engine: new Engine(),
    forwardAuth: { identity },
  });
  t.teardown(() => empty.app.close());
  const noBundle = await empty.app.inject({ method: 'GET', url: '/v1/authz/http/ok', headers: bearer });
  t.equal(noBundle.statusCode, 503);

  const failing: DecisionLog = {
    decision: async () => {
      throw new Error('disk full');
    },
    dataChange: async () => undefined,
  };
  const broken = await buildApi({
    access: { mode: 'unauthenticated', via: 'test' },
    engine,
    log: failing,
    forwardAuth: { identity },
  });
  t.teardown(() => broken.app.close());
  const res = await broken.app.inject({ method: 'GET', url: '/v1/authz/http/ok', headers: bearer });
  t.equal(res.statusCode, 503);
  t.match(res.json(), { detail: 'the decision could not be recorded' });
  t.notOk(res.headers['x-airlock-user'], 'no allow headers without a recorded decision');
});

t.test('without forwardAuth the route does not exist', async (t) => {
  const plain = await buildApi({ access: { mode: 'unauthenticated', via: 'test' }, engine });
  t.teardown(() => plain.app.close());
  const res = await plain.app.inject({
    method: 'GET',
    url: '/v1/authz/http',
    headers: { ...bearer, ...nginx('/ok') },
  });
  t.equal(res.statusCode, 404);
});

t.test('an unreachable identity provider is 503', async (t) => {
  // A fresh identity has no keys cached: with the IdP gone it cannot verify anything.
  const token = await idp.userToken({ sub: 'alice', audience: RESOURCE });
  const fresh = createIdentity({
    resource: RESOURCE,
    allow_insecure_http: true,
    issuers: [{ issuer: idp.issuer }],
  });
  const later = await buildApi({
    access: { mode: 'unauthenticated', via: 'test' },
    engine,
    forwardAuth: { identity: fresh },
  });
  t.teardown(() => later.app.close());
  await idp.close();
  const res = await later.app.inject({
    method: 'GET',
    url: '/v1/authz/http/ok',
    headers: { authorization: `Bearer ${token}` },
  });
  t.equal(res.statusCode, 503);
});
