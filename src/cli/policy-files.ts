// Loading a policy tree from disk: Rego sources and data files, as `opa build` reads them.
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, dirname, join, relative } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { mergeAt } from '../rego/bundle.js';
import type { Source } from '../rego/compile.js';

export interface PolicyTree {
  /** Rego sources (test files `*_test.rego` excluded unless asked); `file` is the path as found on disk. */
  sources: Source[];
  /** Path of each source inside a bundle: relative to the directory it was found under. */
  bundlePaths: Map<string, string>;
  /** Base documents merged from every `data.json`/`data.yaml` (placed at the path of their directory). */
  data: Record<string, unknown>;
}

const DATA_FILES = new Set(['data.json', 'data.yaml', 'data.yml']);

/** Reads every `.rego` and data file under the given paths. */
export async function loadPolicyTree(
  paths: string[],
  options: { includeTests?: boolean } = {},
): Promise<PolicyTree> {
  const sources: Source[] = [];
  const bundlePaths = new Map<string, string>();
  const data: Record<string, unknown> = {};
  const visit = async (root: string, p: string, explicit: boolean): Promise<void> => {
    const s = await stat(p).catch(() => undefined);
    if (!s) {
      if (explicit) throw new Error(`${p}: no such file or directory`);
      return;
    }
    if (s.isDirectory()) {
      for (const name of (await readdir(p)).sort()) {
        if (name.startsWith('.') || name === 'node_modules') continue;
        await visit(root, join(p, name), false);
      }
      return;
    }
    const name = basename(p);
    if (name.endsWith('.rego')) {
      if (!options.includeTests && name.endsWith('_test.rego') && !explicit) return;
      sources.push({ file: p, text: await readFile(p, 'utf8') });
      bundlePaths.set(p, relative(root, p));
    } else if (DATA_FILES.has(name)) {
      const text = await readFile(p, 'utf8');
      let doc: unknown;
      try {
        doc = name.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
      } catch (err) {
        throw new Error(`${p}: ${(err as Error).message}`);
      }
      const rel = relative(root, dirname(p));
      const prefix = rel === '' ? [] : rel.split(/[\\/]/);
      mergeAt(data, prefix, doc ?? {}, p);
    } else if (explicit) {
      throw new Error(`${p}: not a .rego or data file`);
    }
  };
  for (const p of paths) {
    const s = await stat(p).catch(() => undefined);
    await visit(s?.isDirectory() ? p : dirname(p), p, true);
  }
  sources.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
  return { sources, bundlePaths, data };
}
