// The approver API (/v1/approvals) for people signed in to the console: a request without an
// Authorization header but with a console session cookie is the session's user, once it passes
// CSRF checks (writes) and `airlock/console` (reading needs approvals.own or approvals.answer,
// answering needs approvals.answer). Whether this user may answer this call is still decided by
// `airlock/approve` in the approver API itself.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Approver } from '../api/approvals.js';
import { replyProblem } from '../api/errors.js';
import { EvaluationError } from '../engine/index.js';
import { clientPolicyText } from '../gateway/clean.js';
import { csrfRefusal, isWrite } from './csrf.js';
import type { ConsoleService } from './service.js';

const approvers = new WeakMap<FastifyRequest, Approver>();

/** The console user a guarded /v1/approvals request authenticated as, if any. */
export function consoleApprover(request: FastifyRequest): Approver | undefined {
  return approvers.get(request);
}

const isApprovalsPath = (url: string) => {
  const path = url.split('?')[0] ?? '';
  return path === '/v1/approvals' || path.startsWith('/v1/approvals/');
};

/** Installs the guard as an onRequest hook of `app` (the agents' listener, before its routes). */
export function installConsoleApprovals(app: FastifyInstance, service: ConsoleService): void {
  app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    if (!isApprovalsPath(request.url) || request.headers.authorization !== undefined) return;
    const session = service.session(request);
    if (!session) return; // the approver API answers 401
    if (isWrite(request.method)) {
      const refused = csrfRefusal(request, session.csrf, service.origin(request));
      if (refused) return replyProblem(reply, 403, 'csrf-refused', 'Request refused', refused);
    }
    const needs = isWrite(request.method) ? ['approvals.answer'] : ['approvals.answer', 'approvals.own'];
    try {
      const verdict = await service.verdict(session.user);
      if (!needs.some((a) => verdict.actions.includes(a)))
        return replyProblem(
          reply,
          403,
          'console-forbidden',
          'Not allowed',
          `${service.entrypoint} does not let ${session.user.sub} ${isWrite(request.method) ? 'answer' : 'see'} approvals${verdict.reasons.length ? `: ${verdict.reasons.join('; ')}` : ''}`,
        );
    } catch (err) {
      if (!(err instanceof EvaluationError)) throw err;
      return replyProblem(
        reply,
        503,
        'policy-unavailable',
        'Policy unavailable',
        `cannot decide what the console may do: ${clientPolicyText(err.message)}`,
      );
    }
    approvers.set(request, { sub: session.user.sub, groups: session.user.groups });
  });
}
