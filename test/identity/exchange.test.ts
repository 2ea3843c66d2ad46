// TokenExchanger against a scripted token endpoint: response checks, caching
// rules, single flight, bounded cache, and errors without token material.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as oidc from 'openid-client';
import t from 'tap';
import { IdpUnavailableError, UpstreamCredentialError } from '../../src/identity/errors.js';
import { type ExchangeRequest, TokenExchanger } from '../../src/identity/exchange.js';

const SUBJECT = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c3ViamVjdC1zaWduYXR1cmU';
let reply: { status: number; body: Record<string, unknown> } = { status: 200, body: {} };
const bodies: URLSearchParams[] = [];
const server = createServer((req, res) => {
  let data = '';
  req.on('data', (c) => {
    data += c;
  });
  req.on('end', () => {
    bodies.push(new URLSearchParams(data));
    setTimeout(() => {
      res.writeHead(reply.status, { 'content-type': 'application/json' }).end(JSON.stringify(reply.body));
    }, 5);
  });
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

const client = new oidc.Configuration(
  { issuer: base, token_endpoint: `${base}/token` },
  'airlock',
  undefined,
  oidc.ClientSecretBasic('s3cret'),
);
oidc.allowInsecureRequests(client);

const clock = { now: 1_000_000 };
function request(over: Partial<ExchangeRequest> = {}): ExchangeRequest {
  return {
    upstream: 'github',
    issuer: base,
    client,
    subjectToken: SUBJECT,
    actorToken: 'actor-token-value',
    audience: 'https://api.github.example',
    resource: 'https://api.github.example/mcp',
    scopes: ['repo:write', 'repo:read'],
    userKey: 'alice',
    agentKey: 'agent:devops',
    expiryMarginMs: 30_000,
    notAfterMs: Number.POSITIVE_INFINITY,
    ...over,
  };
}
const ok = (token: string, extra: Record<string, unknown> = {}) => ({
  status: 200,
  body: {
    access_token: token,
    token_type: 'Bearer',
    issued_token_type: 'urn:ietf:params:oauth:token-type:access_token',
    expires_in: 300,
    ...extra,
  },
});

t.test('the request carries every RFC 8693 parameter', async (t) => {
  reply = ok('tok-1');
  const ex = new TokenExchanger({ now: () => clock.now });
  const issued = await ex.exchange(request());
  t.equal(issued.accessToken, 'tok-1');
  t.equal(issued.cached, false);
  const body = bodies.at(-1)!;
  t.equal(body.get('grant_type'), 'urn:ietf:params:oauth:grant-type:token-exchange');
  t.equal(body.get('subject_token'), SUBJECT);
  t.equal(body.get('subject_token_type'), 'urn:ietf:params:oauth:token-type:access_token');
  t.equal(body.get('actor_token'), 'actor-token-value');
  t.equal(body.get('actor_token_type'), 'urn:ietf:params:oauth:token-type:access_token');
  t.equal(body.get('audience'), 'https://api.github.example');
  t.equal(body.get('resource'), 'https://api.github.example/mcp');
  t.equal(body.get('scope'), 'repo:write repo:read');
});

t.test(
  'cache: keyed by scopes as a set, reused until the margin, concurrent callers share one exchange',
  async (t) => {
    reply = ok('tok-2');
    const ex = new TokenExchanger({ now: () => clock.now });
    const [a, b] = await Promise.all([
      ex.exchange(request()),
      ex.exchange(request({ scopes: ['repo:read', 'repo:write'] })),
    ]);
    t.equal(ex.exchangeCount, 1);
    t.equal(a.accessToken, b.accessToken);
    clock.now += 269_000;
    t.equal((await ex.exchange(request())).cached, true, 'still fresh 31 s before expiry');
    clock.now += 2_000;
    reply = ok('tok-3');
    const renewed = await ex.exchange(request());
    t.equal(renewed.accessToken, 'tok-3', 'renewed inside the margin');
    t.equal(ex.exchangeCount, 2);
    await ex.exchange(request({ agentKey: 'agent:other' }));
    t.equal(ex.exchangeCount, 3, 'another agent never shares a token');
    ex.invalidate(request());
    await ex.exchange(request());
    t.equal(ex.exchangeCount, 4, 'invalidate forces a new exchange');
  },
);

t.test('tokens without expires_in are not cached; the cache is bounded', async (t) => {
  reply = ok('tok-4', { expires_in: undefined });
  const ex = new TokenExchanger({ now: () => clock.now, maxEntries: 2 });
  await ex.exchange(request());
  await ex.exchange(request());
  t.equal(ex.exchangeCount, 2);
  t.equal(ex.size, 0);
  reply = ok('tok-5');
  for (const user of ['u1', 'u2', 'u3']) await ex.exchange(request({ userKey: user }));
  t.equal(ex.size, 2, 'oldest evicted');
});

t.test('unusable responses are refused', async (t) => {
  const ex = new TokenExchanger({ now: () => clock.now });
  reply = ok('tok-6', { issued_token_type: 'urn:ietf:params:oauth:token-type:refresh_token' });
  await t.rejects(ex.exchange(request()), {
    name: 'UpstreamCredentialError',
    message: /unusable token type/,
  });
  reply = ok('tok-7', { token_type: 'DPoP' });
  await t.rejects(ex.exchange(request({ userKey: 'x' })), /only Bearer is supported/);
});

t.test('IdP errors are precise and never carry token material', async (t) => {
  const ex = new TokenExchanger({ now: () => clock.now });
  reply = {
    status: 400,
    body: { error: 'invalid_grant', error_description: `subject_token ${SUBJECT} is revoked` },
  };
  const err = await ex.exchange(request()).catch((e: unknown) => e);
  t.type(err, UpstreamCredentialError);
  t.match(
    (err as Error).message,
    /token exchange refused by .* \(invalid_grant: subject_token \[redacted\] is revoked\)/,
  );
  t.notMatch(JSON.stringify({ m: (err as Error).message, s: String(err) }), /c3ViamVjdC1zaWduYXR1cmU/);

  const down = new oidc.Configuration(
    { issuer: base, token_endpoint: 'http://127.0.0.1:1/token' },
    'airlock',
    undefined,
    oidc.None(),
  );
  oidc.allowInsecureRequests(down);
  await t.rejects(ex.exchange(request({ client: down, userKey: 'y' })), IdpUnavailableError);
});
