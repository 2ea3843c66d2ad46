// Crypto and tokens: digests, HMACs, JWT decode/verify/sign. Signatures are
// checked and produced by node:crypto (no hand-rolled crypto); the JWS
// framing and OPA's rules (constraints, alg: none never verifies) are here.
import {
  createHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  constants as cryptoConstants,
  sign as cryptoSign,
  verify as cryptoVerify,
  type KeyObject,
  timingSafeEqual,
  X509Certificate,
} from 'node:crypto';
import { base64Decode, marshal } from './encoding.js';
import { type Args, BuiltinError, builtinError, typeError } from './errors.js';
import type { Family, HostContext } from './family.js';
import { goJSONSyntaxError } from './json-syntax.js';
import { fromJS, RegoObject, toJS, type Value } from './value.js';

// ------------------------------------------------------------ digests and HMACs
const digest = (alg: string) => (a: Args) => createHash(alg).update(a.string(1), 'utf8').digest('hex');
const hmac = (alg: string) => (a: Args) =>
  createHmac(alg, Buffer.from(a.string(2), 'utf8'))
    .update(a.string(1), 'utf8')
    .digest('hex');

function hmacEqual(a: Args): boolean {
  const x = Buffer.from(a.string(1), 'utf8');
  const y = Buffer.from(a.string(2), 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}

// ------------------------------------------------------------ JWS algorithms
type Family_ = 'HS' | 'RS' | 'PS' | 'ES' | 'EdDSA';
interface Alg {
  family: Family_;
  hash: string | null;
}
const ALGS: Record<string, Alg> = {
  HS256: { family: 'HS', hash: 'sha256' },
  HS384: { family: 'HS', hash: 'sha384' },
  HS512: { family: 'HS', hash: 'sha512' },
  RS256: { family: 'RS', hash: 'sha256' },
  RS384: { family: 'RS', hash: 'sha384' },
  RS512: { family: 'RS', hash: 'sha512' },
  PS256: { family: 'PS', hash: 'sha256' },
  PS384: { family: 'PS', hash: 'sha384' },
  PS512: { family: 'PS', hash: 'sha512' },
  ES256: { family: 'ES', hash: 'sha256' },
  ES384: { family: 'ES', hash: 'sha384' },
  ES512: { family: 'ES', hash: 'sha512' },
  EdDSA: { family: 'EdDSA', hash: null },
};

const HASH_BYTES: Record<string, number> = { sha256: 32, sha384: 48, sha512: 64 };

function signOptions(alg: Alg, key: KeyObject) {
  if (alg.family === 'PS')
    return {
      key,
      padding: cryptoConstants.RSA_PKCS1_PSS_PADDING,
      saltLength: HASH_BYTES[alg.hash ?? ''] ?? 32,
    };
  if (alg.family === 'ES') return { key, dsaEncoding: 'ieee-p1363' as const };
  if (alg.family === 'RS') return { key, padding: cryptoConstants.RSA_PKCS1_PADDING };
  return { key };
}

function keyFits(alg: Alg, key: KeyObject): boolean {
  const t = key.asymmetricKeyType;
  if (alg.family === 'RS') return t === 'rsa';
  if (alg.family === 'PS') return t === 'rsa' || t === 'rsa-pss';
  if (alg.family === 'ES') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    const want = alg.hash === 'sha256' ? 'prime256v1' : alg.hash === 'sha384' ? 'secp384r1' : 'secp521r1';
    return t === 'ec' && (curve === undefined || curve === want);
  }
  if (alg.family === 'EdDSA') return t === 'ed25519' || t === 'ed448';
  return false;
}

function verifySignature(
  algName: string,
  signingInput: string,
  sig: Buffer,
  keys: KeyObject[] | string,
): boolean {
  const alg = ALGS[algName];
  if (!alg) return false; // includes "none": never verifies
  const data = Buffer.from(signingInput, 'utf8');
  if (alg.family === 'HS') {
    if (typeof keys !== 'string') return false;
    const mac = createHmac(alg.hash ?? 'sha256', Buffer.from(keys, 'utf8'))
      .update(data)
      .digest();
    return mac.length === sig.length && timingSafeEqual(mac, sig);
  }
  if (typeof keys === 'string') return false;
  for (const key of keys) {
    if (!keyFits(alg, key)) continue;
    try {
      if (cryptoVerify(alg.hash, data, signOptions(alg, key), sig)) return true;
    } catch {
      // a key of the wrong shape for this algorithm: try the next one
    }
  }
  return false;
}

const keyCache = new Map<string, KeyObject[]>();
/** Parsed keys kept per key text (keys repeat across calls; parsing costs more than verifying). */
const KEY_CACHE_SIZE = 64;

/** Public keys from a PEM certificate, a PEM public key, a JWK or a JWK set (JSON text). */
function publicKeys(name: string, text: string): KeyObject[] {
  const hit = keyCache.get(text);
  if (hit) return hit;
  const keys = parsePublicKeys(name, text);
  if (keyCache.size >= KEY_CACHE_SIZE) keyCache.clear();
  keyCache.set(text, keys);
  return keys;
}

function parsePublicKeys(name: string, text: string): KeyObject[] {
  const t = text.trim();
  try {
    if (t.startsWith('{')) {
      const jwk = JSON.parse(t) as { keys?: unknown[] };
      const list = Array.isArray(jwk.keys) ? jwk.keys : [jwk];
      return list.map((k) => createPublicKey({ key: k as never, format: 'jwk' }));
    }
    if (t.includes('-----BEGIN CERTIFICATE-----')) {
      const blocks = t.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
      return blocks.map((b) => new X509Certificate(b).publicKey);
    }
    if (t.includes('-----BEGIN')) return [createPublicKey(t)];
  } catch (e) {
    // Node's (OpenSSL's) reason stays out: it is not OPA's text.
    if (e instanceof BuiltinError) throw e;
    throw builtinError(name, 'failed to parse a PEM certificate, PEM public key or JWK');
  }
  throw builtinError(name, 'failed to parse a PEM certificate, PEM public key or JWK');
}

// ------------------------------------------------------------ JWT decoding
interface Token {
  header: Record<string, unknown>;
  payload: unknown;
  signingInput: string;
  signature: Buffer;
}

function b64url(name: string, part: string, what: string): Buffer {
  try {
    return base64Decode(name, part, true);
  } catch (e) {
    const detail = e instanceof BuiltinError ? e.detail : String(e);
    throw builtinError(name, `JWT ${what} had invalid encoding: ${detail}`);
  }
}

function parseJSON(name: string, buf: Buffer, what: string): unknown {
  const text = buf.toString('utf8');
  try {
    return JSON.parse(text);
  } catch {
    throw builtinError(
      name,
      `JWT ${what} had invalid encoding: ${goJSONSyntaxError(text) ?? 'invalid JSON'}`,
    );
  }
}

function decodeToken(name: string, jwt: string, depth = 0): Token {
  const parts = jwt.split('.');
  if (parts.length === 5) throw builtinError(name, 'JWT is a JWE object, which is not supported');
  if (parts.length !== 3) throw builtinError(name, 'encoded JWT had no period separators');
  const [h, p, s] = parts as [string, string, string];
  const header = parseJSON(name, b64url(name, h, 'header'), 'header');
  if (header === null || typeof header !== 'object' || Array.isArray(header))
    throw builtinError(name, 'JWT header is not a JSON object');
  const hdr = header as Record<string, unknown>;
  const payloadBytes = b64url(name, p, 'payload');
  let payload: unknown;
  if (hdr.cty === 'JWT') {
    if (depth > 4) throw builtinError(name, 'JWT nested too deeply');
    payload = decodeToken(name, payloadBytes.toString('utf8'), depth + 1).payload;
  } else payload = parseJSON(name, payloadBytes, 'payload');
  return { header: hdr, payload, signingInput: `${h}.${p}`, signature: b64url(name, s, 'signature') };
}

function verifyWith(algs: string[]) {
  return (a: Args): boolean => {
    const tok = decodeToken(a.name, a.string(1));
    const alg = tok.header.alg;
    if (typeof alg !== 'string' || !algs.includes(alg)) return false;
    const family = ALGS[alg]?.family;
    const keys = family === 'HS' ? a.string(2) : publicKeys(a.name, a.string(2));
    return verifySignature(alg, tok.signingInput, tok.signature, keys);
  };
}

// ------------------------------------------------------------ io.jwt.decode_verify
const CONSTRAINTS = new Set(['cert', 'secret', 'alg', 'iss', 'aud', 'time']);

function decodeVerify(a: Args, ctx: HostContext): Value {
  const jwt = a.string(1);
  const c = a.object(2);
  for (const k of c.keys()) {
    if (typeof k !== 'string' || !CONSTRAINTS.has(k))
      throw builtinError(
        a.name,
        `unknown token validation constraint: ${typeof k === 'string' ? k : marshal(k)}`,
      );
  }
  const cert = c.get('cert');
  const secret = c.get('secret');
  if (cert !== undefined && typeof cert !== 'string')
    throw typeError(a.name, 'cert constraint must be a string');
  if (secret !== undefined && typeof secret !== 'string')
    throw typeError(a.name, 'secret constraint must be a string');
  if (cert === undefined && secret === undefined)
    throw builtinError(a.name, 'no key provided (constraints need cert or secret)');
  const wantAlg = c.get('alg');
  const time = c.get('time');
  const now = typeof time === 'number' || typeof time === 'bigint' ? Number(time) : Number(ctx.now());
  const invalid: Value = [false, new RegoObject(), new RegoObject()];
  let tok: Token;
  try {
    tok = decodeToken(a.name, jwt);
  } catch (e) {
    if (e instanceof BuiltinError) return invalid;
    throw e;
  }
  const alg = tok.header.alg;
  if (typeof alg !== 'string' || !ALGS[alg]) return invalid; // "none" and unknown algorithms never verify
  if (wantAlg !== undefined && wantAlg !== alg) return invalid;
  const isHS = ALGS[alg]?.family === 'HS';
  let ok = false;
  if (isHS) ok = typeof secret === 'string' && verifySignature(alg, tok.signingInput, tok.signature, secret);
  else if (typeof cert === 'string')
    ok = verifySignature(alg, tok.signingInput, tok.signature, publicKeys(a.name, cert));
  if (!ok) return invalid;
  const payload = tok.payload;
  if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) return invalid;
  const claims = payload as Record<string, unknown>;
  const seconds = now / 1e9;
  if (claims.exp !== undefined && (typeof claims.exp !== 'number' || seconds >= claims.exp)) return invalid;
  if (claims.nbf !== undefined && (typeof claims.nbf !== 'number' || seconds < claims.nbf)) return invalid;
  const iss = c.get('iss');
  if (iss !== undefined && claims.iss !== iss) return invalid;
  const aud = c.get('aud');
  const tokAud = claims.aud;
  if (tokAud !== undefined) {
    if (aud === undefined) return invalid;
    const list = Array.isArray(tokAud) ? tokAud : [tokAud];
    if (!list.includes(aud)) return invalid;
  } else if (aud !== undefined) return invalid;
  return [true, fromJS(tok.header), fromJS(payload)];
}

// ------------------------------------------------------------ signing
function b64urlText(s: string | Buffer): string {
  return Buffer.from(s).toString('base64url');
}

function signToken(name: string, headerText: string, payloadText: string, keyText: string): string {
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(headerText) as Record<string, unknown>;
  } catch {
    throw builtinError(name, "missing or invalid 'alg' header: cannot parse JSON");
  }
  const algName = header?.alg;
  const alg = typeof algName === 'string' ? ALGS[algName] : undefined;
  if (!alg || typeof algName !== 'string')
    throw builtinError(name, `unknown signature algorithm ${JSON.stringify(algName)}`);
  if (header.typ === 'JWT' || header.typ === undefined) {
    try {
      JSON.parse(payloadText);
    } catch {
      throw builtinError(name, 'type is JWT but payload is not JSON');
    }
  }
  let jwk: Record<string, unknown>;
  try {
    jwk = JSON.parse(keyText) as Record<string, unknown>;
  } catch {
    throw builtinError(name, `invalid JWK: ${goJSONSyntaxError(keyText) ?? 'invalid JSON'}`);
  }
  const input = `${b64urlText(headerText)}.${b64urlText(payloadText)}`;
  let sig: Buffer;
  try {
    if (alg.family === 'HS') {
      if (jwk.kty !== 'oct' || typeof jwk.k !== 'string')
        throw builtinError(name, 'HMAC needs a JWK of kty "oct" with k');
      sig = createHmac(alg.hash ?? 'sha256', Buffer.from(jwk.k, 'base64url'))
        .update(input)
        .digest();
    } else {
      const key = createPrivateKey({ key: jwk as never, format: 'jwk' });
      if (!keyFits(alg, key))
        throw builtinError(name, `key of type ${key.asymmetricKeyType} does not fit ${algName}`);
      sig = cryptoSign(alg.hash, Buffer.from(input), signOptions(alg, key));
    }
  } catch (e) {
    // Node's (OpenSSL's) reason stays out: it is not OPA's text.
    if (e instanceof BuiltinError) throw e;
    throw builtinError(name, 'failed to sign: the JWK is not a usable private key');
  }
  return `${input}.${b64urlText(sig)}`;
}

const verifyNames: Record<string, string[]> = {
  'io.jwt.verify_hs256': ['HS256'],
  'io.jwt.verify_hs384': ['HS384'],
  'io.jwt.verify_hs512': ['HS512'],
  'io.jwt.verify_rs256': ['RS256'],
  'io.jwt.verify_rs384': ['RS384'],
  'io.jwt.verify_rs512': ['RS512'],
  'io.jwt.verify_ps256': ['PS256'],
  'io.jwt.verify_ps384': ['PS384'],
  'io.jwt.verify_ps512': ['PS512'],
  'io.jwt.verify_es256': ['ES256'],
  'io.jwt.verify_es384': ['ES384'],
  'io.jwt.verify_es512': ['ES512'],
  'io.jwt.verify_eddsa': ['EdDSA'],
};

export const crypto: Family = {
  'crypto.md5': digest('md5'),
  'crypto.sha1': digest('sha1'),
  'crypto.sha256': digest('sha256'),
  'crypto.hmac.md5': hmac('md5'),
  'crypto.hmac.sha1': hmac('sha1'),
  'crypto.hmac.sha256': hmac('sha256'),
  'crypto.hmac.sha512': hmac('sha512'),
  'crypto.hmac.equal': hmacEqual,
  'io.jwt.decode': (a) => {
    const tok = decodeToken(a.name, a.string(1));
    return [fromJS(tok.header), fromJS(tok.payload), tok.signature.toString('hex')];
  },
  'io.jwt.decode_verify': decodeVerify,
  ...Object.fromEntries(Object.entries(verifyNames).map(([n, algs]) => [n, verifyWith(algs)])),
  'io.jwt.encode_sign': (a) => {
    const header = a.object(1);
    const payload = a.object(2);
    const key = a.object(3);
    return signToken(
      a.name,
      JSON.stringify(toJS(header)),
      JSON.stringify(toJS(payload)),
      JSON.stringify(toJS(key)),
    );
  },
  'io.jwt.encode_sign_raw': (a) => signToken(a.name, a.string(1), a.string(2), a.string(3)),
};
