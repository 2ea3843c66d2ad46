// The console's policy routes: what is active, and what an input would be decided.
//
//   GET  /console/api/policy     the active bundle, the last load failure, live data (policy.read)
//   POST /console/api/evaluate   {"entrypoint"?, "input"} against the active bundle (policy.replay)
//   POST /console/api/data       {"op": "put"|"delete", "path", "value"?}: a live data edit
//                                (data.write in airlock/console, then airlock/admin as for the Data API)
//
// Writes are refused before their body is read unless the caller is signed in, passes the CSRF
// checks and holds the console action; bodies are bounded in size and depth and parsed here, so a
// bad one gets a precise 400.
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { BodyError, parseJsonBody } from '../api/body.js';
import { type AuditRecorder, auditDecisionLog } from '../api/decision-log.js';
import { replyProblem } from '../api/errors.js';
import { DataWriteError, EvaluationError, type LiveData } from '../engine/index.js';
import { clientPolicyText } from '../gateway/clean.js';
import { csrfRefusal } from './csrf.js';
import type { ConsoleService } from './service.js';
import type { Session } from './sessions.js';

/** Largest evaluate or data-edit body (bytes), and its deepest nesting. */
export const MAX_POLICY_BODY_BYTES = 256 * 1024;
export const MAX_POLICY_BODY_DEPTH = 32;
/** Live data larger than this (as JSON) is not sent whole to the page. */
export const MAX_LIVE_DATA_SHOWN = 1024 * 1024;
export const DEFAULT_ADMIN_ENTRYPOINT = 'airlock/admin';
const DEFAULT_EVALUATE_ENTRYPOINT = 'airlock/decision';

export interface PolicyRoutesOptions {
  service: ConsoleService;
  liveData?: LiveData | undefined;
  /** Where live data edits are recorded (as the Data API records them). */
  audit: AuditRecorder;
  adminEntrypoint?: string | undefined;
  allowed: (request: FastifyRequest, reply: FastifyReply, actions: string[]) => Promise<Session | undefined>;
  secure: (reply: FastifyReply) => FastifyReply;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Text about a bundle's location fit for the page: URLs without credentials or query strings (a bundle
 * server's token may be in either), files without their directories.
 */
export function shownLocation(text: string): string {
  return clientPolicyText(
    text
      .replace(/\b([a-z][a-z0-9+.-]*:\/\/)[^\s/@]+@/gi, '$1')
      .replace(/\b(https?:\/\/[^\s?#]+)[?#][^\s]*/gi, '$1'),
  );
}

/** `/a/b/c` as segments, or why it is not a data path. */
function dataPath(path: unknown): string[] | string {
  if (typeof path !== 'string' || !path.startsWith('/')) return 'path must be a string starting with /';
  const segments = path.slice(1).split('/');
  if (segments.length > 16) return 'path has more than 16 segments';
  if (segments.some((s) => s === '' || s.length > 256))
    return 'path segments must be non-empty and at most 256 characters';
  return segments;
}

export function registerPolicyRoutes(app: FastifyInstance, options: PolicyRoutesOptions): void {
  const { service, secure, allowed } = options;
  const engine = service.engine;
  const adminEntrypoint = options.adminEntrypoint ?? DEFAULT_ADMIN_ENTRYPOINT;
  const log = auditDecisionLog(options.audit);

  app.get('/console/api/policy', async (request, reply) => {
    if (!(await allowed(request, reply, ['policy.read']))) return reply;
    const s = engine.status();
    const live = options.liveData;
    let liveData: Record<string, unknown> = { enabled: false };
    if (live) {
      const size = JSON.stringify(live.document).length;
      liveData =
        size > MAX_LIVE_DATA_SHOWN
          ? { enabled: true, version: live.version, document: null, too_large: size }
          : { enabled: true, version: live.version, document: live.document };
    }
    return secure(reply).send({
      ready: s.ready,
      bundle: s.bundle
        ? {
            revision: s.bundle.revision,
            origin: shownLocation(s.bundle.origin),
            activated_at: s.bundle.activatedAt,
            entrypoints: s.bundle.entrypoints,
            roots: s.bundle.roots,
            signed: s.bundle.signed,
          }
        : null,
      last_failure: s.lastFailure
        ? {
            origin: shownLocation(s.lastFailure.origin),
            message: shownLocation(s.lastFailure.message),
            at: s.lastFailure.at,
          }
        : null,
      activations: s.activations,
      load_failures: s.loadFailures,
      console_entrypoint: service.entrypoint,
      admin_entrypoint: adminEntrypoint,
      live_data: liveData,
    });
  });

  // The two writes read their JSON body as text and parse it here, within the bounds above.
  app.register(async (scope) => {
    scope.removeContentTypeParser('application/json');
    scope.addContentTypeParser(
      'application/json',
      { parseAs: 'string', bodyLimit: MAX_POLICY_BODY_BYTES },
      (_req, body, done) => done(null, body),
    );
    scope.setErrorHandler((err: FastifyError, request, reply) => {
      if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE')
        return replyProblem(
          secure(reply),
          413,
          'body-too-large',
          'Body too large',
          `the body may be at most ${MAX_POLICY_BODY_BYTES} bytes`,
        );
      if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE')
        return replyProblem(
          secure(reply),
          415,
          'unsupported-media-type',
          'Unsupported media type',
          'send application/json',
        );
      if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500)
        return replyProblem(secure(reply), err.statusCode, 'bad-request', 'Bad request', err.message);
      request.log.error({ err }, 'console policy route failed');
      return replyProblem(secure(reply), 500, 'internal-error', 'Internal error', 'internal error');
    });

    /** Session, CSRF and the console action, before a byte of the body is read. */
    const guard = (action: string) => async (request: FastifyRequest, reply: FastifyReply) => {
      const session = service.session(request);
      if (session) {
        const refused = csrfRefusal(request, session.csrf, service.origin(request));
        if (refused) return replyProblem(secure(reply), 403, 'csrf-refused', 'Request refused', refused);
      }
      if (!(await allowed(request, reply, [action]))) return reply;
      return undefined;
    };
    const body = (request: FastifyRequest, reply: FastifyReply): Record<string, unknown> | undefined => {
      if (!/^application\/json\s*(;|$)/i.test(request.headers['content-type'] ?? '')) {
        replyProblem(
          secure(reply),
          415,
          'unsupported-media-type',
          'Unsupported media type',
          'send application/json',
        );
        return undefined;
      }
      try {
        const value = parseJsonBody(
          typeof request.body === 'string' ? request.body : '',
          MAX_POLICY_BODY_DEPTH,
        );
        if (isObject(value)) return value;
        replyProblem(secure(reply), 400, 'bad-request', 'Bad request', 'the body must be a JSON object');
      } catch (err) {
        if (!(err instanceof BodyError)) throw err;
        replyProblem(secure(reply), err.status, 'bad-request', 'Bad request', err.message);
      }
      return undefined;
    };

    scope.post('/console/api/evaluate', { onRequest: guard('policy.replay') }, async (request, reply) => {
      const session = service.session(request);
      const b = body(request, reply);
      if (!b || !session) return reply;
      const bad = (detail: string) => replyProblem(secure(reply), 400, 'bad-request', 'Bad request', detail);
      for (const k of Object.keys(b))
        if (k !== 'entrypoint' && k !== 'input')
          return bad(`unknown member ${JSON.stringify(k.slice(0, 64))}`);
      const entrypoint = b.entrypoint ?? DEFAULT_EVALUATE_ENTRYPOINT;
      if (typeof entrypoint !== 'string') return bad('entrypoint must be a string');
      if (!('input' in b)) return bad('input is required (the decision input, a JSON value)');
      const known = engine.bundle?.entrypoints ?? [];
      if (engine.bundle && !known.includes(entrypoint))
        return bad(
          `the active bundle has no entrypoint ${JSON.stringify(entrypoint.slice(0, 128))} (it has ${known.join(', ')})`,
        );
      try {
        const r = await engine.evaluate(entrypoint, b.input);
        request.log.info({ sub: session.user.sub, entrypoint, revision: r.revision }, 'console evaluate');
        return secure(reply).send({
          entrypoint,
          revision: r.revision,
          defined: r.defined,
          ...(r.defined ? { result: r.result } : {}),
        });
      } catch (err) {
        if (!(err instanceof EvaluationError)) throw err;
        const text = clientPolicyText(err.message);
        if (err.code === 'input_too_large')
          return replyProblem(secure(reply), 413, 'input-too-large', 'Input too large', text);
        if (err.code === 'eval_error')
          return replyProblem(secure(reply), 422, 'evaluation-failed', 'Evaluation failed', text);
        return replyProblem(secure(reply), 503, 'policy-unavailable', 'Policy unavailable', text);
      }
    });

    scope.post('/console/api/data', { onRequest: guard('data.write') }, async (request, reply) => {
      const session = service.session(request);
      const b = body(request, reply);
      if (!b || !session) return reply;
      const bad = (detail: string) => replyProblem(secure(reply), 400, 'bad-request', 'Bad request', detail);
      const live = options.liveData;
      if (!live)
        return replyProblem(
          secure(reply),
          501,
          'live-data-disabled',
          'No live data',
          'live data is not enabled',
        );
      for (const k of Object.keys(b))
        if (k !== 'op' && k !== 'path' && k !== 'value')
          return bad(`unknown member ${JSON.stringify(k.slice(0, 64))}`);
      if (b.op !== 'put' && b.op !== 'delete') return bad('op must be "put" or "delete"');
      const path = dataPath(b.path);
      if (typeof path === 'string') return bad(path);
      if (b.op === 'put' && !('value' in b)) return bad('put needs a value');
      if (b.op === 'delete' && 'value' in b) return bad('delete takes no value');
      const method = b.op === 'put' ? 'PUT' : 'DELETE';
      const pathText = `/${path.join('/')}`;
      // The same question the Data API asks before a write: airlock/admin, for this person.
      let verdict: { allow: boolean; reasons: string[] };
      try {
        const r = await engine.evaluate(adminEntrypoint, {
          method,
          path: pathText,
          principal: { sub: session.user.sub, groups: session.user.groups, via: 'console' },
        });
        const v = r.result;
        verdict = {
          allow: r.defined && (v === true || (isObject(v) && v.allow === true)),
          reasons:
            isObject(v) && Array.isArray(v.reasons) ? v.reasons.filter((x) => typeof x === 'string') : [],
        };
      } catch (err) {
        if (!(err instanceof EvaluationError)) throw err;
        return replyProblem(
          secure(reply),
          503,
          'policy-unavailable',
          'Policy unavailable',
          `cannot decide the write: ${clientPolicyText(err.message)}`,
        );
      }
      if (!verdict.allow)
        return replyProblem(
          secure(reply),
          403,
          'admin-forbidden',
          'Write refused',
          `${adminEntrypoint} refused ${method} ${pathText}${verdict.reasons.length ? `: ${verdict.reasons.join('; ')}` : ''}`,
        );
      let version: number;
      try {
        ({ version } = await live.write(
          b.op === 'put' ? { op: 'put', path, value: b.value } : { op: 'delete', path },
          session.user.sub,
        ));
      } catch (err) {
        if (!(err instanceof DataWriteError)) throw err;
        return replyProblem(secure(reply), err.status, 'data-write-refused', 'Write refused', err.message);
      }
      try {
        await log.dataChange({
          operation: b.op,
          path: pathText,
          by: session.user.sub,
          version,
          ...(b.op === 'put' ? { value: b.value } : {}),
        });
      } catch (err) {
        request.log.error({ err: (err as Error).message }, 'data change applied but not recorded');
        return replyProblem(
          secure(reply),
          500,
          'not-recorded',
          'Applied, not recorded',
          'the change was applied but could not be recorded in the audit trail',
        );
      }
      request.log.info({ sub: session.user.sub, method, path: pathText, version }, 'console data edit');
      return secure(reply).send({ version, live_data: live.document });
    });
  });
}
