// JWKS caching: one fetch for many tokens, rotation picked up through a
// rate-limited refetch on an unknown kid, stale keys kept while the IdP is
// briefly away, and only public signature keys trusted.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import t from 'tap';
import { IdpUnavailableError, InvalidTokenError } from '../../src/identity/errors.js';
import { JwksCache } from '../../src/identity/jwks.js';

const state = { status: 200, body: '{"keys":[]}', hits: 0 };
const server = createServer((_req, res) => {
  state.hits++;
  res.writeHead(state.status, { 'content-type': 'application/json' }).end(state.body);
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
const uri = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks`;

async function publicJwk(kid: string): Promise<JWK> {
  const { publicKey } = await generateKeyPair('ES256', { extractable: true });
  return { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' };
}
const k1 = await publicJwk('k1');
const k2 = await publicJwk('k2');
const serve = (...keys: JWK[]) => {
  state.status = 200;
  state.body = JSON.stringify({ keys });
};

function cache(clock: { now: number }, warnings: string[] = []) {
  return new JwksCache({
    issuer: 'https://idp.test',
    uri,
    cacheMaxAgeMs: 600_000,
    refetchCooldownMs: 30_000,
    timeoutMs: 1000,
    maxKeys: 10,
    maxBytes: 4096,
    now: () => clock.now,
    warn: (m) => warnings.push(m),
  });
}

t.test('keys are fetched once and reused', async (t) => {
  serve(k1);
  const clock = { now: 1_000_000 };
  const c = cache(clock);
  await Promise.all([c.getKey({ alg: 'ES256', kid: 'k1' }), c.getKey({ alg: 'ES256', kid: 'k1' })]);
  await c.getKey({ alg: 'ES256', kid: 'k1' });
  t.equal(c.fetchCount, 1, 'concurrent and later lookups share one fetch');
});

t.test('rotation: an unknown kid refetches, at most once per cooldown', async (t) => {
  serve(k1);
  const clock = { now: 1_000_000 };
  const c = cache(clock);
  await c.getKey({ alg: 'ES256', kid: 'k1' });
  serve(k1, k2); // the IdP rotates in k2
  await t.rejects(c.getKey({ alg: 'ES256', kid: 'k2' }), InvalidTokenError, 'inside the cooldown: refused');
  t.equal(c.fetchCount, 1, 'no refetch inside the cooldown');
  clock.now += 30_000;
  t.ok(await c.getKey({ alg: 'ES256', kid: 'k2' }), 'after the cooldown the new key is found');
  t.equal(c.fetchCount, 2);
  const err = await c.getKey({ alg: 'ES256', kid: 'nope' }).catch((e: unknown) => e);
  t.type(err, InvalidTokenError);
  t.equal((err as InvalidTokenError).reason, 'unknown_key');
  for (let i = 0; i < 10; i++) await c.getKey({ alg: 'ES256', kid: 'nope' }).catch(() => undefined);
  t.equal(c.fetchCount, 2, 'a flood of unknown kids causes no refetch');
});

t.test('old keys are refreshed; while the IdP is down the cached keys stay usable', async (t) => {
  serve(k1);
  const clock = { now: 1_000_000 };
  const warnings: string[] = [];
  const c = cache(clock, warnings);
  await c.getKey({ alg: 'ES256', kid: 'k1' });
  clock.now += 600_001;
  state.status = 500;
  t.ok(await c.getKey({ alg: 'ES256', kid: 'k1' }), 'stale key used');
  t.equal(c.fetchCount, 2, 'a refresh was attempted');
  t.match(warnings, [/JWKS refresh for https:\/\/idp\.test failed; using cached keys/]);
  serve(k2);
  clock.now += 600_001;
  await t.rejects(c.getKey({ alg: 'ES256', kid: 'k1' }), InvalidTokenError, 'k1 is gone after the refresh');
});

t.test('an IdP that never answered is unavailable (503), not an invalid token', async (t) => {
  state.status = 502;
  const clock = { now: 0 };
  const c = cache(clock);
  await t.rejects(c.getKey({ alg: 'ES256', kid: 'k1' }), IdpUnavailableError);
  await t.rejects(c.getKey({ alg: 'ES256', kid: 'k1' }), IdpUnavailableError);
  t.equal(c.fetchCount, 1, 'a failed fetch is not retried during the back-off');
  clock.now += 2000;
  state.body = 'x'.repeat(5000);
  state.status = 200;
  await t.rejects(c.getKey({ alg: 'ES256', kid: 'k1' }), IdpUnavailableError, 'an oversized JWKS is refused');
  clock.now += 2000;
  state.body = 'not json';
  await t.rejects(c.getKey({ alg: 'ES256', kid: 'k1' }), IdpUnavailableError, 'garbage is refused');
  clock.now += 2000;
  serve(k1);
  t.ok(await c.getKey({ alg: 'ES256', kid: 'k1' }), 'recovers once the IdP is back');
  t.equal(c.fetchCount, 4);
});

t.test('symmetric and private keys in a JWKS are never used', async (t) => {
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  const leaked = { ...(await exportJWK(privateKey)), kid: 'leaked', alg: 'ES256' };
  const oct = { kty: 'oct', k: 'c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0', kid: 'hmac', alg: 'HS256' };
  const enc = { ...k2, kid: 'enc', use: 'enc' };
  serve(k1, leaked, oct, enc);
  const c = cache({ now: 0 });
  t.ok(await c.getKey({ alg: 'ES256', kid: 'k1' }));
  await t.rejects(c.getKey({ alg: 'HS256', kid: 'hmac' }), InvalidTokenError);
  await t.rejects(c.getKey({ alg: 'ES256', kid: 'leaked' }), InvalidTokenError);
  await t.rejects(c.getKey({ alg: 'ES256', kid: 'enc' }), InvalidTokenError);
});

t.test('keys are never fetched over plain http unless insecure http is allowed', async (t) => {
  const { IssuerClient } = await import('../../src/identity/issuer.js');
  const { parseIdentityConfig } = await import('../../src/identity/config.js');
  const settings = parseIdentityConfig({
    resource: 'https://airlock.example/mcp',
    issuers: [{ issuer: 'https://idp.example', jwks_uri: 'https://idp.example/jwks' }],
  }).issuers[0]!;
  const strict = new IssuerClient({ ...settings, jwksUri: uri }, { allowInsecureHttp: false });
  await t.rejects(strict.jwks(), { name: 'IdpUnavailableError', message: /is not https/ });
  const relaxed = new IssuerClient({ ...settings, jwksUri: uri }, { allowInsecureHttp: true });
  t.ok(await relaxed.jwks());
});
