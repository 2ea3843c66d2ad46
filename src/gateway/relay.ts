// What travels with a forwarded request besides its params: the caller's upstream session, the
// request's `_meta` (without Airlock's own keys), the client's cancellation, and the upstream's
// progress relayed back under the client's own progress token.
import type {
  ClientCapabilities,
  LoggingLevel,
  Progress,
  ServerNotification,
} from '@modelcontextprotocol/sdk/types.js';
import type { Caller } from './caller.js';
import { type GatewayError, GatewayErrorCode, gatewayError } from './errors.js';
import type { CallerNotification } from './session-state.js';
import { type UpstreamCall, UpstreamError } from './upstream.js';
import { sessionKey } from './upstream-sessions.js';

/** The caller's upstream session key for a request of `context`. */
export function session(context: Pick<RelayContext, 'caller' | 'virtual'>): string {
  return sessionKey(context.caller, context.virtual);
}

/** `_meta` keys addressed to Airlock (approval id, declared model): not passed on. */
const AIRLOCK_META = /^airlock\.dev\//;

/** What the gateway needs of one front request to relay it. */
export interface RelayContext {
  caller: Caller;
  virtual: string;
  meta?: Record<string, unknown> | undefined;
  signal?: AbortSignal | undefined;
  /** Sends a notification to the client on this request's stream. */
  sendNotification?: ((notification: ServerNotification) => Promise<void>) | undefined;
  /** The request's own log level (2026-07-28), passed on to upstreams of that revision. */
  logLevel?: LoggingLevel | undefined;
}

/** The client's request `_meta` as the upstream gets it: Airlock's keys and the progress token removed. */
export function forwardedMeta(
  meta: Record<string, unknown> | undefined,
): Record<string, unknown> | undefined {
  if (!meta) return undefined;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(meta)) if (k !== 'progressToken' && !AIRLOCK_META.test(k)) out[k] = v;
  return Object.keys(out).length > 0 ? out : undefined;
}

/**
 * How a request of `context` travels upstream. When the client asked for progress (a
 * `progressToken`), the upstream is asked too (the SDK gives it a token of its own) and each
 * progress notification it sends is relayed to the client under the client's token.
 */
export function upstreamCall(context: RelayContext): UpstreamCall {
  const token = context.meta?.progressToken;
  const send = context.sendNotification;
  const onprogress =
    send && (typeof token === 'string' || typeof token === 'number')
      ? (p: Progress) => {
          void send({
            method: 'notifications/progress',
            params: { ...p, progressToken: token },
          }).catch(() => {});
        }
      : undefined;
  return {
    session: session(context),
    meta: forwardedMeta(context.meta),
    signal: context.signal,
    onprogress,
    logLevel: context.logLevel,
  };
}

/**
 * The error the client gets for a failed upstream request. A JSON-RPC error the upstream answered
 * goes on with its own code, message and data (an object's keys kept, anything else under
 * `data.upstream_data`), Airlock's facts added to `data`; any other failure is `-32004` saying only
 * what failed.
 */
export function upstreamFailure(err: unknown, upstream: string, data: Record<string, unknown>): GatewayError {
  if (err instanceof UpstreamError && err.failure === 'rejected' && err.rpcCode !== undefined && err.rpc) {
    const own = err.rpc.data;
    const kept =
      own !== null && typeof own === 'object' && !Array.isArray(own)
        ? (own as Record<string, unknown>)
        : own !== undefined
          ? { upstream_data: own }
          : {};
    return gatewayError(err.rpcCode, err.rpc.message, { ...kept, ...data, upstream });
  }
  return gatewayError(
    GatewayErrorCode.UpstreamFailed,
    err instanceof UpstreamError ? err.clientMessage : `upstream ${upstream} failed`,
    { ...data, upstream },
  );
}

/** What the audit row of a failed upstream request adds: `outcome: "cancelled"`, the upstream's JSON-RPC code. */
export function upstreamOutcome(err: unknown): Record<string, unknown> {
  if (!(err instanceof UpstreamError)) return {};
  return {
    ...(err.failure === 'cancelled' ? { outcome: 'cancelled' } : {}),
    ...(err.rpcCode !== undefined ? { upstream_code: err.rpcCode } : {}),
  };
}

function messages(body: unknown): { method?: unknown; params?: { _meta?: { progressToken?: unknown } } }[] {
  return (Array.isArray(body) ? body : [body]).filter((m) => m !== null && typeof m === 'object');
}

/** Whether a request body asks for progress notifications (a `progressToken` in its `_meta`). */
export function asksProgress(body: unknown): boolean {
  return messages(body).some((m) => {
    const t = m.params?._meta?.progressToken;
    return typeof t === 'string' || typeof t === 'number';
  });
}

/** Whether a request body holds a `tools/call` request. */
export function isToolCall(body: unknown): boolean {
  return messages(body).some((m) => m.method === 'tools/call');
}

/** Whether a request body is an `initialize` request. */
export function isInitialize(body: unknown): boolean {
  return messages(body).some((m) => m.method === 'initialize');
}

/** The capabilities the client declares in an `initialize` request body (undefined: none given). */
export function initializeCapabilities(body: unknown): ClientCapabilities | undefined {
  const init = messages(body).find((m) => m.method === 'initialize');
  const capabilities = (init?.params as { capabilities?: unknown } | undefined)?.capabilities;
  return capabilities !== null && typeof capabilities === 'object' && !Array.isArray(capabilities)
    ? (capabilities as ClientCapabilities)
    : undefined;
}

/**
 * A virtual server's instructions: each upstream's own, under its name (tools and prompts carry
 * the `<upstream>__` prefix, so the text says which names it speaks of).
 */
export function combineInstructions(parts: { upstream: string; instructions: string | undefined }[]) {
  const given = parts.filter((p) => p.instructions?.trim());
  if (given.length === 0) return undefined;
  return given
    .map((p) => `## ${p.upstream} (tools and prompts named ${p.upstream}__…)\n\n${p.instructions?.trim()}`)
    .join('\n\n');
}

/** An upstream's notification as its caller gets it: a log message's `logger` names the upstream. */
export function fromUpstream(upstream: string, n: CallerNotification): CallerNotification {
  if (n.method !== 'notifications/message') return n;
  const logger = n.params.logger ? `${upstream}/${n.params.logger}` : upstream;
  return { ...n, params: { ...n.params, logger } };
}

/**
 * The `details.action` of a forwarded request's audit rows, for actions its target type does not
 * tell (`resources/subscribe` and `resources/unsubscribe` address a resource like `resources/read`;
 * `completion/complete` a prompt or a resource template).
 */
export function told(action: string): { action: string } | undefined {
  return action === 'resources/subscribe' ||
    action === 'resources/unsubscribe' ||
    action === 'completion/complete'
    ? { action }
    : undefined;
}
