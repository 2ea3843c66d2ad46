// OPA bundles: the gzipped tarball `opa build -t wasm` writes and OPA, Airlock
// and other OPA-compatible services load.
//
//   .manifest     {"revision", "roots", "wasm": [{"entrypoint", "module"}], "rego_version"}
//   policy.wasm   the compiled policy
//   data.json     base documents
//   <path>.rego   the policy sources (for humans and tools; evaluation uses the Wasm)
//
// Writing is deterministic: entries in a fixed order, no timestamps, no owners.
import { gunzipSync, gzipSync } from 'node:zlib';
import { Header, Parser, type ReadEntry } from 'tar';

export interface WasmEntry {
  entrypoint: string;
  module: string;
}

export interface Manifest {
  revision: string;
  roots: string[];
  wasm?: WasmEntry[];
  rego_version?: number;
  metadata?: Record<string, unknown>;
}

export interface Bundle {
  manifest: Manifest;
  /** The Wasm module named by the manifest (first one). */
  wasm?: Uint8Array;
  data: Record<string, unknown>;
  /** Rego sources by path inside the bundle. */
  sources: Map<string, string>;
}

export class BundleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BundleError';
  }
}

const BLOCK = 512;

/** Packs files (path inside the bundle → bytes) into a gzipped tarball: sorted by path,
 * no timestamps, owners or modes beyond 0644 — the same files always give the same bytes. */
export function packTarball(files: ReadonlyMap<string, Uint8Array>): Buffer {
  const parts: Buffer[] = [];
  for (const [path, body] of [...files].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const header = new Header({
      path: path.replace(/^\/+/, ''),
      mode: 0o644,
      size: body.byteLength,
      mtime: new Date(0),
      type: 'File',
      uid: 0,
      gid: 0,
      uname: '',
      gname: '',
    });
    const block = Buffer.alloc(BLOCK);
    header.encode(block, 0);
    parts.push(block, Buffer.from(body), Buffer.alloc((BLOCK - (body.byteLength % BLOCK)) % BLOCK));
  }
  parts.push(Buffer.alloc(BLOCK * 2));
  return gzipSync(Buffer.concat(parts), { level: 9 });
}

/** Writes a bundle as a gzipped tarball (same input → same bytes). */
export function writeBundle(bundle: Bundle): Buffer {
  const enc = new TextEncoder();
  const files = new Map<string, Uint8Array>([
    ['.manifest', enc.encode(`${JSON.stringify(bundle.manifest, null, 2)}\n`)],
    ['data.json', enc.encode(`${JSON.stringify(bundle.data)}\n`)],
  ]);
  if (bundle.wasm) files.set('policy.wasm', bundle.wasm);
  for (const [path, text] of bundle.sources) files.set(path.replace(/^\/+/, ''), enc.encode(text));
  return packTarball(files);
}

/** Reads a bundle tarball (Airlock- or OPA-built). Validates the manifest's shape. */
export async function readBundle(bytes: Uint8Array, options: { maxBytes?: number } = {}): Promise<Bundle> {
  const maxBytes = options.maxBytes ?? 256 * 1024 * 1024;
  let raw: Buffer;
  try {
    raw = gunzipSync(bytes, { maxOutputLength: maxBytes });
  } catch (err) {
    throw new BundleError(`bundle is not a gzipped tarball: ${(err as Error).message}`);
  }
  const files = new Map<string, Buffer>();
  await new Promise<void>((resolve, reject) => {
    const parser = new Parser({
      strict: true,
      onReadEntry: (entry: ReadEntry) => {
        const chunks: Buffer[] = [];
        entry.on('data', (c: Buffer) => chunks.push(c));
        entry.on('end', () => {
          if (entry.type === 'File')
            files.set(`/${entry.path.replace(/^(\.\/|\/)+/, '')}`, Buffer.concat(chunks));
        });
      },
    });
    parser.on('error', (e: Error) => reject(new BundleError(`bad tarball: ${e.message}`)));
    parser.on('end', () => resolve());
    parser.end(raw);
  });
  const manifestBytes = files.get('/.manifest');
  let manifest: Manifest = { revision: '', roots: [''] };
  if (manifestBytes) {
    try {
      manifest = JSON.parse(manifestBytes.toString('utf8')) as Manifest;
    } catch (err) {
      throw new BundleError(`.manifest is not valid JSON: ${(err as Error).message}`);
    }
    if (typeof manifest !== 'object' || manifest === null)
      throw new BundleError('.manifest must be an object');
    if (manifest.revision !== undefined && typeof manifest.revision !== 'string')
      throw new BundleError('.manifest revision must be a string');
    manifest.revision ??= '';
    manifest.roots ??= [''];
    if (!Array.isArray(manifest.roots) || manifest.roots.some((r) => typeof r !== 'string'))
      throw new BundleError('.manifest roots must be an array of strings');
    if (manifest.wasm !== undefined) {
      if (!Array.isArray(manifest.wasm)) throw new BundleError('.manifest wasm must be an array');
      for (const w of manifest.wasm) {
        if (typeof w?.entrypoint !== 'string' || typeof w?.module !== 'string')
          throw new BundleError('.manifest wasm entries need string entrypoint and module');
      }
    }
  }
  const modulePath = manifest.wasm?.[0]?.module ?? '/policy.wasm';
  const wasmBytes = files.get(`/${modulePath.replace(/^\/+/, '')}`);
  const data: Record<string, unknown> = {};
  const sources = new Map<string, string>();
  for (const [path, body] of [...files].sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (path.endsWith('/data.json')) {
      let doc: unknown;
      try {
        doc = JSON.parse(body.toString('utf8'));
      } catch (err) {
        throw new BundleError(`${path}: invalid JSON: ${(err as Error).message}`);
      }
      const prefix = path.split('/').slice(1, -1);
      mergeAt(data, prefix, doc, path);
    } else if (path.endsWith('.rego')) {
      sources.set(path, body.toString('utf8'));
    }
  }
  return wasmBytes ? { manifest, wasm: wasmBytes, data, sources } : { manifest, data, sources };
}

/** Merges `doc` into `target` at `path` (objects merge recursively; anything else must not collide). */
export function mergeAt(target: Record<string, unknown>, path: string[], doc: unknown, origin: string): void {
  let node = target;
  for (const p of path) {
    const next = node[p];
    if (next === undefined) node[p] = {};
    else if (!isObject(next))
      throw new BundleError(`${origin}: data at ${path.join('.')} conflicts with a value`);
    node = node[p] as Record<string, unknown>;
  }
  if (!isObject(doc)) {
    if (path.length === 0) throw new BundleError(`${origin}: top-level data must be an object`);
    const parent = path
      .slice(0, -1)
      .reduce<Record<string, unknown>>((n, p) => n[p] as Record<string, unknown>, target);
    const key = path[path.length - 1]!;
    if (parent[key] !== undefined && !(isObject(parent[key]) && Object.keys(parent[key]).length === 0))
      throw new BundleError(`${origin}: data at ${path.join('.')} is defined twice`);
    parent[key] = doc;
    return;
  }
  for (const [k, v] of Object.entries(doc)) {
    if (isObject(v) && isObject(node[k])) mergeAt(node, [k], v, origin);
    else if (node[k] !== undefined)
      throw new BundleError(`${origin}: data at ${[...path, k].join('.')} is defined twice`);
    else node[k] = v;
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
