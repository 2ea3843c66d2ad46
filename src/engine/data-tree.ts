// The data document as paths: lookups, deep merge, and OPA-style path parsing (`/v1/data/a/b` → [a, b]).

export type DataPath = string[];

export const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** The value at `path`, or undefined. Array elements are addressed by decimal index. */
export function getAt(doc: unknown, path: readonly string[]): unknown {
  let node = doc;
  for (const seg of path) {
    if (isObject(node)) {
      if (!Object.hasOwn(node, seg)) return undefined;
      node = node[seg];
    } else if (Array.isArray(node) && /^(0|[1-9][0-9]*)$/.test(seg)) node = node[Number(seg)];
    else return undefined;
  }
  return node;
}

/** `base` with `over` merged in: objects merge key by key, anything else in `over` replaces. Neither is mutated. */
export function deepMerge(
  base: Record<string, unknown>,
  over: Record<string, unknown>,
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = isObject(b) && isObject(v) ? deepMerge(b, v) : v;
  }
  return out;
}

/** Splits a URL path tail (`a/b%2Fc/d`) into decoded segments; empty segments are dropped. */
export function parseDataPath(tail: string): DataPath {
  return tail
    .split('/')
    .filter((s) => s !== '')
    .map((s) => decodeURIComponent(s));
}

/** `doc` without the value at `path` (copied along the path only; `doc` is not mutated). */
export function withoutPath(doc: Record<string, unknown>, path: readonly string[]): Record<string, unknown> {
  const [head, ...rest] = path;
  if (head === undefined || !Object.hasOwn(doc, head)) return doc;
  const out = { ...doc };
  if (rest.length === 0) delete out[head];
  else {
    const child = doc[head];
    if (isObject(child)) out[head] = withoutPath(child, rest);
  }
  return out;
}
