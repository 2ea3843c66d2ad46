// What a data path means against a policy, as OPA's Data API reads it: an entrypoint evaluates; a
// path below an entrypoint descends into its value; a path above entrypoints yields an object of
// their values over the data there; otherwise the data document answers. Rules that are not
// entrypoints cannot be read. Shared by the engine (which answers pure data reads itself) and the
// evaluation workers (which answer everything that evaluates).
import { deepMerge, getAt, isObject } from './data-tree.js';
import type { Evaluation } from './policy.js';

/** Whether reading `path` evaluates any entrypoint (otherwise it is a read of the data document). */
export function evaluatesAt(path: readonly string[], entrypoints: ReadonlySet<string>): boolean {
  const key = path.join('/');
  if (key === '') return entrypoints.size > 0;
  for (const e of entrypoints)
    if (e === key || key.startsWith(`${e}/`) || e.startsWith(`${key}/`)) return true;
  return false;
}

/** Answers `path` with `run` evaluating entrypoints and `data` giving the data document. */
export function resolvePath(
  path: readonly string[],
  entrypoints: ReadonlySet<string>,
  data: () => Record<string, unknown>,
  run: (entrypoint: string) => Evaluation,
): Evaluation {
  const key = path.join('/');
  if (entrypoints.has(key)) return run(key);
  const all = [...entrypoints];
  const parent = all.filter((e) => key.startsWith(`${e}/`)).sort((a, b) => b.length - a.length)[0];
  if (parent !== undefined) {
    const up = run(parent);
    if (!up.defined) return { defined: false };
    const value = getAt(up.result, key.slice(parent.length + 1).split('/'));
    return value === undefined ? { defined: false } : { defined: true, result: value };
  }
  const base = getAt(data(), path);
  const below = all.filter((e) => key === '' || e.startsWith(`${key}/`));
  if (below.length === 0) return base === undefined ? { defined: false } : { defined: true, result: base };
  let doc: Record<string, unknown> = isObject(base) ? base : {};
  for (const e of below.sort()) {
    const r = run(e);
    if (!r.defined) continue;
    const rel = (key === '' ? e : e.slice(key.length + 1)).split('/');
    const nested: Record<string, unknown> = {};
    let node = nested;
    for (let i = 0; i < rel.length - 1; i++) {
      const next: Record<string, unknown> = {};
      node[rel[i]!] = next;
      node = next;
    }
    node[rel[rel.length - 1]!] = r.result;
    doc = deepMerge(doc, nested);
  }
  return { defined: true, result: doc };
}
