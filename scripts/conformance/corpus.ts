// Access to OPA's evaluation test cases in ../shared/conformance/opa. They are
// OPA's (Apache-2.0) and are read in place, never copied into this repository. Used by the
// conformance script and runner, the parse benchmark and the corpus-driven tests.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';

export interface ConformanceCase {
  /** Path of the YAML file relative to the corpus root, e.g. `aggregates/test-aggregates-0001.yaml`. */
  file: string;
  /** OPA's category folder. */
  category: string;
  note: string;
  query: string;
  modules: string[];
  data?: unknown;
  input?: unknown;
  input_term?: string;
  want_result?: Record<string, unknown>[];
  want_defined?: boolean;
  want_error?: string;
  want_error_code?: string;
  strict_error?: boolean;
  sort_bindings?: boolean;
}

const here = dirname(fileURLToPath(import.meta.url));

/** The default corpus directory, or undefined when ../shared is not beside the checkout. */
export function corpusDir(): string | undefined {
  const dir = process.env.AIRLOCK_CONFORMANCE_DIR ?? resolve(here, '../../../shared/conformance/opa');
  return existsSync(dir) ? dir : undefined;
}

/** Every case of every YAML file under `dir`, in a stable order. */
export function loadCases(dir: string): ConformanceCase[] {
  const out: ConformanceCase[] = [];
  const files: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name.endsWith('.yaml') || name.endsWith('.yml')) files.push(p);
    }
  };
  walk(dir);
  for (const f of files) {
    const doc = parseYaml(readFileSync(f, 'utf8'), { intAsBigInt: false }) as { cases?: ConformanceCase[] };
    const rel = relative(dir, f);
    for (const c of doc?.cases ?? []) {
      out.push({ ...c, modules: c.modules ?? [], file: rel, category: rel.split('/')[0] ?? '' });
    }
  }
  return out;
}
