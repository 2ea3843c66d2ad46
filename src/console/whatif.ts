// The what-if route: replay a time range of the audit trail against an uploaded candidate bundle.
//
//   POST /console/api/replay?since=ISO&until=ISO[&limit=N]
//   Content-Type: application/gzip (or application/octet-stream), body: the bundle tarball
//
// Refused before the body is read unless the caller is signed in, passes the CSRF checks and holds
// `policy.replay` in airlock/console. The candidate is compared with the active bundle replayed on
// the same kept inputs (see docs/replay.md); the report is sent once, complete, or not at all: a
// tarball that is not a loadable bundle is a 422 problem naming what is wrong.
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import { replyProblem } from '../api/errors.js';
import type { AuditSchema } from '../audit/index.js';
import { CandidateError, MAX_REPLAY_LIMIT, ReplayError, replayBundle } from '../replay/index.js';
import { csrfRefusal } from './csrf.js';
import type { ConsoleService } from './service.js';
import type { Session } from './sessions.js';

/** The largest candidate tarball accepted (bytes). */
export const MAX_CANDIDATE_BYTES = 10 * 1024 * 1024;
/** Decision events one console replay reads at most (default), and at most when asked. */
export const CONSOLE_REPLAY_LIMIT = 10_000;
export const CONSOLE_REPLAY_MAX_LIMIT = 100_000;
/** Changed events listed in the report (all are counted). */
export const CONSOLE_REPLAY_LISTED = 200;

const BUNDLE_TYPES = ['application/gzip', 'application/x-gzip', 'application/octet-stream'];
const PARAMS = new Set(['since', 'until', 'limit']);

export interface WhatIfOptions {
  service: ConsoleService;
  db: Kysely<AuditSchema>;
  /** The session when policy grants one of `actions`; otherwise replies (401/403/503) and returns undefined. */
  allowed: (request: FastifyRequest, reply: FastifyReply, actions: string[]) => Promise<Session | undefined>;
  /** Adds the console's security headers. */
  secure: (reply: FastifyReply) => FastifyReply;
  maxBytes?: number;
}

function parseTime(name: string, value: string | null): Date | string {
  if (value === null || value === '') return `${name} is required (an ISO 8601 time)`;
  // A date, or a date and time; a time without a zone is UTC, as for `airlock replay`.
  if (!/^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/i.test(value))
    return `${name} is not an ISO 8601 time: ${JSON.stringify(value.slice(0, 64))}`;
  const zoned = /(Z|[+-]\d{2}:?\d{2})$/i.test(value) || !/[T ]/.test(value) ? value : `${value}Z`;
  const d = new Date(zoned);
  if (Number.isNaN(d.getTime())) return `${name} is not a valid time: ${JSON.stringify(value.slice(0, 64))}`;
  return d;
}

/** Registers POST /console/api/replay on `app` (the console plugin's encapsulated scope). */
export function registerWhatIf(app: FastifyInstance, options: WhatIfOptions): void {
  const { service, secure } = options;
  const maxBytes = options.maxBytes ?? MAX_CANDIDATE_BYTES;
  // One replay at a time: each runs its own evaluation workers on the gateway's machine.
  let running = false;

  app.addContentTypeParser(BUNDLE_TYPES, { parseAs: 'buffer', bodyLimit: maxBytes }, (_req, body, done) =>
    done(null, body),
  );

  app.post(
    '/console/api/replay',
    {
      bodyLimit: maxBytes,
      // Who may ask is settled before a byte of the upload is read.
      onRequest: async (request, reply) => {
        const session = service.session(request);
        if (session) {
          const refused = csrfRefusal(request, session.csrf, service.origin(request));
          if (refused) return replyProblem(secure(reply), 403, 'csrf-refused', 'Request refused', refused);
        }
        if (!(await options.allowed(request, reply, ['policy.replay']))) return reply;
        const declared = Number(request.headers['content-length']);
        if (Number.isFinite(declared) && declared > maxBytes)
          return replyProblem(
            secure(reply),
            413,
            'candidate-too-large',
            'Candidate bundle too large',
            `the candidate bundle may be at most ${maxBytes} bytes`,
          );
        return undefined;
      },
      errorHandler: (err: FastifyError, request, reply) => {
        if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE')
          return replyProblem(
            secure(reply),
            413,
            'candidate-too-large',
            'Candidate bundle too large',
            `the candidate bundle may be at most ${maxBytes} bytes`,
          );
        if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE')
          return replyProblem(
            secure(reply),
            415,
            'unsupported-media-type',
            'Unsupported media type',
            `send the bundle tarball as ${BUNDLE_TYPES.join(' or ')}`,
          );
        if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500)
          return replyProblem(secure(reply), err.statusCode, 'bad-request', 'Bad request', err.message);
        request.log.error({ err }, 'console replay failed');
        return replyProblem(secure(reply), 500, 'internal-error', 'Replay failed', 'internal error');
      },
    },
    async (request, reply) => {
      const bad = (detail: string) => replyProblem(secure(reply), 400, 'bad-request', 'Bad request', detail);
      const params = new URLSearchParams(request.url.split('?')[1] ?? '');
      for (const name of params.keys())
        if (!PARAMS.has(name)) return bad(`unknown parameter ${JSON.stringify(name.slice(0, 64))}`);
      const since = parseTime('since', params.get('since'));
      if (typeof since === 'string') return bad(since);
      const untilParam = params.get('until');
      const until = untilParam ? parseTime('until', untilParam) : undefined;
      if (typeof until === 'string') return bad(until);
      if (until && until.getTime() <= since.getTime()) return bad('until must be after since');
      let limit = CONSOLE_REPLAY_LIMIT;
      const limitParam = params.get('limit');
      if (limitParam) {
        limit = Number(limitParam);
        if (
          !/^\d+$/.test(limitParam) ||
          limit < 1 ||
          limit > Math.min(CONSOLE_REPLAY_MAX_LIMIT, MAX_REPLAY_LIMIT)
        )
          return bad(`limit must be a whole number from 1 to ${CONSOLE_REPLAY_MAX_LIMIT}`);
      }
      const body = request.body;
      if (!Buffer.isBuffer(body) || body.length === 0)
        return replyProblem(
          secure(reply),
          400,
          'candidate-missing',
          'No candidate bundle',
          `send the bundle tarball as the request body (${BUNDLE_TYPES[0]})`,
        );
      if (running)
        return replyProblem(
          secure(reply).header('retry-after', '5'),
          503,
          'replay-busy',
          'A replay is running',
          'one replay runs at a time; try again shortly',
        );
      running = true;
      try {
        const active = service.engine.activePolicyBundle;
        const report = await replayBundle(options.db, body, {
          origin: 'upload',
          since,
          until,
          limit,
          listed: CONSOLE_REPLAY_LISTED,
          baseline: active
            ? { bundle: active, origin: `active bundle (${active.manifest.revision})` }
            : undefined,
        });
        request.log.info(
          { replayed: report.replayed, changed: report.changed, candidate: report.candidate.revision },
          'console replay',
        );
        return secure(reply).send(report);
      } catch (err) {
        if (err instanceof CandidateError)
          return replyProblem(
            secure(reply),
            422,
            'candidate-invalid',
            'Candidate bundle not loadable',
            err.message,
          );
        if (err instanceof ReplayError) return bad(err.message);
        throw err;
      } finally {
        running = false;
      }
    },
  );
}
