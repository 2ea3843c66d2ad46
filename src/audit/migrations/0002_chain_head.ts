// Migration 0002: one round trip for "lock the chain, then read its head". The writer used to send
// the advisory lock and the head query as two statements; a VOLATILE plpgsql function runs each of
// its queries with a fresh snapshot, so the head it reads after taking the lock includes everything
// the previous lock holder committed.
/** Key of the transaction-scoped advisory lock that serialises appends (ASCII "airaudit"). */
const CHAIN_LOCK_KEY = '7019267257140537716';

export const name = '0002_chain_head';

export const statements: string[] = [
  `CREATE FUNCTION airlock_audit_chain_head(OUT head_seq bigint, OUT head_hash text, OUT head_time timestamptz)
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(${CHAIN_LOCK_KEY});
  SELECT seq, hash, time INTO head_seq, head_hash, head_time FROM audit_events ORDER BY seq DESC LIMIT 1;
END
$$`,
  `COMMENT ON FUNCTION airlock_audit_chain_head() IS 'Takes the transaction-scoped lock that serialises audit appends, then returns the chain head (NULLs when empty)'`,
];
