import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import t from 'tap';
import { host } from './helpers.js';

const NOW = 1_700_000_000n * 1_000_000_000n;
const h = host({ now: () => NOW });
const lax = host({ strict: false, now: () => NOW });

const jwk = (k: KeyObject) => k.export({ format: 'jwk' }) as Record<string, unknown>;
const pem = (k: KeyObject) => k.export({ format: 'pem', type: 'spki' }) as string;
const b64u = (s: string) => Buffer.from(s).toString('base64url');

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const rsa2 = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const ed = generateKeyPairSync('ed25519');
const secretJwk = { kty: 'oct', k: b64u('s3cret') };

function sign(
  alg: string,
  priv: Record<string, unknown>,
  claims: Record<string, unknown> = { iss: 'airlock', aud: 'gw' },
): string {
  return h.call('io.jwt.encode_sign', { alg, typ: 'JWT' }, claims, priv) as string;
}

t.test('digests and HMACs', async (t) => {
  t.equal(h.call('crypto.md5', 'abc'), '900150983cd24fb0d6963f7d28e17f72');
  t.equal(h.call('crypto.sha1', 'abc'), 'a9993e364706816aba3e25717850c26c9cd0d89d');
  t.equal(h.call('crypto.sha256', 'abc'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  t.equal(
    h.call('crypto.hmac.sha256', 'data', 'key'),
    '5031fe3d989c6d1537a013fa6e739da23463fdaec3b70137d828e36ace221bd0',
  );
  t.equal(h.call('crypto.hmac.equal', 'abc', 'abc'), true);
  t.equal(h.call('crypto.hmac.equal', 'abc', 'abd'), false);
  t.equal(h.call('crypto.hmac.equal', 'abc', 'ab'), false);
});

t.test('io.jwt.decode', async (t) => {
  const tok =
    'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJuZXciOiJJIGFtIGEgdXNlciBjcmVhdGVkIGZpZWxkIiwiaXNzIjoib3BhIn0.6UmjsclVDGD9jcmX_F8RJzVgHtUZuLu2pxkF_UEQCrE';
  t.same(h.call('io.jwt.decode', tok), [
    { alg: 'HS256', typ: 'JWT' },
    { iss: 'opa', new: 'I am a user created field' },
    'e949a3b1c9550c60fd8dc997fc5f112735601ed519b8bbb6a71905fd41100ab1',
  ]);
  t.throws(
    () => h.call('io.jwt.decode', 'eyJhbGciOiJIU^%zI1NiI.e30.x'),
    /JWT header had invalid encoding: illegal base64 data at input byte 13/,
  );
  t.throws(() => h.call('io.jwt.decode', 'a.b'), /io.jwt.decode:/);
  t.equal(lax.call('io.jwt.decode', 'a.b'), undefined);
});

t.test('sign and verify each algorithm family; wrong keys fail', async (t) => {
  const rs = sign('RS256', jwk(rsa.privateKey));
  t.equal(h.call('io.jwt.verify_rs256', rs, pem(rsa.publicKey)), true, 'PEM public key');
  t.equal(h.call('io.jwt.verify_rs256', rs, JSON.stringify(jwk(rsa.publicKey))), true, 'JWK');
  t.equal(
    h.call('io.jwt.verify_rs256', rs, JSON.stringify({ keys: [jwk(rsa2.publicKey), jwk(rsa.publicKey)] })),
    true,
    'JWK set',
  );
  t.equal(h.call('io.jwt.verify_rs256', rs, pem(rsa2.publicKey)), false, 'wrong key');
  t.equal(
    h.call('io.jwt.verify_rs384', rs, pem(rsa.publicKey)),
    false,
    'algorithm of the function must match the header',
  );
  const ps = sign('PS512', jwk(rsa.privateKey));
  t.equal(h.call('io.jwt.verify_ps512', ps, pem(rsa.publicKey)), true);
  t.equal(h.call('io.jwt.verify_ps512', ps, pem(rsa2.publicKey)), false);
  const es = sign('ES256', jwk(ec.privateKey));
  t.equal(h.call('io.jwt.verify_es256', es, pem(ec.publicKey)), true);
  t.equal(h.call('io.jwt.verify_es256', es, pem(rsa.publicKey)), false, 'key of another type');
  const eddsa = sign('EdDSA', jwk(ed.privateKey));
  t.equal(h.call('io.jwt.verify_eddsa', eddsa, pem(ed.publicKey)), true);
  const hs = sign('HS256', secretJwk);
  t.equal(h.call('io.jwt.verify_hs256', hs, 's3cret'), true);
  t.equal(h.call('io.jwt.verify_hs256', hs, 'wrong'), false);
  const tampered = `${hs.split('.')[0]}.${b64u('{"iss":"evil"}')}.${hs.split('.')[2]}`;
  t.equal(h.call('io.jwt.verify_hs256', tampered, 's3cret'), false, 'tampered payload');
  t.throws(() => h.call('io.jwt.verify_rs256', rs, 'not a key'), /failed to parse/);
});

t.test('alg: none never verifies', async (t) => {
  const none = `${b64u('{"alg":"none","typ":"JWT"}')}.${b64u('{"iss":"airlock"}')}.`;
  t.equal(h.call('io.jwt.verify_hs256', none, ''), false);
  t.equal(h.call('io.jwt.verify_rs256', none, pem(rsa.publicKey)), false);
  t.same(h.call('io.jwt.decode_verify', none, { secret: '' }), [false, {}, {}]);
  t.same(h.call('io.jwt.decode_verify', none, { cert: pem(rsa.publicKey), alg: 'none' }), [false, {}, {}]);
  t.throws(() => h.call('io.jwt.encode_sign', { alg: 'none' }, {}, secretJwk), /unknown signature algorithm/);
});

t.test('io.jwt.decode_verify constraints', async (t) => {
  const nowS = Number(NOW / 1_000_000_000n);
  const good = sign('RS256', jwk(rsa.privateKey), {
    iss: 'airlock',
    aud: 'gw',
    exp: nowS + 60,
    nbf: nowS - 60,
  });
  const cert = pem(rsa.publicKey);
  const [ok, header, payload] = h.call('io.jwt.decode_verify', good, { cert, iss: 'airlock', aud: 'gw' }) as [
    boolean,
    unknown,
    unknown,
  ];
  t.equal(ok, true);
  t.same(header, { alg: 'RS256', typ: 'JWT' });
  t.same(payload, { iss: 'airlock', aud: 'gw', exp: nowS + 60, nbf: nowS - 60 });
  t.same(
    h.call('io.jwt.decode_verify', good, { cert: pem(rsa2.publicKey), aud: 'gw' }),
    [false, {}, {}],
    'wrong key',
  );
  t.same(h.call('io.jwt.decode_verify', good, { cert, iss: 'other', aud: 'gw' }), [false, {}, {}], 'issuer');
  t.same(
    h.call('io.jwt.decode_verify', good, { cert }),
    [false, {}, {}],
    'token has aud, constraints do not',
  );
  t.same(h.call('io.jwt.decode_verify', good, { cert, aud: 'x' }), [false, {}, {}], 'audience');
  t.same(
    h.call('io.jwt.decode_verify', good, { cert, aud: 'gw', alg: 'RS512' }),
    [false, {}, {}],
    'alg constraint',
  );
  const expired = sign('RS256', jwk(rsa.privateKey), { exp: nowS - 1 });
  t.same(h.call('io.jwt.decode_verify', expired, { cert }), [false, {}, {}], 'expired');
  t.equal(
    (h.call('io.jwt.decode_verify', expired, { cert, time: Number(NOW) - 10e9 }) as unknown[])[0],
    true,
    'time constraint',
  );
  const early = sign('RS256', jwk(rsa.privateKey), { nbf: nowS + 100 });
  t.same(h.call('io.jwt.decode_verify', early, { cert }), [false, {}, {}], 'not yet valid');
  const hs = sign('HS256', secretJwk, { sub: 'x' });
  t.equal((h.call('io.jwt.decode_verify', hs, { secret: 's3cret' }) as unknown[])[0], true);
  t.same(h.call('io.jwt.decode_verify', hs, { cert }), [false, {}, {}], 'HMAC token with a cert constraint');
  t.throws(
    () => h.call('io.jwt.decode_verify', hs, { secret: 's3cret', bogus: 1 }),
    /unknown token validation constraint: bogus/,
  );
  t.throws(() => h.call('io.jwt.decode_verify', hs, {}), /no key/);
});

t.test('encode_sign_raw', async (t) => {
  const key = JSON.stringify({
    kty: 'oct',
    k: 'AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow',
  });
  const tok = h.call(
    'io.jwt.encode_sign_raw',
    '{"typ":"JWT",\r\n "alg":"HS256"}',
    '{"iss":"joe",\r\n "exp":1300819380,\r\n "http://example.com/is_root":true}',
    key,
  );
  t.equal(
    tok,
    'eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk',
    'RFC 7515 A.1',
  );
  t.throws(
    () => h.call('io.jwt.encode_sign_raw', '{"typ:"JWT"}', '{}', key),
    /missing or invalid 'alg' header: cannot parse JSON/,
  );
  t.throws(
    () => h.call('io.jwt.encode_sign_raw', '{"typ":"JWT","alg":"HS256"}', '{"iss:"joe"}', key),
    /type is JWT but payload is not JSON/,
  );
});
