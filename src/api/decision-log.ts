// Every decision goes to the audit trail with its decision id. The audit store is one implementation
// of DecisionLog; tests may pass another. A decision that cannot be logged is not answered (fail
// closed) unless the log runs in background mode.
import type { AuditEventInput, Effect, Json } from '../audit/index.js';
import { EFFECTS } from '../audit/index.js';
import { keptInput } from '../audit/kept-input.js';
import { isObject } from '../engine/data-tree.js';

export interface DecisionRecord {
  decisionId: string;
  /** Which surface asked: `data` (OPA Data API), `authzen`, `decisions` (native), `http` (forward-auth). */
  api: 'data' | 'authzen' | 'decisions' | 'http';
  /** The data path (`airlock/decision`). */
  path: string;
  input: unknown;
  defined: boolean;
  result?: unknown;
  revision: string | null;
  error?: string;
  evalMs: number;
  /** The authenticated API caller who asked, when the request came over the API. */
  requestedBy?: { sub: string; via: string };
}

export interface DataChangeRecord {
  operation: 'put' | 'patch' | 'delete';
  path: string;
  by: string | null;
  version: number;
  value?: unknown;
  patch?: unknown;
}

/** Where decisions and data changes are recorded. */
export interface DecisionLog {
  decision(record: DecisionRecord): Promise<void>;
  dataChange(record: DataChangeRecord): Promise<void>;
}

/** Anything with the audit store's `record`. */
export interface AuditRecorder {
  record(event: AuditEventInput): Promise<unknown>;
}

/** Longest id or name recorded in its own column (the audit's limit for short text fields). */
const MAX_COLUMN_TEXT = 1024;

/**
 * A column value from client input: a non-empty string within the column limit, else null (an empty or
 * overlong id names nobody; the event's details say which fields were left out, so the decision is
 * still recorded, never refused with a 500).
 */
function column(v: unknown, name: string, unrecorded: string[]): string | null {
  if (v === undefined || v === null) return null;
  if (typeof v === 'string' && v !== '' && v.length <= MAX_COLUMN_TEXT) return v;
  unrecorded.push(name);
  return null;
}
const json = (v: unknown): Json => (v === undefined ? null : (v as Json));

/** A forward-auth result is an allow only when `allow` is exactly true. */
function httpEffect(out: Record<string, unknown> | undefined): Effect {
  return out?.allow === true ? 'allow' : 'deny';
}

/** What a forward-auth decision was about: the original request line and host. */
function httpRequestFacts(input: Record<string, unknown>): Json {
  const text = (v: unknown) => (typeof v === 'string' ? v : null);
  return {
    proxy: text(input.proxy),
    method: text(input.method),
    host: text(input.host),
    path: text(input.path),
  };
}

/** Most bytes of a non-decision result copied into the event (an echo of a large input would double it). */
const MAX_RESULT_DETAIL = 64 * 1024;

function resultDetail(result: unknown): Record<string, Json> {
  const size = Buffer.byteLength(JSON.stringify(result ?? null));
  return size <= MAX_RESULT_DETAIL ? { result: json(result) } : { result_omitted_bytes: size };
}

/** The audit event for a decision: who, which agent and tool, the effect and reasons when the result is a decision object. */
export function decisionEvent(r: DecisionRecord): AuditEventInput {
  const input = isObject(r.input) ? r.input : {};
  const user = isObject(input.user) ? input.user : undefined;
  const agent = isObject(input.agent) ? input.agent : undefined;
  const server = isObject(input.server) ? input.server : undefined;
  const tool = isObject(input.tool) ? input.tool : undefined;
  const out = isObject(r.result) ? r.result : undefined;
  const effect = r.error
    ? 'deny'
    : typeof out?.effect === 'string' && (EFFECTS as readonly string[]).includes(out.effect)
      ? (out.effect as Effect)
      : r.api === 'http' && r.defined
        ? httpEffect(out)
        : null;
  const reasons =
    Array.isArray(out?.reasons) && out.reasons.every((x) => typeof x === 'string')
      ? (out.reasons as string[])
      : null;
  const phase = input.phase === 'request' || input.phase === 'response' ? input.phase : null;
  const unrecorded: string[] = [];
  const sub = column(user?.sub, 'user.sub', unrecorded);
  const toolName = column(tool?.name, 'tool.name', unrecorded);
  return {
    kind: 'decision',
    decisionId: r.decisionId,
    ...(r.requestedBy ? { requestedBy: r.requestedBy.sub } : {}),
    phase,
    user: sub !== null ? { sub } : null,
    agentId: column(agent?.id, 'agent.id', unrecorded),
    model: json(input.model),
    virtualServer: column(server?.virtual, 'server.virtual', unrecorded),
    upstreamServer: column(server?.name, 'server.name', unrecorded),
    target: toolName !== null ? { type: 'tool', name: toolName } : null,
    arguments: json(input.arguments),
    effect,
    reasons: r.error ? [`evaluation failed: ${r.error}`] : reasons,
    // A bundle built without a revision (`opa build`'s default) is recorded with none: null, not "".
    bundleRevision: r.revision || null,
    timings: { policy_ms: Math.round(r.evalMs * 1000) / 1000 },
    details: {
      api: r.api,
      path: r.path,
      ...(r.requestedBy ? { requested_via: r.requestedBy.via } : {}),
      defined: r.defined,
      ...(r.api === 'http' ? { request: httpRequestFacts(input) } : {}),
      ...(r.defined && effect === null ? resultDetail(r.result) : {}),
      ...(unrecorded.length > 0 ? { unrecorded_fields: unrecorded } : {}),
      // The input as asked (its arguments are the event's own column), for replay (src/replay/).
      // A forward-auth request's header and query values may be credentials: kept masked.
      ...keptInput(r.input, r.api === 'http' ? { maskValuesOf: ['headers', 'query'] } : {}),
    },
  };
}

/** A DecisionLog writing to the audit trail. */
export function auditDecisionLog(audit: AuditRecorder): DecisionLog {
  return {
    async decision(r) {
      await audit.record(decisionEvent(r));
    },
    async dataChange(c) {
      await audit.record({
        kind: 'data_change',
        user: c.by ? { sub: c.by } : null,
        details: {
          operation: c.operation,
          path: c.path,
          version: c.version,
          ...(c.value !== undefined ? { value: json(c.value) } : {}),
          ...(c.patch !== undefined ? { patch: json(c.patch) } : {}),
        },
      });
    },
  };
}
