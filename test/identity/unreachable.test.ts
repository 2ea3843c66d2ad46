// The IdP is down: requests with a token answer 503 with a clear message,
// nothing is forwarded; once it is back (and after the short discovery back-off), calls succeed again.
import t from 'tap';
import { CLIENTS, startIdp } from '../../scripts/demo/idp.js';
import { createIdentity } from '../../src/identity/index.js';
import { buildGateway, startUpstream } from './fixtures/gateway.js';

const RESOURCE = 'http://127.0.0.1/mcp';
const idp = await startIdp();
const upstream = await startUpstream();
t.teardown(() => upstream.close());

// A token the IdP really issued, then the IdP goes away before Airlock has ever seen its keys.
const token = await idp.userToken({ sub: 'alice', audience: RESOURCE });
await idp.close();

const identity = createIdentity(
  {
    resource: RESOURCE,
    allow_insecure_http: true,
    issuers: [
      {
        issuer: idp.issuer,
        jwks: { timeout_ms: 1000 },
        exchange_client: { client_id: CLIENTS.gateway.id, client_secret: { env: 'GW' } },
      },
    ],
    upstreams: { github: { mode: 'on_behalf_of', audience: 'https://api.github.example', actor: 'none' } },
  },
  { env: { GW: CLIENTS.gateway.secret } },
);
const app = await buildGateway(identity, { github: upstream.url });
t.teardown(() => app.close());

t.test('IdP unreachable → 503 with a clear message, nothing forwarded', async (t) => {
  for (let i = 0; i < 2; i++) {
    const res = await app.inject({
      method: 'POST',
      url: '/mcp/github',
      headers: { authorization: `Bearer ${token}` },
    });
    t.equal(res.statusCode, 503);
    t.equal(res.headers['retry-after'], '5');
    t.match(res.headers['content-type'], /^application\/problem\+json/);
    const body = res.json();
    t.match(body, { status: 503, type: /idp_unavailable$/, title: 'Identity provider unavailable' });
    t.match(body.detail, new RegExp(`identity provider ${idp.issuer.replace(/[.]/g, '\\.')} is unreachable`));
    t.notMatch(res.body, token.split('.')[2]!, 'no token material in the answer');
  }
  t.equal(upstream.requests.length, 0, 'nothing forwarded');
});

t.test('a request without a token is still a 401, not a 503', async (t) => {
  const res = await app.inject({ method: 'POST', url: '/mcp/github' });
  t.equal(res.statusCode, 401);
});

t.test(
  'IdP goes down after keys are cached: tokens still verify, but the exchange fails with 503',
  async (t) => {
    const idp2 = await startIdp();
    const token2 = await idp2.userToken({ sub: 'bob', audience: RESOURCE });
    const identity2 = createIdentity(
      {
        resource: RESOURCE,
        allow_insecure_http: true,
        issuers: [
          {
            issuer: idp2.issuer,
            jwks: { timeout_ms: 1000 },
            exchange_client: { client_id: CLIENTS.gateway.id, client_secret: { env: 'GW' } },
          },
        ],
        upstreams: {
          github: { mode: 'on_behalf_of', audience: 'https://api.github.example', actor: 'none' },
        },
      },
      { env: { GW: CLIENTS.gateway.secret } },
    );
    await identity2.warmUp();
    await idp2.close();
    const app2 = await buildGateway(identity2, { github: upstream.url });
    t.teardown(() => app2.close());
    const principal = await identity2.authenticate({ authorization: `Bearer ${token2}` });
    t.equal(principal.user.sub, 'bob', 'verification works from cached keys');
    const res = await app2.inject({
      method: 'POST',
      url: '/mcp/github',
      headers: { authorization: `Bearer ${token2}` },
    });
    t.equal(res.statusCode, 503);
    t.match(res.json().detail, /is unreachable \(token exchange request failed\)/);
    t.equal(upstream.requests.length, 0, 'nothing forwarded, no fallback');
  },
);
