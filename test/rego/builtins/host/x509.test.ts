import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import t from 'tap';
import { host } from './helpers.js';

const h = host();

t.test('parse_rsa_private_key and parse_private_keys give JWKs', async (t) => {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
  const pkcs1 = privateKey.export({ format: 'pem', type: 'pkcs1' }) as string;
  const jwk = h.call('crypto.x509.parse_rsa_private_key', pkcs1) as Record<string, string>;
  t.equal(jwk.kty, 'RSA');
  t.equal(jwk.n, (publicKey.export({ format: 'jwk' }) as Record<string, string>).n);
  t.ok(jwk.d && jwk.p && jwk.q && jwk.dp && jwk.dq && jwk.qi);
  const b64 = Buffer.from(pkcs1).toString('base64');
  t.same(h.call('crypto.x509.parse_rsa_private_key', b64), jwk, 'base64 of PEM');
  t.throws(() => h.call('crypto.x509.parse_rsa_private_key', 'invalid'), /illegal base64 data/);
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({
    format: 'pem',
    type: 'pkcs8',
  }) as string;
  const keys = h.call('crypto.parse_private_keys', pkcs1 + ec) as Record<string, string>[];
  t.same(
    keys.map((k) => k.kty),
    ['RSA', 'EC'],
  );
  t.same(h.call('crypto.parse_private_keys', ''), []);
});

let openssl = true;
try {
  execFileSync('openssl', ['version'], { stdio: 'ignore' });
} catch {
  openssl = false;
}

t.test(
  'certificates',
  { skip: openssl ? false : 'openssl not available to make a test certificate' },
  async (t) => {
    const dir = t.testdir({});
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        `${dir}/key.pem`,
        '-out',
        `${dir}/cert.pem`,
        '-days',
        '2',
        '-subj',
        '/C=FR/O=Airlock/CN=gw.example',
        '-addext',
        'subjectAltName=DNS:gw.example,DNS:alt.example',
      ],
      { stdio: 'ignore' },
    );
    const { readFileSync } = await import('node:fs');
    const cert = readFileSync(`${dir}/cert.pem`, 'utf8');
    const key = readFileSync(`${dir}/key.pem`, 'utf8');
    const [c] = h.call('crypto.x509.parse_certificates', cert) as [Record<string, unknown>];
    const subject = c.Subject as Record<string, unknown>;
    t.same(subject.CommonName, 'gw.example');
    t.same(subject.Organization, ['Airlock']);
    t.same(c.DNSNames, ['gw.example', 'alt.example']);
    t.equal(c.IsCA, true, 'self-signed by openssl req -x509');
    const der = Buffer.from(cert.replace(/-----[A-Z ]+-----|\s/g, ''), 'base64');
    t.same(h.call('crypto.x509.parse_certificates', der.toString('base64')), [c], 'base64 DER');
    t.same((h.call('crypto.x509.parse_and_verify_certificates', cert) as unknown[])[0], true);
    const pair = h.call('crypto.x509.parse_keypair', cert, key) as { Certificate: string[] };
    t.same(pair.Certificate, [der.toString('base64')]);
    const other = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({
      format: 'pem',
      type: 'pkcs8',
    }) as string;
    t.throws(() => h.call('crypto.x509.parse_keypair', cert, other), /private key does not match/);
    t.throws(() => h.call('crypto.x509.parse_certificates', 'foobar'), /illegal base64/);
  },
);
