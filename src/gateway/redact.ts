// Executing a decision's `redact` part: JSON pointers masked in arguments, detector matches masked
// inside result strings. Pure functions over JSON values; inputs are never mutated.

export const MASK = '[REDACTED]';

function decodeToken(token: string): string {
  return token.replace(/~1/g, '/').replace(/~0/g, '~');
}

/** Replaces the value at `pointer` (RFC 6901) using `replace`; absent paths are left as they are. */
export function replaceAt(doc: unknown, pointer: string, replace: (value: unknown) => unknown): unknown {
  if (pointer === '') return replace(doc);
  if (!pointer.startsWith('/')) throw new Error(`invalid JSON pointer ${JSON.stringify(pointer)}`);
  const [head = '', ...rest] = pointer.slice(1).split('/');
  const key = decodeToken(head);
  const tail = rest.length === 0 ? '' : `/${rest.join('/')}`;
  if (Array.isArray(doc)) {
    const i = Number(key);
    if (!/^(0|[1-9]\d*)$/.test(key) || i >= doc.length) return doc;
    const copy = doc.slice();
    copy[i] = replaceAt(doc[i], tail, replace);
    return copy;
  }
  if (doc !== null && typeof doc === 'object' && Object.hasOwn(doc, key)) {
    const obj = doc as Record<string, unknown>;
    return { ...obj, [key]: replaceAt(obj[key], tail, replace) };
  }
  return doc;
}

/** Masks each pointer's value wholesale. */
export function redactArguments(
  args: Record<string, unknown>,
  pointers: readonly string[],
): Record<string, unknown> {
  let out: unknown = args;
  for (const p of pointers) out = replaceAt(out, p, () => MASK);
  return out as Record<string, unknown>;
}

/** A detector's regular expression in JavaScript form (Rego's leading `(?i)` becomes the `i` flag). */
export function detectorRegExp(source: string): RegExp {
  const insensitive = source.startsWith('(?i)');
  return new RegExp(insensitive ? source.slice(4) : source, insensitive ? 'gi' : 'g');
}

/**
 * Masks, in the string at each `path`, what the named pattern matches. `patternFor` returns the
 * RegExp of a pattern name, or undefined when unknown: then the whole string is masked (fail closed).
 */
export function redactResult(
  result: unknown,
  rules: readonly { path: string; pattern: string }[],
  patternFor: (pattern: string) => RegExp | undefined,
): unknown {
  let out = result;
  for (const rule of rules) {
    const re = patternFor(rule.pattern);
    out = replaceAt(out, rule.path, (v) => {
      if (typeof v !== 'string' || re === undefined) return MASK;
      return v.replace(re, MASK);
    });
  }
  return out;
}
