// What may leave the gateway: text for agents without internal paths or third-party URLs, and values
// the audit store can hold (Postgres text and jsonb take neither U+0000 nor lone UTF-16 surrogates).

import { unstorableCodeUnit } from '../audit/index.js';

/** Why a string cannot be stored as is, or undefined when it can. */
export function unstorable(s: string): string | undefined {
  const bad = unstorableCodeUnit(s);
  if (!bad) return undefined;
  return bad.code === 0 ? 'contains U+0000 (NUL)' : 'contains a lone UTF-16 surrogate';
}

/** The first string (or member name) in `value` that cannot be stored: its JSON pointer and why. */
export function firstUnstorable(value: unknown, path = ''): { path: string; why: string } | undefined {
  if (typeof value === 'string') {
    const why = unstorable(value);
    return why ? { path, why } : undefined;
  }
  if (value === null || typeof value !== 'object') return undefined;
  const entries = Array.isArray(value) ? value.map((v, i) => [String(i), v] as const) : Object.entries(value);
  for (const [k, v] of entries) {
    const at = `${path}/${k.replaceAll('~', '~0').replaceAll('/', '~1')}`;
    const key = Array.isArray(value) ? undefined : unstorable(k);
    if (key) return { path: at, why: `member name ${key}` };
    const inner = firstUnstorable(v, at);
    if (inner) return inner;
  }
  return undefined;
}

/** `s` with every NUL and lone surrogate replaced by U+FFFD. */
export function storableString(s: string): string {
  if (unstorable(s) === undefined) return s;
  return s.replace(
    /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g,
    '\ufffd',
  );
}

/** A deep copy of `value` whose strings and member names the audit store can hold; `changed` says whether any was replaced. */
export function storable<T>(value: T): { value: T; changed: boolean } {
  let changed = false;
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') {
      const s = storableString(v);
      if (s !== v) changed = true;
      return s;
    }
    if (v === null || typeof v !== 'object') return v;
    if (Array.isArray(v)) return v.map(walk);
    const proto = Object.getPrototypeOf(v);
    if (proto !== Object.prototype && proto !== null) return v;
    const out: Record<string, unknown> = {};
    for (const [k, inner] of Object.entries(v)) {
      const key = storableString(k);
      if (key !== k) changed = true;
      out[key] = walk(inner);
    }
    return out;
  };
  const copy = walk(value) as T;
  return { value: copy, changed };
}

/** What the audit keeps of a replaced value. */
export const REPLACED_NOTE =
  'strings holding U+0000 or lone UTF-16 surrogates were stored with U+FFFD in their place';

// An absolute POSIX or Windows path (not part of a URL), up to its last segment.
const ABSOLUTE_PATH = /(?<![\w.:/\\-])(?:[A-Za-z]:)?(?:[\\/][\w.@+~-]+)*[\\/]([\w.@+~-]+)/g;
// A policy location as the compiled policy reports it: `<file>.rego:<line>:<col>: `.
const REGO_LOCATION = /(?:[^\s:]*[\\/])?([^\s:\\/]+\.rego)(?::\d+){1,2}:?\s*/g;

/** An evaluation error for agents: policy file locations dropped, no paths. */
export function clientPolicyText(message: string): string {
  return withoutPaths(message.replace(REGO_LOCATION, ''));
}

/** An evaluation error for the audit trail: the rule's location kept as `file.rego:line:col`, no directories. */
export function auditPolicyText(message: string): string {
  return withoutPaths(message.replace(REGO_LOCATION, (m, file: string) => m.slice(m.lastIndexOf(file))));
}

/** `text` with absolute file paths reduced to their last segment. */
export function withoutPaths(text: string): string {
  return text.replace(ABSOLUTE_PATH, '$1');
}

/** `text` with URLs and anything shaped like a token removed (for credential failures). */
export function withoutSecrets(text: string): string {
  return text
    .replace(/\b[a-z][a-z0-9+.-]*:\/\/[^\s)"',;]+/gi, '<url>')
    .replace(/\beyJ[\w-]*\.[\w-]*\.?[\w-]*/g, '<token>')
    .replace(/\b[A-Za-z0-9_-]{32,}\b/g, '<redacted>');
}
