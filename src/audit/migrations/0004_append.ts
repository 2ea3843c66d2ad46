// Migration 0004: one round trip per commit. `airlock_audit_append(parts, at)` takes the chain lock,
// reads the head, and appends a batch of events, computing each row's seq, time, prev_hash and hash
// on the server, all in the one statement the writer sends (autocommit: no BEGIN, no COMMIT of its
// own). The writer hands each event as its canonical encoding cut around seq and time (canonical.ts,
// canonicalParts), so the server needs no JSON canonicalisation of its own: it splices the position
// in, hashes the UTF-8 bytes followed by the previous hash, and stores the columns parsed from that
// very text. The encoding and the chain are unchanged (version 1), so `verify` needs nothing new and
// rows written before and after this migration form one chain.
/** The same transaction-scoped advisory lock as airlock_audit_chain_head() (0002). */
const CHAIN_LOCK_KEY = '7019267257140537716';

export const name = '0004_append';

export const statements: string[] = [
  `CREATE FUNCTION airlock_audit_append(parts text[], at timestamptz)
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
  PERFORM pg_advisory_xact_lock(${CHAIN_LOCK_KEY});
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
$$`,
  `COMMENT ON FUNCTION airlock_audit_append(text[], timestamptz) IS 'Appends a batch of audit events to the chain in one statement: takes the chain lock, hashes each event (canonical encoding version 1, see docs/audit.md) and inserts it'`,
];
