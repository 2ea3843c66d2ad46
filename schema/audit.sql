-- Airlock audit trail schema (what `airlock migrate` does, as plain SQL for DBAs).
-- Run it as the role that will OWN the table, never as the gateway role: the owner can disable
-- triggers, so keep it for migrations. Applying it by hand is equivalent to `airlock migrate`
-- (migrations are recorded in airlock_audit_migration); running it twice fails harmlessly.

CREATE TABLE IF NOT EXISTS airlock_audit_migration (name varchar(255) NOT NULL PRIMARY KEY, timestamp varchar(255) NOT NULL);
CREATE TABLE IF NOT EXISTS airlock_audit_migration_lock (id varchar(255) NOT NULL PRIMARY KEY, is_locked integer NOT NULL DEFAULT 0);
INSERT INTO airlock_audit_migration_lock (id, is_locked) VALUES ('migration_lock', 0) ON CONFLICT DO NOTHING;

-- migration 0001_audit_events
BEGIN;
CREATE TABLE audit_events (
  seq             bigint      PRIMARY KEY CHECK (seq > 0),
  time            timestamptz NOT NULL,
  kind            text        NOT NULL CHECK (kind IN ('decision', 'call_result', 'approval_requested', 'approval_granted', 'approval_denied', 'approval_expired', 'data_change', 'bundle_activated')),
  decision_id     text,
  phase           text        CHECK (phase IN ('request', 'response')),
  user_sub        text,
  user_claims     jsonb,
  agent_id        text,
  actor           jsonb,
  model           jsonb,
  virtual_server  text,
  upstream_server text,
  target_type     text        CHECK (target_type IN ('tool', 'resource', 'prompt')),
  target_name     text,
  arguments       jsonb,
  result          jsonb,
  effect          text        CHECK (effect IN ('allow', 'deny', 'redact', 'require_approval')),
  reasons         jsonb,
  approval_id     text,
  bundle_revision text,
  timings         jsonb,
  details         jsonb,
  prev_hash       text        NOT NULL CHECK (prev_hash ~ '^[0-9a-f]{64}$'),
  hash            text        NOT NULL CHECK (hash ~ '^[0-9a-f]{64}$')
);
COMMENT ON TABLE audit_events IS 'Airlock audit trail: append-only, SHA-256 hash-chained (see docs/audit.md)';
CREATE INDEX audit_events_time_idx ON audit_events (time, seq);
CREATE INDEX audit_events_user_time_idx ON audit_events (user_sub, time, seq);
CREATE INDEX audit_events_agent_time_idx ON audit_events (agent_id, time, seq);
CREATE INDEX audit_events_target_time_idx ON audit_events (target_name, time, seq);
CREATE INDEX audit_events_decision_idx ON audit_events (decision_id);
CREATE INDEX audit_events_approval_idx ON audit_events (approval_id) WHERE approval_id IS NOT NULL;
CREATE FUNCTION airlock_audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_events is append-only: % refused', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_events_append_only
  BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_events
  FOR EACH STATEMENT EXECUTE FUNCTION airlock_audit_refuse_change();
CREATE FUNCTION airlock_audit_check_link() RETURNS trigger LANGUAGE plpgsql AS $$
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
$$;
CREATE TRIGGER audit_events_link
  BEFORE INSERT ON audit_events
  FOR EACH ROW EXECUTE FUNCTION airlock_audit_check_link();
REVOKE ALL ON audit_events FROM PUBLIC;
INSERT INTO airlock_audit_migration (name, timestamp) VALUES ('0001_audit_events', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'));
COMMIT;

-- migration 0002_chain_head
BEGIN;
CREATE FUNCTION airlock_audit_chain_head(OUT head_seq bigint, OUT head_hash text, OUT head_time timestamptz)
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(7019267257140537716);
  SELECT seq, hash, time INTO head_seq, head_hash, head_time FROM audit_events ORDER BY seq DESC LIMIT 1;
END
$$;
COMMENT ON FUNCTION airlock_audit_chain_head() IS 'Takes the transaction-scoped lock that serialises audit appends, then returns the chain head (NULLs when empty)';
INSERT INTO airlock_audit_migration (name, timestamp) VALUES ('0002_chain_head', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'));
COMMIT;

-- migration 0003_requested_by
BEGIN;
ALTER TABLE audit_events ADD COLUMN requested_by text;
CREATE INDEX audit_events_requested_by_time_idx ON audit_events (requested_by, time, seq) WHERE requested_by IS NOT NULL;
INSERT INTO airlock_audit_migration (name, timestamp) VALUES ('0003_requested_by', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'));
COMMIT;

-- migration 0004_append
BEGIN;
CREATE FUNCTION airlock_audit_append(parts text[], at timestamptz)
RETURNS TABLE (appended_seq bigint, appended_hash text, appended_time timestamptz)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  n integer := coalesce(array_length(parts, 1), 0);
  s bigint;
  prev text;
  t timestamptz;
  t_text text;
  canonical text;
  e jsonb;
  h text;
BEGIN
  IF n = 0 OR n % 3 <> 0 THEN
    RAISE EXCEPTION 'airlock_audit_append: expected three parts per event, got %', n
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF at IS NULL THEN
    RAISE EXCEPTION 'airlock_audit_append: the time is required' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  PERFORM pg_advisory_xact_lock(7019267257140537716);
  -- A new snapshot after the lock: the head includes what the previous holder committed.
  SELECT a.seq, a.hash, a.time INTO s, prev, t FROM audit_events a ORDER BY a.seq DESC LIMIT 1;
  IF NOT FOUND THEN
    s := 0;
    prev := repeat('0', 64);
    t := NULL;
  END IF;
  -- Millisecond precision, never before the head (the same rule as the writer's clock).
  t := greatest(date_trunc('milliseconds', at), t);
  t_text := to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"');
  FOR i IN 0 .. n / 3 - 1 LOOP
    s := s + 1;
    canonical := parts[3 * i + 1] || s::text || parts[3 * i + 2] || t_text || parts[3 * i + 3];
    h := encode(sha256(convert_to(canonical, 'UTF8') || decode(prev, 'hex')), 'hex');
    e := canonical::jsonb;
    IF (e->>'seq')::bigint IS DISTINCT FROM s OR e->>'time' IS DISTINCT FROM t_text OR e->>'v' IS DISTINCT FROM '1' THEN
      RAISE EXCEPTION 'airlock_audit_append: event % is not a canonical encoding cut around seq and time', i + 1
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO audit_events (seq, time, kind, decision_id, phase, user_sub, user_claims, requested_by,
      agent_id, actor, model, virtual_server, upstream_server, target_type, target_name, arguments, result,
      effect, reasons, approval_id, bundle_revision, timings, details, prev_hash, hash)
    VALUES (s, t, e->>'kind', e->>'decision_id', e->>'phase', e->>'user_sub',
      nullif(e->'user_claims', 'null'::jsonb), e->>'requested_by', e->>'agent_id',
      nullif(e->'actor', 'null'::jsonb), nullif(e->'model', 'null'::jsonb), e->>'virtual_server',
      e->>'upstream_server', e->>'target_type', e->>'target_name', nullif(e->'arguments', 'null'::jsonb),
      nullif(e->'result', 'null'::jsonb), e->>'effect', nullif(e->'reasons', 'null'::jsonb),
      e->>'approval_id', e->>'bundle_revision', nullif(e->'timings', 'null'::jsonb),
      nullif(e->'details', 'null'::jsonb), prev, h);
    appended_seq := s;
    appended_hash := h;
    appended_time := t;
    RETURN NEXT;
    prev := h;
  END LOOP;
END
$$;
COMMENT ON FUNCTION airlock_audit_append(text[], timestamptz) IS 'Appends a batch of audit events to the chain in one statement: takes the chain lock, hashes each event (canonical encoding version 1, see docs/audit.md) and inserts it';
INSERT INTO airlock_audit_migration (name, timestamp) VALUES ('0004_append', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'));
COMMIT;

-- migration 0005_model_index
BEGIN;
CREATE INDEX audit_events_model_time_idx ON audit_events ((model ->> 'name'), time, seq) WHERE model IS NOT NULL;
INSERT INTO airlock_audit_migration (name, timestamp) VALUES ('0005_model_index', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'));
COMMIT;

-- The gateway's role: INSERT and SELECT only (no UPDATE, DELETE, TRUNCATE; not the owner).
-- Create it once per cluster (needs CREATEROLE), choose the password yourself:
-- CREATE ROLE airlock_gateway LOGIN PASSWORD '…';
GRANT USAGE ON SCHEMA public TO airlock_gateway;
GRANT SELECT, INSERT ON public.audit_events TO airlock_gateway;
GRANT SELECT ON public.airlock_audit_migration TO airlock_gateway;
GRANT EXECUTE ON FUNCTION public.airlock_audit_chain_head() TO airlock_gateway;
GRANT EXECUTE ON FUNCTION public.airlock_audit_append(text[], timestamptz) TO airlock_gateway;

-- Airlock approvals (parked tool calls), as `airlock migrate` creates them.
-- (migrations are recorded in airlock_approvals_migration).

CREATE TABLE IF NOT EXISTS airlock_approvals_migration (name varchar(255) NOT NULL PRIMARY KEY, timestamp varchar(255) NOT NULL);
CREATE TABLE IF NOT EXISTS airlock_approvals_migration_lock (id varchar(255) NOT NULL PRIMARY KEY, is_locked integer NOT NULL DEFAULT 0);
INSERT INTO airlock_approvals_migration_lock (id, is_locked) VALUES ('migration_lock', 0) ON CONFLICT DO NOTHING;

-- migration 0001_approvals
BEGIN;
CREATE TABLE airlock_approvals (
  id              uuid        PRIMARY KEY,
  status          text        NOT NULL CHECK (status IN ('pending', 'approved', 'denied', 'consumed')),
  decision_id     text        NOT NULL,
  virtual_server  text        NOT NULL,
  upstream_server text        NOT NULL,
  tool            text        NOT NULL,
  arguments       jsonb       NOT NULL,
  arguments_hash  text        NOT NULL CHECK (arguments_hash ~ '^[0-9a-f]{64}$'),
  call            jsonb       NOT NULL,
  requester_sub   text        NOT NULL,
  requester_agent text        NOT NULL,
  approvers       jsonb       NOT NULL,
  reasons         jsonb       NOT NULL,
  created_at      timestamptz NOT NULL,
  expires_at      timestamptz NOT NULL,
  answered_by     jsonb,
  answered_at     timestamptz,
  answer_reasons  jsonb       NOT NULL DEFAULT '[]',
  consumed_at     timestamptz,
  claim_token     uuid,
  claim_until     timestamptz,
  CHECK (expires_at > created_at),
  CHECK ((status = 'consumed') = (consumed_at IS NOT NULL))
);
CREATE INDEX airlock_approvals_open_idx ON airlock_approvals
  (requester_sub, requester_agent, virtual_server, upstream_server, tool, arguments_hash)
  WHERE status IN ('pending', 'approved');
CREATE INDEX airlock_approvals_created_idx ON airlock_approvals (created_at, id);
COMMENT ON TABLE airlock_approvals IS 'Airlock tool calls parked for approval: one row per call, answered by approvers, run at most once';
INSERT INTO airlock_approvals_migration (name, timestamp) VALUES ('0001_approvals', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'));
COMMIT;

-- The gateway role parks calls, answers them and marks them consumed: SELECT, INSERT and UPDATE of
-- the answer columns only (the parked arguments cannot be rewritten), no DELETE.
GRANT SELECT, INSERT, UPDATE (status, answered_by, answered_at, answer_reasons, consumed_at, claim_token, claim_until) ON public.airlock_approvals TO airlock_gateway;
GRANT SELECT ON public.airlock_approvals_migration TO airlock_gateway;
