// Error bodies. OPA's routes (/v1/data, /health) answer in OPA's shape `{"code", "message"}`;
// Airlock's own routes answer RFC 9457 problem details (application/problem+json).
import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import { BodyError } from './body.js';

export type OpaErrorCode =
  | 'invalid_parameter'
  | 'resource_not_found'
  | 'resource_conflict'
  | 'internal_error'
  | 'unauthorized';

export const PROBLEM_BASE = 'https://airlock.dev/problems/';

export function replyOpaError(reply: FastifyReply, status: number, code: OpaErrorCode, message: string) {
  return reply.code(status).type('application/json').send({ code, message });
}

export function replyProblem(
  reply: FastifyReply,
  status: number,
  slug: string,
  title: string,
  detail?: string,
) {
  return reply
    .code(status)
    .type('application/problem+json')
    .send({ type: `${PROBLEM_BASE}${slug}`, title, status, ...(detail ? { detail } : {}) });
}

/** Status and message for errors fastify raises before a handler runs (body too large, bad media type…). */
export function classify(err: FastifyError | Error): { status: number; message: string } {
  if (err instanceof BodyError) return { status: err.status, message: err.message };
  // The audit database is down, frozen or refusing: nothing was decided; the cause is logged, not sent.
  if (err.name === 'DecisionLogError')
    return {
      status: 503,
      message: 'the decision could not be recorded in the audit trail, so none was made; try again later',
    };
  const e = err as FastifyError;
  if (e.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return { status: 413, message: 'request body is too large' };
  if (e.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE')
    return { status: 415, message: 'unsupported content type: send application/json' };
  if (e.code === 'FST_ERR_CTP_EMPTY_JSON_BODY') return { status: 400, message: 'empty JSON body' };
  if (e.statusCode && e.statusCode >= 400 && e.statusCode < 500)
    return { status: e.statusCode, message: e.message };
  return { status: 500, message: 'internal error' };
}

/** OPA-shaped errors for every failure inside `app` (an encapsulated plugin). */
export function useOpaErrors(app: FastifyInstance): void {
  app.setErrorHandler((err, request, reply) => {
    const { status, message } = classify(err as Error);
    if (status >= 500) request.log.error({ err }, 'request failed');
    const code: OpaErrorCode = status >= 500 ? 'internal_error' : 'invalid_parameter';
    return replyOpaError(reply, status, code, message);
  });
}

/** Problem-details errors for every failure inside `app`. */
export function useProblemErrors(app: FastifyInstance): void {
  app.setErrorHandler((err, request, reply) => {
    const { status, message } = classify(err as Error);
    if (status >= 500) request.log.error({ err }, 'request failed');
    const slug =
      status === 413
        ? 'body-too-large'
        : status === 415
          ? 'unsupported-media-type'
          : status >= 500
            ? 'internal'
            : 'bad-request';
    return replyProblem(reply, status, slug, status >= 500 ? 'Internal error' : 'Bad request', message);
  });
}
