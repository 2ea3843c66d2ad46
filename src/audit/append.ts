// How a batch of events is appended to the chain. Two ways, the same rows:
//
// - `function` (the default): one statement, `airlock_audit_append(parts, at)` (migration 0004), sent in
//   autocommit. The server takes the chain lock, reads the head, hashes and inserts every event, and
//   the statement's implicit commit releases the lock: one round trip per batch.
// - `transaction`: what the writer did before 0004, kept as the baseline `bench:audit` measures against:
//   BEGIN; lock and read the head (airlock_audit_chain_head, 0002); hash on the client; INSERT; COMMIT —
//   four round trips with the chain lock held across them.
import { type Kysely, sql } from 'kysely';
import { type CanonicalParts, type ChainContent, chainHash, GENESIS_HASH } from './canonical.js';
import type { AuditSchema } from './schema.js';
import type { Json, Recorded } from './types.js';

export type AppendPath = 'function' | 'transaction';

export interface Appendable {
  content: ChainContent;
  parts: CanonicalParts;
}

const jsonParam = (v: Json): string | null => (v === null ? null : JSON.stringify(v));

/**
 * Appends `take()`'s events (called once the connection, or for `transaction` the chain lock, is held:
 * what it leaves out is never sent) at time `now` (raised to the head's time if that is later).
 * Resolves with each appended event's place, in order, after COMMIT.
 */
export function appendBatch(
  db: Kysely<AuditSchema>,
  path: AppendPath,
  take: () => Appendable[],
  now: Date,
): Promise<Recorded[]> {
  return path === 'function' ? appendByFunction(db, take, now) : appendInTransaction(db, take, now);
}

function appendByFunction(db: Kysely<AuditSchema>, take: () => Appendable[], now: Date): Promise<Recorded[]> {
  return db.connection().execute(async (conn) => {
    const batch = take();
    if (batch.length === 0) return [];
    const parts: string[] = [];
    for (const { parts: p } of batch) parts.push(p.beforeSeq, p.beforeTime, p.rest);
    const { rows } = await sql<{
      appended_seq: string | number;
      appended_hash: string;
      appended_time: Date | string;
    }>`SELECT appended_seq, appended_hash, appended_time FROM airlock_audit_append(${parts}::text[], ${now.toISOString()}::timestamptz)`.execute(
      conn,
    );
    if (rows.length !== batch.length)
      throw new Error(`the append function returned ${rows.length} rows for ${batch.length} events`);
    return rows.map((r) => ({
      seq: Number(r.appended_seq),
      hash: r.appended_hash,
      time: new Date(r.appended_time),
    }));
  });
}

function appendInTransaction(
  db: Kysely<AuditSchema>,
  take: () => Appendable[],
  now: Date,
): Promise<Recorded[]> {
  return db.transaction().execute(async (tx) => {
    // Lock the chain and read its head in one round trip (migration 0002_chain_head).
    const { rows: heads } = await sql<{
      head_seq: string | number | null;
      head_hash: string | null;
      head_time: Date | string | null;
    }>`SELECT head_seq, head_hash, head_time FROM airlock_audit_chain_head()`.execute(tx);
    const h = heads[0];
    const head =
      h && h.head_seq !== null && h.head_hash !== null && h.head_time !== null
        ? { seq: Number(h.head_seq), hash: h.head_hash, time: new Date(h.head_time) }
        : undefined;
    const batch = take();
    if (batch.length === 0) return [];
    let seq = head ? head.seq : 0;
    let prevHash = head ? head.hash : GENESIS_HASH;
    const time = new Date(head ? Math.max(now.getTime(), head.time.getTime()) : now.getTime());
    const out: Recorded[] = [];
    const rows = batch.map(({ content: c }) => {
      seq++;
      const hash = chainHash({ ...c, seq, time }, prevHash);
      const row = {
        seq,
        time,
        kind: c.kind,
        decision_id: c.decisionId,
        phase: c.phase,
        user_sub: c.userSub,
        user_claims: jsonParam(c.userClaims),
        requested_by: c.requestedBy,
        agent_id: c.agentId,
        actor: jsonParam(c.actor),
        model: jsonParam(c.model),
        virtual_server: c.virtualServer,
        upstream_server: c.upstreamServer,
        target_type: c.targetType,
        target_name: c.targetName,
        arguments: jsonParam(c.arguments),
        result: jsonParam(c.result),
        effect: c.effect,
        reasons: jsonParam(c.reasons),
        approval_id: c.approvalId,
        bundle_revision: c.bundleRevision,
        timings: jsonParam(c.timings),
        details: jsonParam(c.details),
        prev_hash: prevHash,
        hash,
      };
      out.push({ seq, hash, time });
      prevHash = hash;
      return row;
    });
    await tx.insertInto('audit_events').values(rows).execute();
    return out;
  });
}
