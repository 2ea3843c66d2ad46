// What the gateway does when the policy answers `require_approval` for a tools/call: park the exact
// call, or find the approval it already has; hold the request while an approver answers (when
// configured); and run an approved call once, with the approved arguments, before expiry — after
// asking the policy again with the approval in `input.approval`.
import { randomUUID } from 'node:crypto';
import type { AuditEventInput, Json } from '../audit/index.js';
import { type Approval, ApprovalError, type ApprovalStore, argumentsHash } from './approvals.js';
import { agentKey } from './caller.js';
import type { Decision } from './decision.js';
import { GatewayErrorCode, gatewayError } from './errors.js';
import type { CallContext } from './gateway.js';

/** The `_meta` key with which an agent names the approval its repeated call runs under. */
export const APPROVAL_META_KEY = 'airlock.dev/approval';

/** How often a held call reports progress. */
const PROGRESS_EVERY_MS = 2_000;

export interface PendingNotice {
  decision_id: string;
  approval_id: string;
  status: 'pending';
  expires_at: string;
  approvers: string[];
  reasons: string[];
  retry: string;
}

export interface ApprovalRequest {
  context: CallContext;
  /** The request-phase decision input that asked for approval. */
  input: { request: { id: string; time: string } } & Record<string, unknown>;
  decision: Decision;
  upstream: string;
  tool: string;
  arguments: Record<string, unknown>;
  /** Records an audit event about this call (gateway fills who/what). */
  audit: (event: Partial<AuditEventInput>) => Promise<void>;
}

export interface Granted {
  /** The decision made with the approval in the input. */
  decision: Decision;
  decisionId: string;
  approvalId: string;
  /** The input of that decision (the call's, with the approval in `approval`). */
  input?: unknown;
}

export interface ApprovalGate {
  /** Resolves with the decision to execute once approved; throws the pending/refused answer otherwise. */
  resolve(request: ApprovalRequest): Promise<Granted>;
}

export function approvalGate(
  store: ApprovalStore,
  options: {
    holdSeconds: number;
    /** Decides `input` for the call `request` is about (an evaluation failure is audited there). */
    decide: (input: unknown, request: ApprovalRequest) => Promise<Decision>;
  },
): ApprovalGate {
  const refused = (reason: string, message: string, approval?: Approval) =>
    gatewayError(GatewayErrorCode.ApprovalRefused, message, {
      reason,
      ...(approval ? { approval_id: approval.id } : {}),
    });

  const pending = (approval: Approval, decisionId: string) => {
    const notice: PendingNotice = {
      decision_id: decisionId,
      approval_id: approval.id,
      status: 'pending',
      expires_at: approval.expiresAt.toISOString(),
      approvers: approval.approvers,
      reasons: approval.reasons,
      retry: `once approved, repeat this call with the same arguments before ${approval.expiresAt.toISOString()} (optionally with _meta["${APPROVAL_META_KEY}"] = "${approval.id}"); it runs once`,
    };
    return gatewayError(
      GatewayErrorCode.ApprovalPending,
      `approval required (${approval.reasons.join('; ') || 'policy'}): approval ${approval.id} is pending with ${approval.approvers.join(', ')}; ${notice.retry}`,
      notice as unknown as Record<string, unknown>,
    );
  };

  const unusable = (approval: Approval) => {
    switch (approval.status) {
      case 'denied':
        return refused('denied', `approval ${approval.id} was denied; the call will not run`, approval);
      case 'consumed':
        return refused(
          'replayed',
          `approval ${approval.id} has already been used; an approval runs its call once`,
          approval,
        );
      case 'expired':
        return refused(
          'expired',
          `approval ${approval.id} expired at ${approval.expiresAt.toISOString()}`,
          approval,
        );
      default:
        return undefined;
    }
  };

  async function hold(approval: Approval, context: CallContext): Promise<Approval> {
    const deadline = Date.now() + options.holdSeconds * 1000;
    const started = Date.now();
    let current = approval;
    while (current.status === 'pending' && Date.now() < deadline && !context.signal?.aborted) {
      const slice = Math.min(PROGRESS_EVERY_MS, deadline - Date.now());
      current = await store.waitForAnswer(current.id, slice, context.signal);
      if (current.status === 'pending' && context.progress)
        await context
          .progress(
            `waiting for approval ${current.id} from ${current.approvers.join(', ')}`,
            Math.round((Date.now() - started) / 1000),
          )
          .catch(() => {});
    }
    return current;
  }

  return {
    async resolve(request) {
      const { context, decision, input } = request;
      const caller = context.caller;
      const hash = argumentsHash(request.arguments as Json);
      const requester = { sub: caller.user.sub, agent: agentKey(caller) };
      const named = context.meta?.[APPROVAL_META_KEY];

      let approval: Approval | undefined;
      if (named !== undefined) {
        approval = typeof named === 'string' ? await store.get(named) : undefined;
        if (
          !approval ||
          approval.requester.sub !== requester.sub ||
          approval.requester.agent !== requester.agent ||
          approval.virtual !== context.virtual ||
          approval.upstream !== request.upstream ||
          approval.tool !== request.tool
        )
          throw refused('unknown', `no approval ${String(named)} for this call`);
        if (approval.argumentsHash !== hash)
          throw refused(
            'edited',
            `the arguments differ from those approved under ${approval.id}; only the approved call can run`,
            approval,
          );
      } else {
        approval = await store.findOpen({
          ...requester,
          virtual: context.virtual,
          upstream: request.upstream,
          tool: request.tool,
          argumentsHash: hash,
        });
        if (!approval) {
          const requirement = decision.approval!;
          approval = await store.park({
            decisionId: input.request.id,
            virtual: context.virtual,
            upstream: request.upstream,
            tool: request.tool,
            arguments: request.arguments as Json,
            call: input as unknown as Json,
            requester,
            approvers: requirement.approvers,
            ttlSeconds: requirement.ttl_seconds,
            reasons: decision.reasons,
          });
          await request.audit({
            kind: 'approval_requested',
            approvalId: approval.id,
            reasons: decision.reasons,
            details: { approvers: approval.approvers, expires_at: approval.expiresAt.toISOString() },
          });
        }
      }
      if (approval.status === 'pending' && options.holdSeconds > 0) approval = await hold(approval, context);
      if (approval.status === 'pending') throw pending(approval, input.request.id);
      const refusal = unusable(approval);
      if (refusal) throw refusal;

      // Approved: the policy decides again, now knowing who approved.
      const again = {
        ...input,
        request: { ...input.request, id: randomUUID(), time: new Date().toISOString() },
        approval: {
          id: approval.id,
          status: 'approved',
          approver: approval.answeredBy,
          approved_at: approval.answeredAt?.toISOString() ?? null,
        },
      };
      const final = await options.decide(again, request);
      if (final.effect === 'allow' || final.effect === 'redact') {
        try {
          await store.consume(approval.id, hash);
        } catch (err) {
          if (err instanceof ApprovalError) throw refused(err.reason, err.message, approval);
          throw err;
        }
      }
      return { decision: final, decisionId: again.request.id, approvalId: approval.id, input: again };
    },
  };
}
