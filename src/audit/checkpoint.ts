// Signed checkpoints: Ed25519 signatures over (sequence number, hash, time) of the chain head, written
// to a sink outside the database. A hash chain cannot show that its newest rows were removed; a
// checkpoint kept elsewhere can ("the chain had reached seq N with hash H at time T").
//
// A checkpoint is one JSON object per line (NDJSON):
//   {"v":1,"seq":N,"hash":"<64 hex>","time":"<ISO 8601>","key_id":"<32 hex>","sig":"<base64url>"}
// `sig` is the Ed25519 signature of UTF-8(JCS({v, seq, hash, time, key_id})) (RFC 8785), and `key_id`
// the first 16 bytes, in hex, of the SHA-256 of the public key's SPKI DER encoding.
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  sign,
  verify,
} from 'node:crypto';
import { open } from 'node:fs/promises';
import canonicalize from 'canonicalize';

export interface Checkpoint {
  v: 1;
  seq: number;
  hash: string;
  time: string;
  key_id: string;
  sig: string;
}

/** Raised for a checkpoint file or key that cannot be used. */
export class CheckpointError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CheckpointError';
  }
}

const HEX64 = /^[0-9a-f]{64}$/;
const HEX32 = /^[0-9a-f]{32}$/;
const B64URL = /^[A-Za-z0-9_-]+$/;
/** Checkpoint lines are small; refuse anything unreasonably long. */
const MAX_LINE = 4096;

export function keyId(publicKey: KeyObject): string {
  return createHash('sha256')
    .update(publicKey.export({ type: 'spki', format: 'der' }))
    .digest('hex')
    .slice(0, 32);
}

function signedBytes(c: Omit<Checkpoint, 'sig'>): Buffer {
  return Buffer.from(
    canonicalize({ v: c.v, seq: c.seq, hash: c.hash, time: c.time, key_id: c.key_id }) ?? '',
    'utf8',
  );
}

function asEd25519(key: KeyObject, kind: 'private' | 'public'): KeyObject {
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new CheckpointError(
      `checkpoint ${kind} key must be Ed25519, got ${key.asymmetricKeyType ?? key.type}`,
    );
  }
  return key;
}

/** An Ed25519 private key from PEM text (PKCS#8). */
export function privateKeyFromPem(pem: string): KeyObject {
  try {
    return asEd25519(createPrivateKey(pem), 'private');
  } catch (err) {
    if (err instanceof CheckpointError) throw err;
    throw new CheckpointError('checkpoint signing key is not a PEM private key');
  }
}

/** An Ed25519 public key from PEM text (SPKI), or derived from a private key's PEM. */
export function publicKeyFromPem(pem: string): KeyObject {
  try {
    return asEd25519(createPublicKey(pem), 'public');
  } catch (err) {
    if (err instanceof CheckpointError) throw err;
    throw new CheckpointError('checkpoint public key is not a PEM public key');
  }
}

/** A fresh Ed25519 key pair as PEM texts. */
export function generateSigningKey(): { privateKeyPem: string; publicKeyPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

export function signCheckpoint(
  head: { seq: number; hash: string },
  privateKey: KeyObject,
  time: Date = new Date(),
): Checkpoint {
  asEd25519(privateKey, 'private');
  const unsigned = {
    v: 1 as const,
    seq: head.seq,
    hash: head.hash,
    time: time.toISOString(),
    key_id: keyId(createPublicKey(privateKey)),
  };
  return { ...unsigned, sig: sign(null, signedBytes(unsigned), privateKey).toString('base64url') };
}

/** True when `cp` was signed by the private half of `publicKey`. */
export function verifyCheckpoint(cp: Checkpoint, publicKey: KeyObject): boolean {
  if (cp.key_id !== keyId(publicKey)) return false;
  return verify(null, signedBytes(cp), publicKey, Buffer.from(cp.sig, 'base64url'));
}

function checkShape(value: unknown, where: string): Checkpoint {
  const bad = (why: string) => new CheckpointError(`${where}: ${why}`);
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw bad('expected a JSON object');
  const c = value as Record<string, unknown>;
  if (c.v !== 1) throw bad(`unsupported version ${JSON.stringify(c.v)}`);
  if (!Number.isSafeInteger(c.seq) || (c.seq as number) < 1) throw bad('seq must be a positive integer');
  if (typeof c.hash !== 'string' || !HEX64.test(c.hash)) throw bad('hash must be 64 lowercase hex digits');
  if (typeof c.time !== 'string' || Number.isNaN(Date.parse(c.time)))
    throw bad('time must be an ISO 8601 time');
  if (typeof c.key_id !== 'string' || !HEX32.test(c.key_id))
    throw bad('key_id must be 32 lowercase hex digits');
  if (typeof c.sig !== 'string' || !B64URL.test(c.sig)) throw bad('sig must be base64url');
  return { v: 1, seq: c.seq as number, hash: c.hash, time: c.time, key_id: c.key_id, sig: c.sig };
}

/** Parses a checkpoint file (NDJSON; blank lines ignored). `name` prefixes error messages. */
export function parseCheckpoints(text: string, name = 'checkpoints'): Checkpoint[] {
  const out: Checkpoint[] = [];
  text.split('\n').forEach((line, i) => {
    const trimmed = line.trim();
    if (trimmed === '') return;
    const where = `${name}:${i + 1}`;
    if (trimmed.length > MAX_LINE)
      throw new CheckpointError(`${where}: line longer than ${MAX_LINE} characters`);
    let value: unknown;
    try {
      value = JSON.parse(trimmed);
    } catch {
      throw new CheckpointError(`${where}: not valid JSON`);
    }
    out.push(checkShape(value, where));
  });
  return out;
}

/** Where checkpoints go. */
export interface CheckpointSink {
  readonly name: string;
  write(cp: Checkpoint): Promise<void>;
}

/** Appends one line per checkpoint to a file and syncs it to disk before resolving. */
export function fileSink(path: string): CheckpointSink {
  return {
    name: `file:${path}`,
    async write(cp) {
      const fh = await open(path, 'a', 0o644);
      try {
        await fh.write(`${JSON.stringify(cp)}\n`);
        await fh.datasync();
      } finally {
        await fh.close();
      }
    },
  };
}

/** Writes one line per checkpoint to a stream (stdout by default), for log shipping. */
export function streamSink(stream: NodeJS.WritableStream = process.stdout, name = 'stdout'): CheckpointSink {
  return {
    name,
    write: (cp) =>
      new Promise<void>((resolve, reject) => {
        stream.write(`${JSON.stringify(cp)}\n`, (err) => (err ? reject(err) : resolve()));
      }),
  };
}

/** POSTs each checkpoint as JSON; any answer but 2xx is an error. */
export function httpSink(
  url: string,
  options: { timeoutMs?: number; headers?: Record<string, string> } = {},
): CheckpointSink {
  const u = new URL(url);
  if (u.protocol !== 'http:' && u.protocol !== 'https:')
    throw new CheckpointError(`checkpoint sink URL must be http(s), got ${u.protocol}`);
  const shown = `${u.origin}${u.pathname}`;
  return {
    name: shown,
    async write(cp) {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...options.headers },
        body: JSON.stringify(cp),
        signal: AbortSignal.timeout(options.timeoutMs ?? 5000),
      });
      await res.body?.cancel();
      if (!res.ok) throw new CheckpointError(`checkpoint sink ${shown} answered HTTP ${res.status}`);
    },
  };
}

/** A sink from its configuration string: `stdout`, `http(s)://…`, `file:PATH` or a plain file path. */
export function sinkFromSpec(spec: string): CheckpointSink {
  if (spec === 'stdout' || spec === '-') return streamSink();
  if (/^https?:\/\//.test(spec)) return httpSink(spec);
  const path = spec.startsWith('file:') ? spec.slice(5) : spec;
  if (path === '') throw new CheckpointError('checkpoint sink needs a file path');
  return fileSink(path);
}
