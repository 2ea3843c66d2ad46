// crypto.x509.* and crypto.parse_private_keys with node:crypto. Certificates
// come back as objects with the fields of Go's x509.Certificate that policies
// use (Subject, Issuer, validity, serial, SANs, IsCA, Raw); keys as JWKs.
import { createPrivateKey, type KeyObject, X509Certificate } from 'node:crypto';
import { base64Decode } from './encoding.js';
import { BuiltinError, builtinError } from './errors.js';
import type { Family } from './family.js';
import { fromJS, type Value } from './value.js';

interface Block {
  type: string;
  der: Buffer;
}

const PEM = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;

function pemBlocks(text: string): Block[] {
  return [...text.matchAll(PEM)].map((m) => ({
    type: m[1] as string,
    der: Buffer.from((m[2] as string).replace(/\s+/g, ''), 'base64'),
  }));
}

/** OPA's input rule: PEM text, or base64 of PEM, or base64 of DER. */
function blocksOf(name: string, input: string, derType: string): Block[] {
  if (input.trimStart().startsWith('-----BEGIN')) return pemBlocks(input);
  let raw: Buffer;
  try {
    raw = base64Decode(name, input.replace(/\s+/g, ''), false);
  } catch (e) {
    throw builtinError(name, e instanceof BuiltinError ? e.detail : String(e));
  }
  const text = raw.toString('latin1');
  if (text.includes('-----BEGIN')) return pemBlocks(text);
  return splitDER(raw).map((der) => ({ type: derType, der }));
}

/** Splits concatenated DER SEQUENCEs. */
function splitDER(buf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let i = 0;
  while (i < buf.length) {
    if (buf[i] !== 0x30 || i + 2 > buf.length) throw new Error('not DER');
    let len = buf[i + 1] as number;
    let head = 2;
    if (len & 0x80) {
      const n = len & 0x7f;
      if (n === 0 || n > 4) throw new Error('bad DER length');
      len = 0;
      for (let k = 0; k < n; k++) len = len * 256 + (buf[i + 2 + k] as number);
      head = 2 + n;
    }
    out.push(buf.subarray(i, i + head + len));
    i += head + len;
  }
  return out;
}

const NAME_FIELDS: Record<string, string> = {
  C: 'Country',
  O: 'Organization',
  OU: 'OrganizationalUnit',
  L: 'Locality',
  ST: 'Province',
  street: 'StreetAddress',
  postalCode: 'PostalCode',
};

function distinguishedName(text: string): Record<string, unknown> {
  const out: Record<string, unknown> = {
    Country: null,
    Organization: null,
    OrganizationalUnit: null,
    Locality: null,
    Province: null,
    StreetAddress: null,
    PostalCode: null,
    SerialNumber: '',
    CommonName: '',
  };
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq < 0) continue;
    const k = line.slice(0, eq);
    const v = line.slice(eq + 1);
    if (k === 'CN') out.CommonName = v;
    else if (k === 'serialNumber') out.SerialNumber = v;
    else {
      const f = NAME_FIELDS[k];
      if (f) out[f] = [...((out[f] as string[] | null) ?? []), v];
    }
  }
  return out;
}

function sans(cert: X509Certificate) {
  const dns: string[] = [];
  const emails: string[] = [];
  const ips: string[] = [];
  const uris: string[] = [];
  for (const part of (cert.subjectAltName ?? '').split(/,\s*/)) {
    const i = part.indexOf(':');
    const k = part.slice(0, i);
    const v = part.slice(i + 1);
    if (k === 'DNS') dns.push(v);
    else if (k === 'email') emails.push(v);
    else if (k === 'IP Address') ips.push(v);
    else if (k === 'URI') uris.push(v);
  }
  return { dns, emails, ips, uris };
}

function certObject(cert: X509Certificate, der: Buffer): Value {
  const s = sans(cert);
  return fromJS({
    Raw: der.toString('base64'),
    Version: 3,
    SerialNumber: Number(BigInt(`0x${cert.serialNumber}`)),
    Subject: distinguishedName(cert.subject),
    Issuer: distinguishedName(cert.issuer),
    NotBefore: new Date(cert.validFrom).toISOString().replace('.000Z', 'Z'),
    NotAfter: new Date(cert.validTo).toISOString().replace('.000Z', 'Z'),
    IsCA: cert.ca,
    DNSNames: s.dns.length ? s.dns : null,
    EmailAddresses: s.emails.length ? s.emails : null,
    IPAddresses: s.ips.length ? s.ips : null,
    URIs: s.uris.length ? s.uris : null,
    PublicKeyAlgorithm: cert.publicKey.asymmetricKeyType ?? '',
  });
}

function certificates(name: string, input: string): { cert: X509Certificate; der: Buffer }[] {
  try {
    return blocksOf(name, input, 'CERTIFICATE')
      .filter((b) => b.type === 'CERTIFICATE')
      .map((b) => ({ cert: new X509Certificate(b.der), der: b.der }));
  } catch (e) {
    if (e instanceof BuiltinError) throw e;
    throw builtinError(name, 'failed to parse certificate: malformed certificate');
  }
}

function privateKeys(name: string, input: string): KeyObject[] {
  const blocks = blocksOf(name, input, 'PRIVATE KEY').filter((b) => b.type.endsWith('PRIVATE KEY'));
  return blocks.map((b) => {
    try {
      if (b.type === 'RSA PRIVATE KEY') return createPrivateKey({ key: b.der, format: 'der', type: 'pkcs1' });
      if (b.type === 'EC PRIVATE KEY') return createPrivateKey({ key: b.der, format: 'der', type: 'sec1' });
      return createPrivateKey({ key: b.der, format: 'der', type: 'pkcs8' });
    } catch {
      throw builtinError(name, 'failed to parse private key: malformed private key');
    }
  });
}

const jwkOf = (k: KeyObject): Value => fromJS(k.export({ format: 'jwk' }));

export const x509: Family = {
  'crypto.x509.parse_certificates': (a) =>
    certificates(a.name, a.string(1)).map((c) => certObject(c.cert, c.der)),
  'crypto.x509.parse_and_verify_certificates': (a) => {
    const certs = certificates(a.name, a.string(1));
    // The chain: each certificate signed by the next; the last one self-signed or trusted as given.
    const ok =
      certs.length > 0 && certs.every((c, i) => c.cert.verify((certs[i + 1]?.cert ?? c.cert).publicKey));
    return [ok, ok ? certs.map((c) => certObject(c.cert, c.der)) : []];
  },
  'crypto.x509.parse_rsa_private_key': (a) => {
    const keys = privateKeys(a.name, a.string(1));
    const k = keys[0];
    if (k?.asymmetricKeyType !== 'rsa') throw builtinError(a.name, 'no RSA private key found');
    return jwkOf(k as KeyObject);
  },
  'crypto.parse_private_keys': (a) => {
    const s = a.string(1);
    if (s === '') return [];
    return privateKeys(a.name, s).map(jwkOf);
  },
  'crypto.x509.parse_keypair': (a) => {
    const certs = certificates(a.name, a.string(1));
    const keys = privateKeys(a.name, a.string(2));
    const leaf = certs[0];
    const key = keys[0];
    if (!leaf || !key) throw builtinError(a.name, 'tls: failed to find certificate or private key');
    if (!leaf.cert.checkPrivateKey(key))
      throw builtinError(a.name, 'tls: private key does not match public key');
    // Certificate as Go's tls.Certificate marshals it (DER, base64); the key as a JWK.
    return fromJS({
      Certificate: certs.map((c) => c.der.toString('base64')),
      PrivateKey: key.export({ format: 'jwk' }),
    });
  },
  'crypto.x509.parse_certificate_request': (a) => {
    const blocks = blocksOf(a.name, a.string(1), 'CERTIFICATE REQUEST');
    if (blocks.length === 0) throw builtinError(a.name, 'no certificate request found');
    // Node has no CSR parser; not supported yet (the input is checked, the result refused).
    throw builtinError(a.name, 'parsing certificate requests is not supported by Airlock');
  },
};
