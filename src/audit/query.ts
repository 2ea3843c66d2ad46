// Reading the audit trail: filtered, paginated by sequence number (what `GET /v1/audit` serves).
import { type Kysely, type Selectable, sql } from 'kysely';
import type { AuditEventsTable, AuditSchema } from './schema.js';
import type { AuditEvent, Effect, EventKind, Json, Phase, TargetType } from './types.js';
import { EFFECTS, EVENT_KINDS } from './types.js';

export type EventRow = Selectable<AuditEventsTable>;

/** A stored row as an AuditEvent (bigint and jsonb as the two drivers return them, normalised). */
export function rowToEvent(r: EventRow): AuditEvent {
  return {
    seq: Number(r.seq),
    time: r.time instanceof Date ? r.time : new Date(r.time as unknown as string),
    kind: r.kind as EventKind,
    decisionId: r.decision_id,
    phase: r.phase as Phase | null,
    userSub: r.user_sub,
    userClaims: (r.user_claims ?? null) as Json,
    requestedBy: r.requested_by ?? null,
    agentId: r.agent_id,
    actor: (r.actor ?? null) as Json,
    model: (r.model ?? null) as Json,
    virtualServer: r.virtual_server,
    upstreamServer: r.upstream_server,
    targetType: r.target_type as TargetType | null,
    targetName: r.target_name,
    arguments: (r.arguments ?? null) as Json,
    result: (r.result ?? null) as Json,
    effect: r.effect as Effect | null,
    reasons: (r.reasons ?? null) as Json,
    approvalId: r.approval_id,
    bundleRevision: r.bundle_revision,
    timings: (r.timings ?? null) as Json,
    details: (r.details ?? null) as Json,
    prevHash: r.prev_hash,
    hash: r.hash,
  };
}

export interface AuditQuery {
  /** User `sub` (the subject the decision input claims). */
  user?: string | undefined;
  /** The authenticated caller who asked for the decision over the API. */
  requestedBy?: string | undefined;
  agent?: string | undefined;
  /** The model's name (`model.name`, e.g. claude-sonnet-4). */
  model?: string | undefined;
  /** Tool, resource or prompt name. */
  tool?: string | undefined;
  /** Virtual or upstream server name. */
  server?: string | undefined;
  decisionId?: string | undefined;
  approvalId?: string | undefined;
  kind?: EventKind | undefined;
  effect?: Effect | undefined;
  /** Inclusive lower bound on the event time. */
  since?: Date | undefined;
  /** Exclusive upper bound on the event time. */
  until?: Date | undefined;
  /** Cursor: only events after this sequence number (in the chosen order). */
  after?: number | undefined;
  /** Page size, 1…1000 (default 100). */
  limit?: number | undefined;
  /** `asc` (oldest first, default) or `desc`. */
  order?: 'asc' | 'desc' | undefined;
}

export interface AuditPage {
  events: AuditEvent[];
  /** Pass as `after` for the next page; null when this page is the last. */
  next: number | null;
}

export const MAX_PAGE = 1000;

/** Raised for a query that cannot be run as given. */
export class InvalidQueryError extends Error {
  constructor(message: string) {
    super(`invalid audit query: ${message}`);
    this.name = 'InvalidQueryError';
  }
}

function checkQuery(q: AuditQuery): void {
  const limit = q.limit ?? 100;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) {
    throw new InvalidQueryError(`limit must be an integer from 1 to ${MAX_PAGE}, got ${q.limit}`);
  }
  if (q.after !== undefined && (!Number.isSafeInteger(q.after) || q.after < 0)) {
    throw new InvalidQueryError(`after must be a non-negative integer, got ${q.after}`);
  }
  for (const [k, d] of [
    ['since', q.since],
    ['until', q.until],
  ] as const) {
    if (d !== undefined && !(d instanceof Date && !Number.isNaN(d.getTime()))) {
      throw new InvalidQueryError(`${k} is not a valid time`);
    }
  }
  if (q.kind !== undefined && !(EVENT_KINDS as readonly string[]).includes(q.kind)) {
    throw new InvalidQueryError(`kind must be one of ${EVENT_KINDS.join(', ')}`);
  }
  if (q.effect !== undefined && !(EFFECTS as readonly string[]).includes(q.effect)) {
    throw new InvalidQueryError(`effect must be one of ${EFFECTS.join(', ')}`);
  }
  if (q.order !== undefined && q.order !== 'asc' && q.order !== 'desc') {
    throw new InvalidQueryError(`order must be asc or desc`);
  }
}

/** Builds the query (exported so tests can EXPLAIN exactly what runs). */
export function buildQuery(db: Kysely<AuditSchema>, q: AuditQuery) {
  checkQuery(q);
  const desc = q.order === 'desc';
  let qb = db.selectFrom('audit_events').selectAll();
  if (q.user !== undefined) qb = qb.where('user_sub', '=', q.user);
  if (q.requestedBy !== undefined) qb = qb.where('requested_by', '=', q.requestedBy);
  if (q.agent !== undefined) qb = qb.where('agent_id', '=', q.agent);
  // The very expression audit_events_model_time_idx indexes (migration 0005).
  if (q.model !== undefined) qb = qb.where(sql<string>`(model ->> 'name')`, '=', q.model);
  if (q.tool !== undefined) qb = qb.where('target_name', '=', q.tool);
  if (q.server !== undefined) {
    const server = q.server;
    qb = qb.where((eb) => eb.or([eb('virtual_server', '=', server), eb('upstream_server', '=', server)]));
  }
  if (q.decisionId !== undefined) qb = qb.where('decision_id', '=', q.decisionId);
  if (q.approvalId !== undefined) qb = qb.where('approval_id', '=', q.approvalId);
  if (q.kind !== undefined) qb = qb.where('kind', '=', q.kind);
  if (q.effect !== undefined) qb = qb.where('effect', '=', q.effect);
  if (q.since !== undefined) qb = qb.where('time', '>=', q.since);
  if (q.until !== undefined) qb = qb.where('time', '<', q.until);
  if (q.after !== undefined) {
    // Time never decreases along the chain, so the cursor's time bounds the scan of the (…, time, seq)
    // indexes; the seq condition is the exact cursor.
    const after = q.after;
    const cursorTime = sql<Date>`coalesce((select c.time from audit_events c where c.seq = ${after}), ${sql.raw(
      desc ? "'infinity'" : "'-infinity'",
    )}::timestamptz)`;
    qb = desc
      ? qb.where('seq', '<', after).where('time', '<=', cursorTime)
      : qb.where('seq', '>', after).where('time', '>=', cursorTime);
  }
  const dir = desc ? 'desc' : 'asc';
  return qb
    .orderBy('time', dir)
    .orderBy('seq', dir)
    .limit(q.limit ?? 100);
}

/** One page of events matching `q`, ordered by sequence number. */
export async function queryEvents(db: Kysely<AuditSchema>, q: AuditQuery = {}): Promise<AuditPage> {
  const limit = q.limit ?? 100;
  const rows = await buildQuery(db, q).execute();
  const events = rows.map(rowToEvent);
  const last = events[events.length - 1];
  return { events, next: events.length === limit && last ? last.seq : null };
}

/** The newest event's position, or null for an empty trail. */
export async function chainHead(
  db: Kysely<AuditSchema>,
): Promise<{ seq: number; hash: string; time: Date } | null> {
  const row = await db
    .selectFrom('audit_events')
    .select(['seq', 'hash', 'time'])
    .orderBy('seq', 'desc')
    .limit(1)
    .executeTakeFirst();
  return row ? { seq: Number(row.seq), hash: row.hash, time: row.time } : null;
}

const PARAMS = [
  'user',
  'requested_by',
  'agent',
  'model',
  'tool',
  'server',
  'decision_id',
  'approval_id',
  'kind',
  'effect',
  'since',
  'until',
  'after',
  'limit',
  'order',
] as const;

/**
 * The Date for an ISO 8601 / RFC 3339 text, or undefined when a field is out of range (`Date` would
 * silently turn 2026-02-30 into March 2nd).
 */
export function checkedDate(text: string): Date | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2}))?)?/i.exec(text);
  if (!m) return undefined;
  const [year, month, day, hour, minute, second] = m.slice(1).map((x) => Number(x ?? 0)) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  if (month < 1 || month > 12 || day < 1 || day > new Date(Date.UTC(year, month, 0)).getUTCDate())
    return undefined;
  if (hour > 23 || minute > 59 || second > 59) return undefined;
  const d = new Date(text);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/i;

function param(value: string, name: string): string {
  if (value.length === 0 || value.length > 1024)
    throw new InvalidQueryError(`${name} must be 1 to 1024 characters`);
  return value;
}

/**
 * An AuditQuery from HTTP query parameters (`GET /v1/audit?user=alice&since=…&after=1200&limit=100`):
 * times are RFC 3339 with a zone, `after`/`limit` decimal integers; unknown or repeated parameters
 * are errors, so a typo never silently widens a query.
 */
export function auditQueryFromParams(
  params: URLSearchParams | Record<string, string | undefined>,
): AuditQuery {
  const entries: [string, string][] =
    params instanceof URLSearchParams
      ? [...params.entries()]
      : Object.entries(params).filter((e): e is [string, string] => e[1] !== undefined);
  const seen = new Set<string>();
  const q: AuditQuery = {};
  const time = (v: string, name: string) => {
    if (!RFC3339.test(v))
      throw new InvalidQueryError(`${name} must be an RFC 3339 time with a zone, like 2026-01-06T16:00:00Z`);
    const d = checkedDate(v);
    if (!d) throw new InvalidQueryError(`${name} is not a valid time`);
    return d;
  };
  const int = (v: string, name: string) => {
    if (!/^\d{1,15}$/.test(v)) throw new InvalidQueryError(`${name} must be a non-negative integer`);
    return Number(v);
  };
  for (const [name, value] of entries) {
    if (!(PARAMS as readonly string[]).includes(name)) {
      throw new InvalidQueryError(
        `unknown parameter ${JSON.stringify(name.slice(0, 64))} (known: ${PARAMS.join(', ')})`,
      );
    }
    if (seen.has(name)) throw new InvalidQueryError(`${name} given more than once`);
    seen.add(name);
    const v = param(value, name);
    switch (name as (typeof PARAMS)[number]) {
      case 'user':
        q.user = v;
        break;
      case 'requested_by':
        q.requestedBy = v;
        break;
      case 'agent':
        q.agent = v;
        break;
      case 'model':
        q.model = v;
        break;
      case 'tool':
        q.tool = v;
        break;
      case 'server':
        q.server = v;
        break;
      case 'decision_id':
        q.decisionId = v;
        break;
      case 'approval_id':
        q.approvalId = v;
        break;
      case 'kind':
        q.kind = v as EventKind;
        break;
      case 'effect':
        q.effect = v as Effect;
        break;
      case 'since':
        q.since = time(v, name);
        break;
      case 'until':
        q.until = time(v, name);
        break;
      case 'after':
        q.after = int(v, name);
        break;
      case 'limit':
        q.limit = int(v, name);
        break;
      case 'order':
        q.order = v as 'asc' | 'desc';
        break;
    }
  }
  checkQuery(q);
  return q;
}
