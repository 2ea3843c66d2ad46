// An upstream's log messages (`notifications/message`) on a caller's own session, under policy:
// each one is decided (`action: "notifications/message"`, `arguments: {level, logger?, data}`)
// before it reaches the caller's notification streams, so a policy can drop it (deny) or mask what
// it carries (redact). Messages keep their order per caller; nobody listening means no decision.
import type { LoggingLevel, LoggingMessageNotification } from '@modelcontextprotocol/sdk/types.js';
import type { AuditEventInput, Json } from '../../audit/index.js';
import { LOG_LEVELS } from '../protocol/revisions.js';
import { redactArguments } from '../redact.js';
import type { RelayPolicy } from './server-requests.js';

export const LOG_ACTION = 'notifications/message';

/** Log messages of one caller waiting for their decision; beyond this, new ones are dropped. */
export const MAX_PENDING_LOG_MESSAGES = 64;

/**
 * The log message as the caller may get it, or undefined when it is dropped: denied (or asking
 * approval, which a notification cannot wait for), or no usable decision (fail closed; the gateway
 * audits the failed evaluation). Allowed messages pass unaudited like the other notifications;
 * dropped and redacted ones leave a `decision` row (`details.outcome` `dropped` or `redacted`), and
 * a message whose row cannot be written is dropped.
 */
export async function decideLogMessage(
  policy: RelayPolicy,
  upstream: string,
  n: LoggingMessageNotification,
): Promise<LoggingMessageNotification | undefined> {
  const { level, logger, data } = n.params;
  const params: Record<string, unknown> = { level, ...(logger !== undefined ? { logger } : {}), data };
  const input = policy.input(LOG_ACTION, 'request', { server: { name: upstream }, arguments: params });
  let decision: Awaited<ReturnType<RelayPolicy['decide']>>;
  try {
    decision = await policy.decide(input);
  } catch {
    return undefined;
  }
  if (decision.effect === 'allow' && !decision.redact) return n;
  let shown: Record<string, unknown> = params;
  if (decision.redact) {
    shown = redactArguments(params, decision.redact.arguments);
    shown = (await policy.maskResult(shown, decision.redact.result)) as Record<string, unknown>;
  }
  const dropped = decision.effect === 'deny' || decision.effect === 'require_approval';
  try {
    await policy.audit({
      ...policy.base(input.request.id),
      kind: 'decision',
      phase: 'request',
      effect: decision.effect,
      reasons: decision.reasons,
      ...(decision.revision ? { bundleRevision: decision.revision } : {}),
      upstreamServer: upstream,
      arguments: shown as Json,
      details: { action: LOG_ACTION, outcome: dropped ? 'dropped' : 'redacted' },
    } as AuditEventInput);
  } catch {
    return undefined;
  }
  if (dropped) return undefined;
  return { ...n, params: { ...n.params, ...shown } as LoggingMessageNotification['params'] };
}

/** Whether a message of `level` passes the threshold `min` (an unknown level passes nothing). */
export function atLeast(level: string, min: LoggingLevel): boolean {
  const at = LOG_LEVELS.indexOf(level);
  return at >= 0 && at >= LOG_LEVELS.indexOf(min);
}

/** Where the log messages of one request go; `drained` settles once each one taken is sent or dropped. */
export interface RequestLogSink {
  log: (n: LoggingMessageNotification) => void;
  drained: () => Promise<void>;
}

/**
 * The log sink of one request that named its own level (2026-07-28 `io.modelcontextprotocol/logLevel`):
 * messages the upstream sends during that request, at `min` or above, each decided by policy as on
 * the notification streams, sent in order on the request's own stream (the request's answer waits
 * for `drained`, so none comes after it). At most MAX_PENDING_LOG_MESSAGES wait; beyond, dropped.
 */
export function requestLogSink(
  policy: RelayPolicy,
  upstream: string,
  min: LoggingLevel,
  send: (n: LoggingMessageNotification) => Promise<void>,
): RequestLogSink {
  let tail = Promise.resolve();
  let pending = 0;
  return {
    log: (n) => {
      if (!atLeast(n.params.level, min) || pending >= MAX_PENDING_LOG_MESSAGES) return;
      pending++;
      tail = tail
        .then(async () => {
          const shown = await decideLogMessage(policy, upstream, n);
          if (shown) await send(shown);
        })
        .catch(() => {})
        .finally(() => {
          pending--;
        });
    },
    drained: () => tail,
  };
}

/** Per caller, log messages decided one after the other (so they keep their order), bounded. */
export class LogMessageQueue {
  readonly #tails = new Map<string, { pending: number; tail: Promise<void> }>();
  /** Messages dropped because a caller had too many waiting (per replica, for the log and tests). */
  overflowed = 0;

  constructor(readonly limit = MAX_PENDING_LOG_MESSAGES) {}

  /** Runs `task` after the caller's earlier ones; false (not run) when `limit` are waiting. */
  push(key: string, task: () => Promise<void>): boolean {
    const q = this.#tails.get(key) ?? { pending: 0, tail: Promise.resolve() };
    if (q.pending >= this.limit) {
      this.overflowed++;
      return false;
    }
    q.pending++;
    q.tail = q.tail
      .then(task)
      .catch(() => {})
      .finally(() => {
        q.pending--;
        if (q.pending === 0 && this.#tails.get(key) === q) this.#tails.delete(key);
      });
    this.#tails.set(key, q);
    return true;
  }
}
