// Tells approvers that a call is waiting: one POST per parked call to a configured URL (a chat bot,
// a ticketing hook). Best effort: bounded by a timeout, failures reported, never blocking the park.
import { SpanKind } from '@opentelemetry/api';
import { traced, traceHeaders } from '../telemetry/index.js';
import type { Approval } from './approvals.js';

export interface ApprovalWebhook {
  url: string;
  /** Give up after this many milliseconds (default 5000). */
  timeoutMs?: number;
  /** Extra request headers (e.g. a shared secret for the receiver); never logged. */
  headers?: Record<string, string>;
}

/** The body POSTed for a newly parked call. */
export function approvalRequestedPayload(a: Approval): Record<string, unknown> {
  return {
    type: 'approval.requested',
    approval: {
      id: a.id,
      tool: a.tool,
      upstream: a.upstream,
      virtual: a.virtual,
      requester: a.requester,
      approvers: a.approvers,
      reasons: a.reasons,
      expires_at: a.expiresAt.toISOString(),
      arguments: a.arguments,
    },
    links: { approve: `/v1/approvals/${a.id}/approve`, deny: `/v1/approvals/${a.id}/deny` },
  };
}

/**
 * POSTs the payload; rejects on a network error, a timeout or a non-2xx answer. While tracing is on,
 * a CLIENT span (`POST approval webhook`) whose traceparent the receiver gets.
 */
export function sendApprovalWebhook(hook: ApprovalWebhook, approval: Approval): Promise<void> {
  return traced(
    'POST approval webhook',
    async (span) => {
      const status = await post(hook, approval);
      span?.setAttribute('http.response.status_code', status);
      if (status < 200 || status > 299)
        throw new Error(`approval webhook for ${approval.id} answered HTTP ${status}`);
    },
    {
      kind: SpanKind.CLIENT,
      // Not the URL (it may carry a token) nor the payload (it holds the call's arguments).
      attributes: () => ({ 'http.request.method': 'POST', 'airlock.approval_id': approval.id }),
    },
  );
}

async function post(hook: ApprovalWebhook, approval: Approval): Promise<number> {
  const timeoutMs = hook.timeoutMs ?? 5000;
  let res: Response;
  try {
    res = await fetch(hook.url, {
      method: 'POST',
      headers: { ...hook.headers, ...traceHeaders(), 'content-type': 'application/json' },
      body: JSON.stringify(approvalRequestedPayload(approval)),
      signal: AbortSignal.timeout(timeoutMs),
      redirect: 'error',
    });
  } catch (err) {
    const e = err as Error;
    const why = e.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : e.message;
    throw new Error(`approval webhook for ${approval.id} failed: ${why}`);
  }
  // Drain the body so the connection can be reused.
  await res.arrayBuffer().catch(() => undefined);
  return res.status;
}
