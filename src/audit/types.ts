// The shapes of audit events: what the gateway records and what a query returns.

/** What happened. One decision usually yields a `decision` event and, once the call ran, a `call_result`. */
export const EVENT_KINDS = [
  'decision',
  'call_result',
  'approval_requested',
  'approval_granted',
  'approval_denied',
  'approval_expired',
  'data_change',
  'bundle_activated',
] as const;
export type EventKind = (typeof EVENT_KINDS)[number];

export const EFFECTS = ['allow', 'deny', 'redact', 'require_approval'] as const;
export type Effect = (typeof EFFECTS)[number];

export const PHASES = ['request', 'response'] as const;
export type Phase = (typeof PHASES)[number];

export const TARGET_TYPES = ['tool', 'resource', 'prompt'] as const;
export type TargetType = (typeof TARGET_TYPES)[number];

/** A JSON value as stored in a `jsonb` column. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/**
 * One event as the gateway hands it to `AuditWriter.record`. Arguments and result must already be
 * redacted as the policy asked: the audit store persists exactly what it is given.
 */
export interface AuditEventInput {
  kind: EventKind;
  decisionId?: string | null;
  phase?: Phase | null;
  user?: { sub: string; claims?: Json } | null;
  /**
   * Who asked, when that is not the user: the authenticated API caller of a decision asked over the
   * decision API (a gateway, a proxy), recorded apart from the user the input claims.
   */
  requestedBy?: string | null;
  agentId?: string | null;
  /** The RFC 8693 actor chain (`act` claim), outermost first. */
  actor?: Json;
  model?: Json;
  virtualServer?: string | null;
  upstreamServer?: string | null;
  target?: { type: TargetType; name: string } | null;
  arguments?: Json;
  result?: Json;
  effect?: Effect | null;
  reasons?: string[] | null;
  approvalId?: string | null;
  bundleRevision?: string | null;
  /** Durations in milliseconds, e.g. `{ "policy_ms": 0.4, "upstream_ms": 120 }`. */
  timings?: Json;
  /** Kind-specific detail (the data path changed, the bundle's manifest, …). */
  details?: Json;
}

/** A stored event, as verify hashes it and as query returns it. Absent fields are `null`. */
export interface AuditEvent {
  seq: number;
  /** When the event was committed to the chain (ms precision, never earlier than its predecessor's). */
  time: Date;
  kind: EventKind;
  decisionId: string | null;
  phase: Phase | null;
  userSub: string | null;
  userClaims: Json;
  /** The authenticated caller who asked for the decision (null for the gateway's own events). */
  requestedBy: string | null;
  agentId: string | null;
  actor: Json;
  model: Json;
  virtualServer: string | null;
  upstreamServer: string | null;
  targetType: TargetType | null;
  targetName: string | null;
  arguments: Json;
  result: Json;
  effect: Effect | null;
  reasons: Json;
  approvalId: string | null;
  bundleRevision: string | null;
  timings: Json;
  details: Json;
  /** Hex SHA-256 of the previous event (64 zeros for the first). */
  prevHash: string;
  /** Hex SHA-256 of this event's canonical encoding followed by `prevHash`. */
  hash: string;
}

/** What `record` resolves to once the event is committed. */
export interface Recorded {
  seq: number;
  hash: string;
  time: Date;
}
