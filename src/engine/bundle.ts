// From bundle files to a bundle the engine can activate: signature verified (when a key is configured),
// manifest validated, data merged. Accepts what `airlock build` and `opa build -t wasm` write.
import { BundleError, type Manifest, mergeAt } from '../rego/bundle.js';
import type { BundleFiles } from './files.js';
import { SIGNATURES_FILE, type VerificationConfig, verifyBundleFiles } from './signature.js';

export interface PolicyBundle {
  manifest: Manifest;
  wasm: Uint8Array;
  /** Entrypoint names the manifest declares for the module. */
  entrypoints: string[];
  data: Record<string, unknown>;
  /** True when `.signatures.json` was verified. */
  signed: boolean;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function parseManifest(body: Buffer | undefined): Manifest {
  if (!body)
    throw new BundleError('bundle has no .manifest (revision, roots and wasm entrypoints are required)');
  let doc: unknown;
  try {
    doc = JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new BundleError(`.manifest is not valid JSON: ${(err as Error).message}`);
  }
  if (!isObject(doc)) throw new BundleError('.manifest must be a JSON object');
  const { revision, roots, wasm } = doc;
  if (revision !== undefined && typeof revision !== 'string')
    throw new BundleError('.manifest revision must be a string');
  if (roots !== undefined && (!Array.isArray(roots) || roots.some((r) => typeof r !== 'string')))
    throw new BundleError('.manifest roots must be an array of strings');
  const rootList = (roots as string[] | undefined) ?? [''];
  for (let i = 0; i < rootList.length; i++)
    for (let j = i + 1; j < rootList.length; j++) {
      const a = rootList[i]!;
      const b = rootList[j]!;
      if (overlapsRoots(a, [b]))
        throw new BundleError(`.manifest roots ${JSON.stringify(a)} and ${JSON.stringify(b)} overlap`);
    }
  if (!Array.isArray(wasm) || wasm.length === 0)
    throw new BundleError(
      '.manifest declares no wasm module (build with `airlock build` or `opa build -t wasm`)',
    );
  for (const w of wasm) {
    if (!isObject(w) || typeof w.entrypoint !== 'string' || typeof w.module !== 'string')
      throw new BundleError('.manifest wasm entries need string entrypoint and module');
    if (w.entrypoint === '') throw new BundleError('.manifest wasm entrypoint must not be empty');
  }
  return { ...(doc as unknown as Manifest), revision: revision ?? '', roots: rootList };
}

/** True when `path` (slash-separated, no leading slash) lies under one of `roots`. */
export function underRoots(path: string, roots: readonly string[]): boolean {
  return roots.some((r) => r === '' || path === r || path.startsWith(`${r}/`));
}

/** True when `path` and some root overlap (one contains the other). */
export function overlapsRoots(path: string, roots: readonly string[]): boolean {
  return roots.some(
    (r) => r === '' || path === '' || path === r || path.startsWith(`${r}/`) || r.startsWith(`${path}/`),
  );
}

/** Validates and assembles a bundle. `verification` set: the bundle must carry a valid signature. */
export async function bundleFromFiles(
  files: BundleFiles,
  verification?: VerificationConfig,
): Promise<PolicyBundle> {
  if (verification) await verifyBundleFiles(files, verification);
  const manifest = parseManifest(files.get('/.manifest'));
  const wasmEntries = manifest.wasm ?? [];
  const modules = new Set(wasmEntries.map((w) => `/${w.module.replace(/^\/+/, '')}`));
  if (modules.size > 1)
    throw new BundleError(`bundle has ${modules.size} wasm modules; one module per bundle is supported`);
  const modulePath = [...modules][0]!;
  const wasm = files.get(modulePath);
  if (!wasm) throw new BundleError(`.manifest names ${modulePath}, which the bundle does not hold`);
  if (wasm.byteLength < 8 || wasm.readUInt32LE(0) !== 0x6d736100)
    throw new BundleError(`${modulePath} is not a WebAssembly module`);
  const data: Record<string, unknown> = {};
  for (const [path, body] of [...files].sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (path === SIGNATURES_FILE || !path.endsWith('/data.json')) continue;
    let doc: unknown;
    try {
      doc = JSON.parse(body.toString('utf8'));
    } catch (err) {
      throw new BundleError(`${path}: invalid JSON: ${(err as Error).message}`);
    }
    const prefix = path.split('/').slice(1, -1);
    const at = prefix.join('/');
    if (prefix.length > 0 && !underRoots(at, manifest.roots))
      throw new BundleError(
        `${path}: data at ${at} is outside the bundle's roots (${manifest.roots.join(', ')})`,
      );
    if (prefix.length === 0 && isObject(doc))
      for (const k of Object.keys(doc))
        if (!overlapsRoots(k, manifest.roots))
          throw new BundleError(
            `${path}: data at ${k} is outside the bundle's roots (${manifest.roots.join(', ')})`,
          );
    mergeAt(data, prefix, doc, path);
  }
  return {
    manifest,
    wasm,
    entrypoints: wasmEntries.map((w) => w.entrypoint),
    data,
    signed: verification !== undefined,
  };
}
