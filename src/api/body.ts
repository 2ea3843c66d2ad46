// Request bodies: JSON only, bounded in size (fastify's bodyLimit) and in nesting depth (checked by a
// linear scan before parsing, so a deeply nested body never reaches JSON.parse's recursion). Values the
// audit trail could not record as decided are refused with 400 rather than altered: strings (and member
// names) holding U+0000 or a lone UTF-16 surrogate (`"\ud800"`: not Unicode text; Postgres' jsonb
// stores neither), and numbers too large for a double (`1e999`, which JSON.parse turns into Infinity).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { unstorableCodeUnit } from '../audit/index.js';
import { jsonDepth } from '../engine/index.js';

export interface BodyLimits {
  /** Most bytes in a request body (default 1 MiB). */
  maxBytes: number;
  /** Deepest nesting of arrays and objects (default 64). */
  maxDepth: number;
}

export const DEFAULT_BODY_LIMITS: BodyLimits = { maxBytes: 1024 * 1024, maxDepth: 64 };

/** A request body the API refuses; `status` is 400, 413 or 415. */
export class BodyError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = 'BodyError';
  }
}

/** Parses a JSON body within the depth limit; throws BodyError (400). */
export function parseJsonBody(text: string, maxDepth: number, what = 'body'): unknown {
  if (text.trim() === '') return undefined;
  if (jsonDepth(text, maxDepth) < 0)
    throw new BodyError(`${what} is nested deeper than ${maxDepth} levels`, 400);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new BodyError(`${what} is not valid JSON: ${(err as Error).message}`, 400);
  }
  const bad = unstorable(value, '');
  if (bad)
    throw new BodyError(`${what} is refused: ${bad.length > 300 ? `${bad.slice(0, 300)}…` : bad}`, 400);
  return value;
}

function badText(s: string): string | undefined {
  const bad = unstorableCodeUnit(s);
  if (!bad) return undefined;
  return bad.code === 0 ? 'U+0000' : `a lone UTF-16 surrogate (\\u${bad.code.toString(16)})`;
}

const pointer = (path: string, key: string) => `${path}/${key.replaceAll('~', '~0').replaceAll('/', '~1')}`;

/** Why a parsed JSON value cannot be decided and recorded as given (with its JSON Pointer), or undefined. */
export function unstorable(value: unknown, path: string): string | undefined {
  if (typeof value === 'string') {
    const why = badText(value);
    return why ? `the string at ${path || '/'} holds ${why}` : undefined;
  }
  if (typeof value === 'number')
    return Number.isFinite(value) ? undefined : `the number at ${path || '/'} is out of range`;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const why = unstorable(value[i], `${path}/${i}`);
      if (why) return why;
    }
    return undefined;
  }
  if (typeof value === 'object' && value !== null)
    for (const [k, v] of Object.entries(value)) {
      const name = badText(k);
      // The key itself is not echoed into the pointer: it holds the unprintable text.
      if (name) return `a member name under ${path || '/'} holds ${name}`;
      const why = unstorable(v, pointer(path, k));
      if (why) return why;
    }
  return undefined;
}

/**
 * Installs the JSON parser (application/json and +json types) on `app`; other content types get 415.
 * `curlCompatible` also reads `application/x-www-form-urlencoded` and `text/plain` bodies as JSON, as
 * OPA does (it does not look at the content type): they are what `curl -d @input.json` and `fetch`
 * with a string body send, and OPA's integrations rely on it.
 */
export function installJsonParser(app: FastifyInstance, limits: BodyLimits, curlCompatible = false): void {
  app.removeAllContentTypeParsers();
  const parse = (_req: FastifyRequest, body: string, done: (err: Error | null, body?: unknown) => void) => {
    try {
      done(null, parseJsonBody(body, limits.maxDepth));
    } catch (err) {
      done(err as Error);
    }
  };
  app.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: limits.maxBytes }, parse);
  app.addContentTypeParser(
    /^application\/[a-z0-9.+-]*\+json$/,
    { parseAs: 'string', bodyLimit: limits.maxBytes },
    parse,
  );
  if (curlCompatible)
    for (const type of ['application/x-www-form-urlencoded', 'text/plain'])
      app.addContentTypeParser(type, { parseAs: 'string', bodyLimit: limits.maxBytes }, parse);
  app.addContentTypeParser('*', (req, _payload, done) => {
    done(
      new BodyError(
        `unsupported content type ${JSON.stringify(req.headers['content-type'] ?? '')}: send application/json`,
        415,
      ),
    );
  });
}
