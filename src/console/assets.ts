// The console's built browser files (scripts/build-console.mjs writes them to dist/console-ui/),
// read once into memory at start-up: only files that were there are ever served, by exact name.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const DEFAULT_ASSETS_DIR = fileURLToPath(new URL('../../dist/console-ui/', import.meta.url));

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.map': 'application/json',
};
const MAX_FILE = 4 * 1024 * 1024;

export interface Asset {
  body: Buffer;
  type: string;
}

/** The files of `dir` by name; empty when the console was not built. */
export function loadAssets(dir: string = DEFAULT_ASSETS_DIR): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return assets;
  }
  for (const name of names) {
    const type = TYPES[extname(name)];
    const path = join(dir, name);
    if (!type || !/^[\w.-]+$/.test(name)) continue;
    const st = statSync(path);
    if (!st.isFile() || st.size > MAX_FILE) continue;
    assets.set(name, { body: readFileSync(path), type });
  }
  return assets;
}
