// Migration 0001: the append-only, hash-chained audit_events table and its indexes.
// Each statement runs on its own (PGlite's extended protocol takes one statement per query).
import { EFFECTS, EVENT_KINDS, PHASES, TARGET_TYPES } from '../types.js';

const list = (values: readonly string[]) => values.map((v) => `'${v}'`).join(', ');

export const name = '0001_audit_events';

export const statements: string[] = [
  `CREATE TABLE audit_events (
  seq             bigint      PRIMARY KEY CHECK (seq > 0),
  time            timestamptz NOT NULL,
  kind            text        NOT NULL CHECK (kind IN (${list(EVENT_KINDS)})),
  decision_id     text,
  phase           text        CHECK (phase IN (${list(PHASES)})),
  user_sub        text,
  user_claims     jsonb,
  agent_id        text,
  actor           jsonb,
  model           jsonb,
  virtual_server  text,
  upstream_server text,
  target_type     text        CHECK (target_type IN (${list(TARGET_TYPES)})),
  target_name     text,
  arguments       jsonb,
  result          jsonb,
  effect          text        CHECK (effect IN (${list(EFFECTS)})),
  reasons         jsonb,
  approval_id     text,
  bundle_revision text,
  timings         jsonb,
  details         jsonb,
  prev_hash       text        NOT NULL CHECK (prev_hash ~ '^[0-9a-f]{64}$'),
  hash            text        NOT NULL CHECK (hash ~ '^[0-9a-f]{64}$')
)`,
  `COMMENT ON TABLE audit_events IS 'Airlock audit trail: append-only, SHA-256 hash-chained (see docs/audit.md)'`,
  // Indexes for the typical questions: who / which agent / which tool, in a time window; one decision.
  // (time, seq) order equals seq order because the writer never lets time go backwards.
  'CREATE INDEX audit_events_time_idx ON audit_events (time, seq)',
  'CREATE INDEX audit_events_user_time_idx ON audit_events (user_sub, time, seq)',
  'CREATE INDEX audit_events_agent_time_idx ON audit_events (agent_id, time, seq)',
  'CREATE INDEX audit_events_target_time_idx ON audit_events (target_name, time, seq)',
  'CREATE INDEX audit_events_decision_idx ON audit_events (decision_id)',
  'CREATE INDEX audit_events_approval_idx ON audit_events (approval_id) WHERE approval_id IS NOT NULL',
  // Append-only: every UPDATE, DELETE and TRUNCATE statement is refused, whoever runs it.
  `CREATE FUNCTION airlock_audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_events is append-only: % refused', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END
$$`,
  `CREATE TRIGGER audit_events_append_only
  BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_events
  FOR EACH STATEMENT EXECUTE FUNCTION airlock_audit_refuse_change()`,
  // Gap-free chain: a new row must extend the current head (seq - 1 exists, its hash is our prev_hash,
  // time does not go backwards). The writer serialises inserts; this makes a buggy writer fail loudly.
  `CREATE FUNCTION airlock_audit_check_link() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  prev record;
BEGIN
  IF NEW.seq = 1 THEN
    IF NEW.prev_hash <> repeat('0', 64) THEN
      RAISE EXCEPTION 'audit_events: seq 1 must have the genesis prev_hash' USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
  END IF;
  SELECT hash, time INTO prev FROM audit_events WHERE seq = NEW.seq - 1;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'audit_events: seq % does not extend the chain (no seq %)', NEW.seq, NEW.seq - 1
      USING ERRCODE = 'integrity_constraint_violation';
  END IF;
  IF prev.hash <> NEW.prev_hash THEN
    RAISE EXCEPTION 'audit_events: prev_hash of seq % does not match the hash of seq %', NEW.seq, NEW.seq - 1
      USING ERRCODE = 'integrity_constraint_violation';
  END IF;
  IF NEW.time < prev.time THEN
    RAISE EXCEPTION 'audit_events: time of seq % is before its predecessor', NEW.seq
      USING ERRCODE = 'integrity_constraint_violation';
  END IF;
  RETURN NEW;
END
$$`,
  `CREATE TRIGGER audit_events_link
  BEFORE INSERT ON audit_events
  FOR EACH ROW EXECUTE FUNCTION airlock_audit_check_link()`,
  'REVOKE ALL ON audit_events FROM PUBLIC',
];
