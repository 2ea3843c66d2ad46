// Finding policy files on disk for the commands that take `[paths…]`.
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';

/** Every `.rego` file under the given paths (files are taken as given), sorted, without duplicates.
 * Hidden directories and node_modules are skipped. A path that does not exist is an error. */
export async function regoFiles(paths: string[]): Promise<string[]> {
  const found = new Set<string>();
  const visit = async (p: string, explicit: boolean): Promise<void> => {
    const s = await stat(p).catch(() => undefined);
    if (!s) {
      if (explicit) throw new Error(`${p}: no such file or directory`);
      return;
    }
    if (s.isDirectory()) {
      const entries = (await readdir(p)).sort();
      for (const name of entries) {
        if (name.startsWith('.') || name === 'node_modules') continue;
        await visit(join(p, name), false);
      }
    } else if (explicit || p.endsWith('.rego')) {
      found.add(p);
    }
  };
  for (const p of paths) await visit(p, true);
  return [...found].sort();
}
