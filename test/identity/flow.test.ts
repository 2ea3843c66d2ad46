// End to end against a real OpenID provider (oidc-provider on loopback):
// inbound verification, token exchange for the upstream, and rejection of
// every bad token with nothing forwarded.
import { createHmac, createPublicKey, type JsonWebKey } from 'node:crypto';
import { Writable } from 'node:stream';
import { decodeJwt, generateKeyPair, SignJWT } from 'jose';
import { pino } from 'pino';
import t from 'tap';
import { CLIENTS, signWithIdpKey, startIdp } from '../../scripts/demo/idp.js';
import { createIdentity, type Identity, PINO_REDACT_PATHS } from '../../src/identity/index.js';
import { buildGateway, startUpstream } from './fixtures/gateway.js';

const RESOURCE = 'http://127.0.0.1/mcp';
const GITHUB_AUD = 'https://api.github.example';
const STATIC_SECRET = 'static-upstream-secret-5f2a9c7e';

const idp = await startIdp();
const upstream = await startUpstream();
t.teardown(() => Promise.all([idp.close(), upstream.close()]));

// Airlock's clock: real time plus an offset the tests move forward.
let clockOffset = 0;
const now = () => Date.now() + clockOffset;

const logLines: string[] = [];
const logger = pino(
  { level: 'trace', redact: { paths: PINO_REDACT_PATHS, censor: '[redacted]' } },
  new Writable({
    write(chunk, _enc, cb) {
      logLines.push(String(chunk));
      cb();
    },
  }),
);

const identity: Identity = createIdentity(
  {
    resource: RESOURCE,
    resource_name: 'Airlock test',
    allow_insecure_http: true,
    required_scopes: ['mcp:tools'],
    issuers: [
      {
        issuer: idp.issuer,
        jwks: { refetch_cooldown_seconds: 60 },
        exchange_client: { client_id: CLIENTS.gateway.id, client_secret: { env: 'GATEWAY_SECRET' } },
      },
    ],
    agents: { [CLIENTS.agent.id]: { client_secret: { env: 'AGENT_SECRET' } } },
    upstreams: {
      github: { mode: 'on_behalf_of', audience: GITHUB_AUD, scopes: ['repo:read', 'repo:write'] },
      refused: { mode: 'on_behalf_of', audience: 'https://refused.example' },
      ops: { mode: 'on_behalf_of', audience: 'https://ops.example', actor: 'gateway' },
      anonymous: { mode: 'on_behalf_of', audience: 'https://anon.example', actor: 'none' },
      legacy: { mode: 'static', secret: { env: 'LEGACY_KEY' }, header: 'x-api-key', scheme: '' },
      public: { mode: 'none' },
    },
  },
  {
    env: {
      GATEWAY_SECRET: CLIENTS.gateway.secret,
      AGENT_SECRET: CLIENTS.agent.secret,
      LEGACY_KEY: STATIC_SECRET,
    },
    now,
  },
);
idp.refusedAudiences.add('https://refused.example');

const app = await buildGateway(
  identity,
  {
    github: upstream.url,
    refused: upstream.url,
    ops: upstream.url,
    anonymous: upstream.url,
    legacy: upstream.url,
    public: upstream.url,
  },
  logger,
);
t.teardown(() => app.close());

const aliceToken = await idp.userToken({
  sub: 'alice',
  audience: RESOURCE,
  scope: 'mcp:tools',
  extra: { email: 'alice@corp.example', groups: ['eng', 'payments'] },
});

async function call(path: string, authorization?: string, body: unknown = {}) {
  return app.inject({
    method: 'POST',
    url: `/mcp/${path}`,
    headers: {
      ...(authorization ? { authorization } : {}),
      'content-type': 'application/json',
      'x-airlock-model': 'anthropic/claude-sonnet-4',
    },
    payload: JSON.stringify(body),
  });
}

t.test(
  'a valid token is accepted and the upstream receives an exchanged token: sub=user, act.sub=agent, aud=upstream',
  async (t) => {
    const before = upstream.requests.length;
    const res = await call('github', `Bearer ${aliceToken}`);
    t.equal(res.statusCode, 200, res.body);
    t.equal(upstream.requests.length, before + 1);
    const sent = upstream.requests.at(-1)!.authorization!;
    t.match(sent, /^Bearer /);
    const forwarded = sent.slice('Bearer '.length);
    t.not(forwarded, aliceToken, 'the inbound token is never forwarded');
    const claims = decodeJwt(forwarded);
    t.equal(claims.sub, 'alice');
    t.same(claims.act, { sub: CLIENTS.agent.id });
    t.equal(claims.aud, GITHUB_AUD);
    t.equal(claims.iss, idp.issuer);
    t.equal(claims.scope, 'repo:read repo:write');
    const exchange = idp.exchanges.at(-1)!;
    t.equal(exchange.client, CLIENTS.gateway.id, 'Airlock authenticated as its own client');
    t.equal(exchange.actor, CLIENTS.agent.id, 'the actor token was the agent’s');
  },
);

t.test('the principal carries user, agent and model apart', async (t) => {
  const p = await identity.authenticate({
    authorization: `Bearer ${aliceToken}`,
    modelHeader: 'anthropic/claude-sonnet-4',
  });
  t.equal(p.user.sub, 'alice');
  t.equal(p.user.email, 'alice@corp.example');
  t.same(p.user.groups, ['eng', 'payments']);
  t.equal(p.agent.id, CLIENTS.agent.id);
  t.equal(p.agent.source, 'client_id');
  t.same(p.model, { provider: 'anthropic', name: 'claude-sonnet-4', attested: false, source: 'header' });
  t.notMatch(JSON.stringify(p), aliceToken.split('.')[2]!, 'the principal holds no token');
  t.equal(p.token.jti, decodeJwt(aliceToken).jti);
});

t.test('the decision narrows scopes; a cached exchange is reused', async (t) => {
  const exchangesBefore = idp.exchanges.length;
  const body = { credentials: { mode: 'on_behalf_of', audience: GITHUB_AUD, scopes: ['repo:read'] } };
  const r1 = await call('github', `Bearer ${aliceToken}`, body);
  const r2 = await call('github', `Bearer ${aliceToken}`, body);
  t.equal(r1.statusCode, 200);
  t.equal(r2.statusCode, 200);
  t.equal(idp.exchanges.length, exchangesBefore + 1, 'one exchange for two calls');
  const [a, b] = upstream.requests.slice(-2).map((r) => r.authorization);
  t.equal(a, b, 'the same exchanged token was presented twice');
  t.equal(decodeJwt(a!.slice(7)).scope, 'repo:read');
});

t.test('an exchanged token close to expiry is renewed', async (t) => {
  const body = { credentials: { scopes: ['repo:read'] } };
  await call('github', `Bearer ${aliceToken}`, body);
  const before = idp.exchanges.length;
  const oldToken = upstream.requests.at(-1)!.authorization;
  clockOffset += (idp.exchangeTtl - 20) * 1000; // inside the 30 s expiry margin
  t.teardown(() => {
    clockOffset = 0;
  });
  const res = await call('github', `Bearer ${aliceToken}`, body);
  t.equal(res.statusCode, 200);
  t.equal(idp.exchanges.length, before + 1, 'a new exchange happened');
  t.not(upstream.requests.at(-1)!.authorization, oldToken);
});

t.test('an exchanged token is not reused past the user token it came from', async (t) => {
  const shortLived = await idp.userToken({ sub: 'carol', audience: RESOURCE, scope: 'mcp:tools', ttl: 60 });
  await call('github', `Bearer ${shortLived}`);
  const before = idp.exchanges.length;
  await call('github', `Bearer ${shortLived}`);
  t.equal(idp.exchanges.length, before, 'reused while the user token lives');
  clockOffset += 61_000; // the exchanged token (120 s) would still be fresh, the user token (60 s) is not
  t.teardown(() => {
    clockOffset = 0;
  });
  const fresh = await idp.userToken({ sub: 'carol', audience: RESOURCE, scope: 'mcp:tools' });
  const res = await call('github', `Bearer ${fresh}`);
  t.equal(res.statusCode, 200);
  t.equal(idp.exchanges.length, before + 1, 'a new exchange with the new user token');
});

t.test('a 401 from the upstream refreshes the exchanged token once', async (t) => {
  const before = idp.exchanges.length;
  const requestsBefore = upstream.requests.length;
  upstream.unauthorizedNext = 1;
  const ok = await call('github', `Bearer ${aliceToken}`);
  t.equal(ok.statusCode, 200);
  t.equal(upstream.requests.length, requestsBefore + 2, 'first try, then one retry');
  t.equal(idp.exchanges.length, before + 1, 'the retry used a freshly exchanged token');
  const [first, second] = upstream.requests.slice(-2).map((r) => r.authorization);
  t.not(first, second);

  upstream.unauthorizedNext = 5;
  const denied = await call('github', `Bearer ${aliceToken}`);
  t.equal(denied.statusCode, 401, 'the upstream’s refusal stands after one refresh');
  t.equal(upstream.requests.length, requestsBefore + 4, 'exactly one retry');
  upstream.unauthorizedNext = 0;
});

t.test('actor modes: gateway, none, and an agent without a configured credential', async (t) => {
  const r1 = await call('ops', `Bearer ${aliceToken}`);
  t.equal(r1.statusCode, 200);
  const viaGateway = decodeJwt(upstream.requests.at(-1)!.authorization!.slice(7));
  t.equal(viaGateway.sub, 'alice');
  t.same(viaGateway.act, { sub: CLIENTS.gateway.id }, 'Airlock itself is the actor');
  t.equal(viaGateway.aud, 'https://ops.example');

  const r2 = await call('anonymous', `Bearer ${aliceToken}`);
  t.equal(r2.statusCode, 200);
  const noActor = decodeJwt(upstream.requests.at(-1)!.authorization!.slice(7));
  t.equal(noActor.sub, 'alice');
  t.equal(noActor.act, undefined);

  const before = upstream.requests.length;
  const otherAgent = await idp.userToken({ sub: 'alice', audience: RESOURCE, clientId: CLIENTS.gateway.id });
  const r3 = await call('github', `Bearer ${otherAgent}`);
  t.equal(r3.statusCode, 502);
  t.match(r3.json().detail, /no credential configured for agent airlock-gateway/);
  t.equal(upstream.requests.length, before, 'nothing forwarded');
});

t.test('an exchange the IdP refuses fails the call; nothing else is tried', async (t) => {
  const before = upstream.requests.length;
  const res = await call('refused', `Bearer ${aliceToken}`);
  t.equal(res.statusCode, 502);
  t.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8');
  t.match(res.json(), { type: /upstream_credential_failed$/, detail: /invalid_target/ });
  t.equal(upstream.requests.length, before, 'nothing forwarded');
});

t.test('a decision asking for another mode or audience is refused, not downgraded', async (t) => {
  const before = upstream.requests.length;
  const r1 = await call('github', `Bearer ${aliceToken}`, { credentials: { mode: 'static' } });
  t.equal(r1.statusCode, 502);
  const r2 = await call('github', `Bearer ${aliceToken}`, {
    credentials: { audience: 'https://evil.example' },
  });
  t.equal(r2.statusCode, 502);
  const r3 = await call('github', `Bearer ${aliceToken}`, { credentials: { scopes: ['admin'] } });
  t.equal(r3.statusCode, 502);
  t.match(r3.json().detail, /scopes not configured: admin/);
  t.equal(upstream.requests.length, before);
});

t.test('static and none modes', async (t) => {
  const r1 = await call('legacy', `Bearer ${aliceToken}`);
  t.equal(r1.statusCode, 200);
  const got = upstream.requests.at(-1)!;
  t.equal(got.headers['x-api-key'], STATIC_SECRET);
  t.equal(got.authorization, undefined, 'the user token is not passed along');
  const r2 = await call('public', `Bearer ${aliceToken}`);
  t.equal(r2.statusCode, 200);
  t.equal(upstream.requests.at(-1)!.authorization, undefined);
  t.equal(upstream.requests.at(-1)!.headers['x-api-key'], undefined);
});

t.test('missing, malformed and insufficient tokens', async (t) => {
  const before = upstream.requests.length;
  const none = await call('github');
  t.equal(none.statusCode, 401);
  t.equal(none.headers['www-authenticate'], `Bearer resource_metadata="${identity.resourceMetadataUrl}"`);
  t.equal(none.headers['content-type'], 'application/problem+json; charset=utf-8');

  const basic = await call('github', 'Basic YWxpY2U6c2VjcmV0');
  t.equal(basic.statusCode, 401);
  t.match(basic.headers['www-authenticate'], /error="invalid_request"/);

  const noScope = await idp.userToken({ sub: 'bob', audience: RESOURCE, scope: 'repo:read' });
  const weak = await call('github', `Bearer ${noScope}`);
  t.equal(weak.statusCode, 403);
  t.match(weak.headers['www-authenticate'], /error="insufficient_scope"/);
  t.match(weak.headers['www-authenticate'], /scope="mcp:tools"/);
  t.match(weak.headers['www-authenticate'], /resource_metadata="/);
  t.equal(upstream.requests.length, before, 'nothing forwarded');
});

t.test('bad tokens are rejected with 401 and nothing is forwarded', async (t) => {
  const iat = Math.floor(Date.now() / 1000);
  const good = {
    iss: idp.issuer,
    sub: 'alice',
    aud: RESOURCE,
    client_id: CLIENTS.agent.id,
    scope: 'mcp:tools',
    jti: 'x',
  };
  const [h, p] = aliceToken.split('.') as [string, string, string];
  const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');

  // A key the IdP never published, once with the IdP's kid (bad signature) and once with a new kid.
  const { privateKey: strangerKey } = await generateKeyPair('RS256');
  const otherIssuerKey = strangerKey;

  // HS256 "signed" with the IdP's RSA public key as the HMAC secret (the classic key-confusion attack).
  const publicPem = createPublicKey({ key: idp.publicJwk as JsonWebKey, format: 'jwk' })
    .export({ type: 'spki', format: 'pem' })
    .toString();
  const hsHeader = b64({ alg: 'HS256', typ: 'at+jwt', kid: idp.kid });
  const hsPayload = b64({ ...good, iat, exp: iat + 300 });
  const hsSig = createHmac('sha256', publicPem).update(`${hsHeader}.${hsPayload}`).digest('base64url');

  const tamperedPayload = b64({ ...decodeJwt(aliceToken), sub: 'mallory' });

  const cases: [string, string, RegExp][] = [
    ['expired', await signWithIdpKey(idp, { ...good, iat: iat - 3600, exp: iat - 600 }), /expired/],
    [
      'not yet valid',
      await signWithIdpKey(idp, { ...good, iat, nbf: iat + 600, exp: iat + 900 }),
      /not valid yet/,
    ],
    [
      'wrong issuer',
      await new SignJWT({ ...good, iss: 'https://evil.example' })
        .setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid: 'evil' })
        .setIssuedAt()
        .setExpirationTime('5m')
        .sign(otherIssuerKey),
      /issuer/,
    ],
    [
      'wrong audience',
      await signWithIdpKey(idp, { ...good, aud: 'https://not-airlock.example', iat, exp: iat + 300 }),
      /not meant for this resource/,
    ],
    ['bad signature (tampered payload)', `${h}.${tamperedPayload}.${aliceToken.split('.')[2]}`, /signature/],
    [
      'bad signature (foreign key, known kid)',
      await new SignJWT({ ...good })
        .setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid: idp.kid })
        .setIssuedAt()
        .setExpirationTime('5m')
        .sign(strangerKey),
      /signature/,
    ],
    ['alg none', `${b64({ alg: 'none', typ: 'at+jwt' })}.${p}.`, /algorithm/],
    ['HS256 with the RSA public key', `${hsHeader}.${hsPayload}.${hsSig}`, /algorithm/],
    [
      'unknown kid',
      await new SignJWT({ ...good })
        .setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid: 'rotated-away' })
        .setIssuedAt()
        .setExpirationTime('5m')
        .sign(strangerKey),
      /key the issuer does not publish/,
    ],
    [
      'token for another resource (an upstream token replayed)',
      await idp.userToken({ sub: 'alice', audience: GITHUB_AUD, scope: 'mcp:tools' }),
      /not meant for this resource/,
    ],
    [
      'an ID-token-typed JWT',
      await signWithIdpKey(idp, { ...good, iat, exp: iat + 300 }, { typ: 'JWT' }),
      /not an access token/,
    ],
    ['not a JWT', 'abc.def', /not a JWT/],
    [
      'no subject',
      await signWithIdpKey(idp, { ...good, sub: undefined, iat, exp: iat + 300 }),
      /sub claim is missing/,
    ],
    [
      'malformed act',
      await signWithIdpKey(idp, { ...good, act: 'devops-agent', iat, exp: iat + 300 }),
      /malformed act/,
    ],
    ['no exp', await signWithIdpKey(idp, { ...good, iat }), /exp claim is missing/],
  ];
  const before = upstream.requests.length;
  const exchangesBefore = idp.exchanges.length;
  for (const [name, token, detail] of cases) {
    const res = await call('github', `Bearer ${token}`);
    t.equal(res.statusCode, 401, `${name}: 401`);
    t.match(
      res.headers['www-authenticate'],
      /^Bearer resource_metadata=".*", error="invalid_token"/,
      `${name}: challenge`,
    );
    t.match(res.json().detail, detail, `${name}: says why`);
    t.notMatch(res.body, token.split('.')[1] ?? token, `${name}: the token is not echoed`);
  }
  t.equal(upstream.requests.length, before, 'nothing was forwarded');
  t.equal(idp.exchanges.length, exchangesBefore, 'nothing was exchanged');
  // The unknown kid caused at most one JWKS refetch (rate limited), however often it is presented.
  const jwksHits = idp.hits.get('/jwks') ?? 0;
  t.ok(
    jwksHits >= 1 && jwksHits <= 2,
    'keys were fetched; an unknown kid refetches at most once per cooldown',
  );
  const unknownKid = cases.find(([n]) => n === 'unknown kid')![1];
  for (let i = 0; i < 5; i++) await call('github', `Bearer ${unknownKid}`);
  t.equal(idp.hits.get('/jwks') ?? 0, jwksHits, 'no refetch during the cooldown');
});

t.test('route-level scopes and request.principal on a plain fastify app', async (t) => {
  const { default: Fastify } = await import('fastify');
  const { identityPlugin } = await import('../../src/identity/index.js');
  const small = Fastify();
  await small.register(identityPlugin, { identity, serveMetadata: false });
  small.get('/admin', { preHandler: small.authenticate({ scopes: ['repo:admin'] }) }, async () => 'never');
  small.get('/whoami', { preHandler: small.authenticate() }, async (req) => ({
    sub: req.principal?.user.sub,
    agent: req.principal?.agent.id,
  }));
  small.get('/open', async (req) => ({ principal: req.principal }));
  t.teardown(() => small.close());
  const admin = await small.inject({ url: '/admin', headers: { authorization: `Bearer ${aliceToken}` } });
  t.equal(admin.statusCode, 403);
  t.match(admin.headers['www-authenticate'], /scope="mcp:tools repo:admin"/);
  const who = await small.inject({ url: '/whoami', headers: { authorization: `Bearer ${aliceToken}` } });
  t.same(who.json(), { sub: 'alice', agent: CLIENTS.agent.id });
  t.same(
    (await small.inject({ url: '/open' })).json(),
    { principal: null },
    'unauthenticated routes see null',
  );
  t.equal(
    (await small.inject({ url: '/.well-known/oauth-protected-resource' })).statusCode,
    404,
    'metadata off',
  );
});

t.test('the metadata document (RFC 9728)', async (t) => {
  for (const url of ['/.well-known/oauth-protected-resource', '/.well-known/oauth-protected-resource/mcp']) {
    const res = await app.inject({ method: 'GET', url });
    t.equal(res.statusCode, 200, url);
    t.same(res.json(), {
      resource: RESOURCE,
      authorization_servers: [idp.issuer],
      bearer_methods_supported: ['header'],
      scopes_supported: ['mcp:tools'],
      resource_name: 'Airlock test',
    });
  }
  t.equal(identity.resourceMetadataUrl, 'http://127.0.0.1/.well-known/oauth-protected-resource/mcp');
});

t.test('no token or secret ever reaches the logs', async (t) => {
  // Exercise every path that logs: success (credential + principal logged), failures, static secret.
  await call('github', `Bearer ${aliceToken}`);
  await call('legacy', `Bearer ${aliceToken}`);
  await call('refused', `Bearer ${aliceToken}`);
  await call('github', `Bearer ${aliceToken}x`);
  const exchanged = upstream.requests.filter((r) => r.authorization).map((r) => r.authorization!.slice(7));
  const log = logLines.join('');
  t.ok(log.includes('calling upstream'), 'the gateway logged the credential object');
  t.ok(log.includes('"x-api-key":"[redacted]"'), 'logged credentials show header names only');
  t.ok(log.includes('authentication failed'), 'failures are logged');
  t.notOk(log.includes(STATIC_SECRET), 'static secret absent');
  t.notOk(log.includes(CLIENTS.gateway.secret), 'client secret absent');
  t.notOk(log.includes(aliceToken.split('.')[2]!), 'inbound token absent');
  for (const tok of new Set(exchanged)) t.notOk(log.includes(tok.split('.')[2]!), 'exchanged token absent');
  t.ok(log.includes('"sub":"alice"'), 'who called is logged');
});
