// Bundle signatures as OPA defines them: `.signatures.json` holds `{"signatures": ["<JWT>"]}`; the JWT's
// payload lists every other file of the bundle with its SHA-256 (`files: [{name, hash, algorithm}]`),
// plus optional `keyid` and `scope`. JSON files (`*.json`, `.manifest`) are hashed over their canonical
// encoding (sorted keys, no insignificant white space), other files over their bytes.
import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';
import { importPKCS8, importSPKI, type JWTPayload, jwtVerify, SignJWT } from 'jose';
import { BundleError } from '../rego/bundle.js';
import { type BundleFiles, filesFromTarball, tarballFromFiles } from './files.js';

export const SIGNATURES_FILE = '/.signatures.json';

/** How to verify bundle signatures. With it, unsigned bundles are refused. */
export interface VerificationConfig {
  /** A PEM public key (RS*, PS*, ES*, EdDSA) or, for HS* algorithms, the shared secret. */
  key: string;
  /** JWS algorithm (default RS256). */
  algorithm?: string;
  /** When set, the token's `keyid` (or its `kid` header) must equal it. */
  keyId?: string;
  /** When set, the token's `scope` must equal it. */
  scope?: string;
}

export interface SigningConfig {
  /** A PEM private key (PKCS#8) or, for HS* algorithms, the shared secret. */
  key: string;
  algorithm?: string;
  keyId?: string;
  scope?: string;
}

const isHmac = (alg: string) => alg.startsWith('HS');

function isJsonFile(name: string): boolean {
  return name.endsWith('.json') || name === '/.manifest' || name === '.manifest';
}

/** The hex SHA-256 OPA records for a bundle file. */
export function fileDigest(name: string, body: Buffer): string {
  let bytes: Buffer | string = body;
  if (isJsonFile(name)) {
    let doc: unknown;
    try {
      doc = JSON.parse(body.toString('utf8'));
    } catch (err) {
      throw new BundleError(`${name}: invalid JSON: ${(err as Error).message}`);
    }
    bytes = canonicalize(doc) ?? '';
  }
  return createHash('sha256').update(bytes).digest('hex');
}

const relativeName = (path: string) => path.replace(/^\/+/, '');

/** Signs a bundle's files: returns the `.signatures.json` body to add to the bundle. */
export async function signBundleFiles(files: BundleFiles, config: SigningConfig): Promise<Buffer> {
  const alg = config.algorithm ?? 'RS256';
  const key = isHmac(alg) ? new TextEncoder().encode(config.key) : await importPKCS8(config.key, alg);
  const listed = [...files.keys()]
    .filter((p) => p !== SIGNATURES_FILE)
    .sort()
    .map((p) => ({ name: relativeName(p), hash: fileDigest(p, files.get(p)!), algorithm: 'SHA-256' }));
  const payload: JWTPayload = { files: listed };
  if (config.keyId) payload.keyid = config.keyId;
  if (config.scope) payload.scope = config.scope;
  const jwt = await new SignJWT(payload)
    .setProtectedHeader({ alg, ...(config.keyId ? { kid: config.keyId } : {}) })
    .setIssuedAt()
    .sign(key);
  return Buffer.from(`${JSON.stringify({ signatures: [jwt] }, null, 2)}\n`);
}

/** Signs a bundle tarball: the same bundle with `.signatures.json` added (or replaced). */
export async function signBundle(tarball: Uint8Array, config: SigningConfig): Promise<Buffer> {
  const files = await filesFromTarball(tarball);
  files.delete(SIGNATURES_FILE);
  files.set(SIGNATURES_FILE, await signBundleFiles(files, config));
  return tarballFromFiles(files);
}

/** Verifies `.signatures.json` against every file of the bundle; throws BundleError when anything is off. */
export async function verifyBundleFiles(files: BundleFiles, config: VerificationConfig): Promise<void> {
  const body = files.get(SIGNATURES_FILE);
  if (!body)
    throw new BundleError('bundle is not signed (no .signatures.json) and a verification key is configured');
  let doc: unknown;
  try {
    doc = JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new BundleError(`.signatures.json: invalid JSON: ${(err as Error).message}`);
  }
  const signatures = (doc as { signatures?: unknown })?.signatures;
  if (!Array.isArray(signatures) || signatures.length !== 1 || typeof signatures[0] !== 'string')
    throw new BundleError('.signatures.json must hold exactly one signature (a JWT string)');
  const alg = config.algorithm ?? 'RS256';
  let payload: JWTPayload;
  let kid: string | undefined;
  try {
    const key = isHmac(alg) ? new TextEncoder().encode(config.key) : await importSPKI(config.key, alg);
    const verified = await jwtVerify(signatures[0], key, { algorithms: [alg] });
    payload = verified.payload;
    kid = verified.protectedHeader.kid;
  } catch (err) {
    throw new BundleError(`bundle signature does not verify: ${(err as Error).message}`);
  }
  if (config.keyId !== undefined) {
    const named = typeof payload.keyid === 'string' ? payload.keyid : kid;
    if (named !== undefined && named !== config.keyId)
      throw new BundleError(
        `bundle is signed with key ${JSON.stringify(named)}, expected ${JSON.stringify(config.keyId)}`,
      );
  }
  if (config.scope !== undefined && payload.scope !== config.scope)
    throw new BundleError(
      `bundle signature scope ${JSON.stringify(payload.scope)} is not ${JSON.stringify(config.scope)}`,
    );
  const listed = payload.files;
  if (!Array.isArray(listed)) throw new BundleError('bundle signature lists no files');
  const expected = new Map<string, { hash: string; algorithm: string }>();
  for (const f of listed as unknown[]) {
    const { name, hash, algorithm } = (f ?? {}) as Record<string, unknown>;
    if (typeof name !== 'string' || typeof hash !== 'string')
      throw new BundleError('bundle signature file entries need a name and a hash');
    expected.set(`/${relativeName(name)}`, {
      hash,
      algorithm: typeof algorithm === 'string' ? algorithm : 'SHA-256',
    });
  }
  for (const [path, contents] of files) {
    if (path === SIGNATURES_FILE) continue;
    const want = expected.get(path);
    if (!want) throw new BundleError(`bundle file ${path} is not covered by the signature`);
    if (want.algorithm.toUpperCase() !== 'SHA-256')
      throw new BundleError(`bundle file ${path}: unsupported hash algorithm ${want.algorithm}`);
    if (fileDigest(path, contents) !== want.hash.toLowerCase())
      throw new BundleError(`bundle file ${path} does not match its signed hash`);
    expected.delete(path);
  }
  if (expected.size > 0)
    throw new BundleError(`signed file(s) missing from the bundle: ${[...expected.keys()].join(', ')}`);
}
