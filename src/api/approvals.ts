// The approver API: people list parked calls and answer them.
//   GET  /v1/approvals?status=pending&limit=50&after=<id>  → {"approvals": [...]}
//   GET  /v1/approvals/:id                                 → one approval
//   POST /v1/approvals/:id/approve | /deny  {"reason"?}   → the answered approval
// Every route needs an authenticated caller (401). An answer is allowed only when policy
// (`airlock/approve`) says so for this caller and this call (403 with the policy's reasons); no policy
// or a failed evaluation refuses (503: fail closed).
//
// An answer and its audit event go together or not at all: the store claims the approval (it stays
// pending, a concurrent answer gets 409), the event is recorded (awaited: committed), and only then does
// the answer take effect. An audit failure releases the claim: 503, still pending, the approver may
// retry. The one gap left: the event committed but the final write failed (the database went away in
// between); the call then stays parked (fail closed) and the trail shows an answer that did not take —
// never the reverse, an answer that took without its event.
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { Registry } from 'prom-client';
import type { AuditEventInput, AuditStore } from '../audit/index.js';
import { type Engine, EvaluationError } from '../engine/index.js';
import {
  type Approval,
  ApprovalError,
  type ApprovalStatus,
  type ApprovalStore,
} from '../gateway/approvals.js';
import { clientPolicyText, storable } from '../gateway/clean.js';
import { Stages, stageHistogram, traceRequests } from '../telemetry/index.js';
import { type BodyLimits, DEFAULT_BODY_LIMITS, installJsonParser } from './body.js';
import { replyProblem, useProblemErrors } from './errors.js';

export interface Approver {
  sub: string;
  groups: string[];
}

export interface ApprovalsPluginOptions {
  store: ApprovalStore;
  engine: Engine;
  /** Who is calling, or undefined (401). */
  /** The caller, or undefined (401). May throw; an error with `status: 503` answers 503. */
  authenticate: (request: FastifyRequest) => Promise<Approver | undefined>;
  /** Where approval_granted / approval_denied events go; awaited before the answer takes effect. */
  audit: Pick<AuditStore, 'record'>;
  /** Default `airlock/approve`. */
  entrypoint?: string;
  now?: () => number;
  limits?: Partial<BodyLimits>;
  /** Where the stage histogram goes (surface `approvals`); none without it. */
  metricsRegistry?: Registry | undefined;
}

const STATUSES: readonly ApprovalStatus[] = ['pending', 'approved', 'denied', 'consumed', 'expired'];
const MAX_REASON = 1000;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** An approval as the API shows it: snake_case, ISO 8601 times. The arguments are shown: approvers must see what they approve. */
export function approvalJson(a: Approval): Record<string, unknown> {
  return {
    id: a.id,
    status: a.status,
    decision_id: a.decisionId,
    virtual: a.virtual,
    upstream: a.upstream,
    tool: a.tool,
    arguments: a.arguments,
    arguments_hash: a.argumentsHash,
    requester: a.requester,
    approvers: a.approvers,
    reasons: a.reasons,
    created_at: a.createdAt.toISOString(),
    expires_at: a.expiresAt.toISOString(),
    answered_by: a.answeredBy,
    answered_at: a.answeredAt?.toISOString() ?? null,
    answer_reasons: a.answerReasons,
    consumed_at: a.consumedAt?.toISOString() ?? null,
  };
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function refusal(reply: FastifyReply, err: ApprovalError) {
  switch (err.reason) {
    case 'unknown':
      return replyProblem(reply, 404, 'approval-not-found', 'Approval not found', err.message);
    case 'expired':
      return replyProblem(reply, 410, 'approval-expired', 'Approval expired', err.message);
    default:
      return replyProblem(reply, 409, 'approval-answered', 'Approval already answered', err.message);
  }
}

/** The refusal for answering an approval in this state, if any. */
function notAnswerable(a: Approval): ApprovalError | undefined {
  if (a.status === 'pending') return undefined;
  if (a.status === 'expired')
    return new ApprovalError('expired', `approval ${a.id} expired at ${a.expiresAt.toISOString()}`);
  return new ApprovalError('answered', `approval ${a.id} was already answered (${a.status})`);
}

function auditEvent(a: Approval): AuditEventInput {
  const call = isObject(a.call) ? a.call : {};
  return {
    kind: a.status === 'approved' ? 'approval_granted' : 'approval_denied',
    decisionId: a.decisionId,
    phase: 'request',
    // The approver is who acted; the requester and the call are in details and the other columns.
    user: { sub: a.answeredBy?.sub ?? '', claims: { groups: a.answeredBy?.groups ?? [] } },
    agentId: a.requester.agent,
    ...(call.model !== undefined ? { model: call.model as AuditEventInput['model'] } : {}),
    virtualServer: a.virtual,
    upstreamServer: a.upstream,
    target: { type: 'tool', name: a.tool },
    effect: 'require_approval',
    reasons: a.answerReasons,
    approvalId: a.id,
    // The parked arguments are not repeated here: the request's decision event holds them as policy
    // allowed them to be kept; the hash binds this answer to them.
    details: {
      status: a.status,
      requester: a.requester,
      approvers: a.approvers,
      arguments_hash: a.argumentsHash,
      expires_at: a.expiresAt.toISOString(),
    },
  };
}

/** Why an answer was refused, as the audit trail records it. */
type Refusal = 'unknown' | 'expired' | 'answered' | 'forbidden' | 'policy_unavailable';

/**
 * The audit event of a refused answer: who tried (as `user`), on which parked call, and why. Recorded
 * as a denied decision under the parked call's decision id (a fresh one for an unknown approval id).
 */
export function refusalEvent(
  who: Approver,
  attempt: 'approved' | 'denied',
  id: string,
  refused: Refusal,
  why: string,
  a?: Approval,
  policyReasons: string[] = [],
): AuditEventInput {
  const event: AuditEventInput = {
    kind: 'decision',
    decisionId: a?.decisionId ?? randomUUID(),
    phase: 'request',
    user: { sub: who.sub, claims: { groups: who.groups } },
    ...(a
      ? {
          agentId: a.requester.agent,
          virtualServer: a.virtual,
          upstreamServer: a.upstream,
          target: { type: 'tool' as const, name: a.tool },
        }
      : {}),
    effect: 'deny',
    reasons: [`approval answer refused: ${why}`],
    approvalId: id.length > 200 ? `${id.slice(0, 199)}…` : id,
    details: {
      attempt: attempt === 'approved' ? 'approve' : 'deny',
      refused,
      ...(a ? { status: a.status, requester: a.requester } : {}),
      ...(policyReasons.length > 0 ? { policy_reasons: policyReasons } : {}),
    },
  };
  return storable(event).value;
}

export const approvalsPlugin: FastifyPluginAsync<ApprovalsPluginOptions> = async (
  app: FastifyInstance,
  options: ApprovalsPluginOptions,
) => {
  // A span per request while tracing is on (`GET /v1/approvals`, `POST /v1/approvals/:id/approve`…).
  traceRequests(app, {
    describe: (request) => {
      const id = (request.params as { id?: unknown } | undefined)?.id;
      return {
        name: `${request.method} ${request.routeOptions.url}`,
        attributes: typeof id === 'string' && UUID.test(id) ? { 'airlock.approval_id': id } : {},
      };
    },
  });
  installJsonParser(app, { ...DEFAULT_BODY_LIMITS, ...options.limits });
  useProblemErrors(app);
  const { store, engine } = options;
  const stages = new Stages(
    'approvals',
    options.metricsRegistry ? stageHistogram(options.metricsRegistry) : undefined,
  );
  const audit = {
    record: (event: AuditEventInput) =>
      stages.run('audit', () => options.audit.record(event), {
        attributes: () => ({ 'airlock.audit.kind': event.kind }),
      }),
  };
  const entrypoint = options.entrypoint ?? 'airlock/approve';
  const now = options.now ?? Date.now;

  const caller = async (request: FastifyRequest, reply: FastifyReply): Promise<Approver | undefined> => {
    let who: Approver | undefined;
    try {
      who = await stages.run('authenticate', () => options.authenticate(request));
    } catch (err) {
      // An identity provider that cannot be reached is not the caller's fault: 503, retry later.
      if ((err as { status?: unknown }).status === 503) {
        reply.header('retry-after', '5');
        replyProblem(reply, 503, 'idp-unavailable', 'Identity provider unavailable', (err as Error).message);
        return undefined;
      }
      who = undefined;
    }
    if (!who || typeof who.sub !== 'string' || who.sub === '') {
      reply.header('www-authenticate', 'Bearer');
      replyProblem(
        reply,
        401,
        'unauthenticated',
        'Authentication required',
        'approvals need an identified caller',
      );
      return undefined;
    }
    return {
      sub: who.sub,
      groups: Array.isArray(who.groups) ? who.groups.filter((g) => typeof g === 'string') : [],
    };
  };

  /** What `airlock/approve` says of `who` answering `a` now; throws EvaluationError without a verdict. */
  const verdictFor = async (who: Approver, a: Approval): Promise<{ allow: boolean; reasons: string[] }> => {
    const input = {
      approver: who,
      approval: { approvers: a.approvers, expires_at: a.expiresAt.toISOString() },
      call: a.call,
      time: new Date(now()).toISOString(),
    };
    let verdict: unknown;
    try {
      const r = await stages.run(
        'evaluate',
        async (span) => {
          const r = await engine.evaluate(entrypoint, input);
          const allow = r.defined && isObject(r.result) && r.result.allow === true;
          span?.setAttributes({ 'airlock.allowed': allow, 'airlock.bundle_revision': r.revision });
          return r;
        },
        { attributes: () => ({ 'airlock.entrypoint': entrypoint }) },
      );
      if (!r.defined) throw new EvaluationError(`${entrypoint} gave no result`);
      verdict = r.result;
    } catch (err) {
      throw err instanceof EvaluationError ? err : new EvaluationError('policy evaluation failed');
    }
    const reasons =
      isObject(verdict) && Array.isArray(verdict.reasons)
        ? verdict.reasons.filter((r): r is string => typeof r === 'string')
        : [];
    return { allow: isObject(verdict) && verdict.allow === true, reasons };
  };

  /**
   * Parked calls hold exact arguments, so a caller sees only their own and those the policy would
   * let them answer; anything else answers like an unknown id.
   */
  const visibleTo = async (who: Approver, a: Approval): Promise<boolean> =>
    a.requester.sub === who.sub || (await verdictFor(who, a)).allow;

  const unavailable = (reply: FastifyReply, err: unknown) => {
    if (!(err instanceof EvaluationError)) throw err;
    return replyProblem(
      reply,
      503,
      'policy-unavailable',
      'Policy unavailable',
      `cannot decide who may see or answer approvals: ${clientPolicyText(err.message)}`,
    );
  };

  app.get('/v1/approvals', async (request, reply) => {
    const who = await caller(request, reply);
    if (!who) return reply;
    const q = (request.query ?? {}) as Record<string, unknown>;
    const status = q.status;
    if (status !== undefined && !STATUSES.includes(status as ApprovalStatus))
      return replyProblem(
        reply,
        400,
        'bad-request',
        'Bad request',
        `status must be one of ${STATUSES.join(', ')}`,
      );
    let limit: number | undefined;
    if (q.limit !== undefined) {
      limit = Number(q.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 500)
        return replyProblem(
          reply,
          400,
          'bad-request',
          'Bad request',
          'limit must be an integer from 1 to 500',
        );
    }
    const after = q.after;
    if (
      after !== undefined &&
      (typeof after !== 'string' || (Number.isNaN(Date.parse(after)) && !UUID.test(after)))
    )
      return replyProblem(
        reply,
        400,
        'bad-request',
        'Bad request',
        'after must be an approval id or an RFC 3339 time',
      );
    const list = await store.list({
      ...(status !== undefined ? { status: status as ApprovalStatus } : {}),
      ...(limit !== undefined ? { limit } : {}),
      ...(after !== undefined ? { after: after as string } : {}),
    });
    try {
      const visible: Approval[] = [];
      for (const a of list) if (await visibleTo(who, a)) visible.push(a);
      return { approvals: visible.map(approvalJson) };
    } catch (err) {
      return unavailable(reply, err);
    }
  });

  app.get<{ Params: { id: string } }>('/v1/approvals/:id', async (request, reply) => {
    const who = await caller(request, reply);
    if (!who) return reply;
    const a = await store.get(request.params.id);
    let visible: boolean;
    try {
      visible = a !== undefined && (await visibleTo(who, a));
    } catch (err) {
      return unavailable(reply, err);
    }
    if (!a || !visible)
      return replyProblem(
        reply,
        404,
        'approval-not-found',
        'Approval not found',
        `no approval ${request.params.id}`,
      );
    return approvalJson(a);
  });

  const answer =
    (status: 'approved' | 'denied') =>
    async (request: FastifyRequest<{ Params: { id: string } }>, reply: FastifyReply) => {
      const who = await caller(request, reply);
      if (!who) return reply;
      const body = request.body;
      let reason: string | undefined;
      if (body !== undefined && body !== null) {
        if (!isObject(body))
          return replyProblem(reply, 400, 'bad-request', 'Bad request', 'the body must be a JSON object');
        if (body.reason !== undefined) {
          if (typeof body.reason !== 'string' || body.reason.length > MAX_REASON)
            return replyProblem(
              reply,
              400,
              'bad-request',
              'Bad request',
              `reason must be a string of at most ${MAX_REASON} characters`,
            );
          reason = body.reason;
        }
      }
      const id = request.params.id;
      // A refused answer is recorded too; the refusal stands whether or not the record succeeds.
      const record = async (refused: Refusal, why: string, a?: Approval, policyReasons?: string[]) => {
        try {
          await audit.record(refusalEvent(who, status, id, refused, why, a, policyReasons));
        } catch (err) {
          request.log.error(
            { err: (err as Error).message, refused },
            'refused approval answer not recorded in the audit trail',
          );
        }
      };
      const current = await store.get(id);
      if (!current) {
        await record('unknown', 'no such approval');
        return replyProblem(reply, 404, 'approval-not-found', 'Approval not found', `no approval ${id}`);
      }
      const late = notAnswerable(current);
      if (late) {
        await record(late.reason === 'expired' ? 'expired' : 'answered', late.message, current);
        return refusal(reply, late);
      }

      // Denying is answering too: only someone policy accepts as an approver may do either.
      let verdict: { allow: boolean; reasons: string[] };
      try {
        verdict = await verdictFor(who, current);
      } catch (err) {
        if (err instanceof EvaluationError) {
          request.log.warn({ err: err.message, approval: id }, 'approval answer refused: no policy verdict');
          await record('policy_unavailable', `evaluation failed: ${err.code}`, current);
        }
        return unavailable(reply, err);
      }
      if (!verdict.allow) {
        const { reasons } = verdict;
        await record(
          'forbidden',
          reasons.length > 0 ? reasons.join('; ') : `${entrypoint} did not allow ${who.sub}`,
          current,
          reasons,
        );
        return reply
          .code(403)
          .type('application/problem+json')
          .send({
            type: 'https://airlock.dev/problems/approval-forbidden',
            title: 'Not allowed to answer this approval',
            status: 403,
            detail: reasons.length > 0 ? reasons.join('; ') : `${entrypoint} did not allow ${who.sub}`,
            reasons,
          });
      }

      let auditFailed: Error | undefined;
      try {
        const answered = await stages.run(
          'approval',
          () =>
            store.answer(
              id,
              { status, by: who, ...(reason !== undefined ? { reasons: [reason] } : {}) },
              {
                beforeCommit: async (a) => {
                  try {
                    await audit.record(auditEvent(a));
                  } catch (err) {
                    auditFailed = err as Error;
                    throw err;
                  }
                },
              },
            ),
          { name: 'airlock.approval.answer', attributes: () => ({ 'airlock.approval.status': status }) },
        );
        return approvalJson(answered);
      } catch (err) {
        if (auditFailed) {
          request.log.error(
            { err: auditFailed.message, approval: id },
            'approval answer not recorded in the audit trail',
          );
          return replyProblem(
            reply,
            503,
            'audit-unavailable',
            'Audit trail unavailable',
            'the answer was not recorded, so it was not applied: the approval is still pending',
          );
        }
        if (err instanceof ApprovalError) {
          await record(
            err.reason === 'expired' ? 'expired' : err.reason === 'unknown' ? 'unknown' : 'answered',
            err.message,
            current,
          );
          return refusal(reply, err);
        }
        throw err;
      }
    };

  app.post<{ Params: { id: string } }>('/v1/approvals/:id/approve', answer('approved'));
  app.post<{ Params: { id: string } }>('/v1/approvals/:id/deny', answer('denied'));
};
