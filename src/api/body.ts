// Request bodies: JSON only, bounded in size (fastify's bodyLimit) and in nesting depth (checked by a
// linear scan before parsing, so a deeply nested body never reaches JSON.parse's recursion).
import type { FastifyInstance, FastifyRequest } from 'fastify';
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
export function parseJsonBody(text: string, maxDepth: number): unknown {
  if (text.trim() === '') return undefined;
  if (jsonDepth(text, maxDepth) < 0)
    throw new BodyError(`body is nested deeper than ${maxDepth} levels`, 400);
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new BodyError(`body is not valid JSON: ${(err as Error).message}`, 400);
  }
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
