// Every decision goes to the audit trail with its decision id. The audit store is one implementation
// of DecisionLog; tests may pass another. A decision that cannot be logged is not answered (fail
// closed) unless the log runs in background mode.
import type { AuditEventInput, Effect, Json } from '../audit/index.js';
import { EFFECTS } from '../audit/index.js';
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

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
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
  return {
    kind: 'decision',
    decisionId: r.decisionId,
    ...(r.requestedBy ? { requestedBy: r.requestedBy.sub } : {}),
    phase,
    user: typeof user?.sub === 'string' ? { sub: user.sub } : null,
    agentId: str(agent?.id),
    model: json(input.model),
    virtualServer: str(server?.virtual),
    upstreamServer: str(server?.name),
    target: typeof tool?.name === 'string' ? { type: 'tool', name: tool.name } : null,
    arguments: json(input.arguments),
    effect,
    reasons: r.error ? [`evaluation failed: ${r.error}`] : reasons,
    bundleRevision: r.revision,
    timings: { policy_ms: Math.round(r.evalMs * 1000) / 1000 },
    details: {
      api: r.api,
      path: r.path,
      ...(r.requestedBy ? { requested_via: r.requestedBy.via } : {}),
      defined: r.defined,
      ...(r.api === 'http' ? { request: httpRequestFacts(input) } : {}),
      ...(r.defined && effect === null ? { result: json(r.result) } : {}),
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
