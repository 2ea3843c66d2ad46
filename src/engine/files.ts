// The files of an OPA bundle, from a gzipped tarball or a directory laid out like one. Paths are
// absolute inside the bundle (`/.manifest`, `/roles/data.json`). Sizes are bounded: bundles come from
// servers we do not control.
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { Parser, type ReadEntry } from 'tar';
import { BundleError, packTarball } from '../rego/bundle.js';

export type BundleFiles = Map<string, Buffer>;

export interface FileLimits {
  /** Most bytes of the unpacked bundle (default 256 MiB). */
  maxBytes?: number;
  /** Most files in a bundle (default 10 000). */
  maxFiles?: number;
}

const DEFAULT_MAX_BYTES = 256 * 1024 * 1024;
const DEFAULT_MAX_FILES = 10_000;

function normalise(path: string): string {
  const parts = path.split(/[\\/]+/).filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw new BundleError(`bundle path ${JSON.stringify(path)} leaves the bundle`);
  return `/${parts.join('/')}`;
}

/** Unpacks a gzipped tarball into its regular files. */
export async function filesFromTarball(bytes: Uint8Array, limits: FileLimits = {}): Promise<BundleFiles> {
  const maxBytes = limits.maxBytes ?? DEFAULT_MAX_BYTES;
  const maxFiles = limits.maxFiles ?? DEFAULT_MAX_FILES;
  let raw: Buffer;
  try {
    raw = gunzipSync(bytes, { maxOutputLength: maxBytes });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ERR_BUFFER_TOO_LARGE')
      throw new BundleError(`bundle unpacks to more than ${maxBytes} bytes`);
    throw new BundleError(`bundle is not a gzipped tarball: ${(err as Error).message}`);
  }
  const files: BundleFiles = new Map();
  await new Promise<void>((resolve, reject) => {
    let failed = false;
    const fail = (e: Error) => {
      if (!failed) {
        failed = true;
        reject(e);
      }
    };
    const parser = new Parser({
      strict: true,
      onReadEntry: (entry: ReadEntry) => {
        const chunks: Buffer[] = [];
        entry.on('data', (c: Buffer) => chunks.push(c));
        entry.on('end', () => {
          if (entry.type !== 'File' && entry.type !== 'OldFile') return;
          try {
            const path = normalise(entry.path);
            if (files.has(path)) throw new BundleError(`bundle holds ${path} twice`);
            files.set(path, Buffer.concat(chunks));
            if (files.size > maxFiles) throw new BundleError(`bundle holds more than ${maxFiles} files`);
          } catch (e) {
            fail(e as Error);
          }
        });
      },
    });
    parser.on('error', (e: Error) => fail(new BundleError(`bad tarball: ${e.message}`)));
    parser.on('end', () => {
      if (!failed) resolve();
    });
    parser.end(raw);
  });
  return files;
}

/** Reads a bundle laid out on disk (`.manifest`, `policy.wasm`, `**\/data.json`…). Hidden files other than `.manifest` and `.signatures.json` are skipped. */
export async function filesFromDirectory(dir: string, limits: FileLimits = {}): Promise<BundleFiles> {
  const maxBytes = limits.maxBytes ?? DEFAULT_MAX_BYTES;
  const maxFiles = limits.maxFiles ?? DEFAULT_MAX_FILES;
  const files: BundleFiles = new Map();
  let total = 0;
  const walk = async (at: string): Promise<void> => {
    const entries = await readdir(at, { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const full = join(at, e.name);
      const top = at === dir;
      if (e.name.startsWith('.') && !(top && (e.name === '.manifest' || e.name === '.signatures.json')))
        continue;
      if (e.isDirectory()) await walk(full);
      else if (e.isFile()) {
        const size = (await stat(full)).size;
        total += size;
        if (total > maxBytes)
          throw new BundleError(`bundle directory ${dir} holds more than ${maxBytes} bytes`);
        files.set(normalise(relative(dir, full).split(sep).join('/')), await readFile(full));
        if (files.size > maxFiles)
          throw new BundleError(`bundle directory ${dir} holds more than ${maxFiles} files`);
      }
    }
  };
  try {
    await walk(dir);
  } catch (err) {
    if (err instanceof BundleError) throw err;
    throw new BundleError(`cannot read bundle directory ${dir}: ${(err as Error).message}`);
  }
  return files;
}

/** Packs files into a gzipped bundle tarball as they are (sorted, no timestamps or owners). */
export function tarballFromFiles(files: BundleFiles): Buffer {
  return packTarball(files);
}
