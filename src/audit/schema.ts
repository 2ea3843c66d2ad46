// The audit tables as kysely sees them (column names as in migrations/0001_audit_events.ts).
import type { ColumnType } from 'kysely';

/** A `jsonb` column: read as parsed JSON, written as JSON text (or NULL). */
type JsonColumn = ColumnType<unknown, string | null, never>;
/** A `bigint` column: `pg` reads it as a string, PGlite as a number. */
type BigIntColumn = ColumnType<string | number, number, never>;

export interface AuditEventsTable {
  seq: BigIntColumn;
  time: ColumnType<Date, Date, never>;
  kind: string;
  decision_id: string | null;
  phase: string | null;
  user_sub: string | null;
  user_claims: JsonColumn;
  /** Migration 0003. */
  requested_by: string | null;
  agent_id: string | null;
  actor: JsonColumn;
  model: JsonColumn;
  virtual_server: string | null;
  upstream_server: string | null;
  target_type: string | null;
  target_name: string | null;
  arguments: JsonColumn;
  result: JsonColumn;
  effect: string | null;
  reasons: JsonColumn;
  approval_id: string | null;
  bundle_revision: string | null;
  timings: JsonColumn;
  details: JsonColumn;
  prev_hash: string;
  hash: string;
}

export interface AuditSchema {
  audit_events: AuditEventsTable;
}
