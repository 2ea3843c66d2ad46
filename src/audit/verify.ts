// Walks the hash chain and reports the first broken link, with a best diagnosis of what was done.
import type { KeyObject } from 'node:crypto';
import type { Kysely } from 'kysely';
import { chainHash, GENESIS_HASH } from './canonical.js';
import { type Checkpoint, verifyCheckpoint } from './checkpoint.js';
import { rowToEvent } from './query.js';
import type { AuditSchema } from './schema.js';
import type { AuditEvent } from './types.js';

/**
 * - `changed`: the row's content no longer matches its hash (or its successor's link).
 * - `deleted`: a row is missing before `seq`.
 * - `inserted`: the row at `seq` was not part of the original chain.
 * - `reordered`: the row at `seq` belongs elsewhere in the chain.
 * - `truncated`: the chain ends before a signed checkpoint; rows from `seq` on are gone.
 * - `rewritten`: the row at `seq` differs from a signed checkpoint although the chain links: history up
 *   to `seq` was recomputed.
 */
export type BreakKind = 'changed' | 'deleted' | 'inserted' | 'reordered' | 'truncated' | 'rewritten';

export interface ChainBreak {
  kind: BreakKind;
  seq: number;
  message: string;
}

export interface VerifyOptions {
  /** Signed checkpoints to hold the chain against (their signatures are checked first). */
  checkpoints?: Checkpoint[];
  /** The key that signed the checkpoints; required when checkpoints are given. */
  publicKey?: KeyObject;
  /** Start after a known-good position instead of at the genesis. */
  from?: { seq: number; hash: string };
  /** Called every `progressEvery` rows and at the end. */
  onProgress?: (checked: number, total: number) => void;
  progressEvery?: number;
  /** Rows fetched per round trip (default 2000). */
  pageSize?: number;
}

export interface VerifyReport {
  ok: boolean;
  /** Rows examined. */
  checked: number;
  /** The last row that verified (null if none). */
  head: { seq: number; hash: string } | null;
  checkpoints: number;
  break?: ChainBreak;
}

const LOOKAHEAD = 1000;

function selfValid(e: AuditEvent): boolean {
  try {
    return chainHash(e, e.prevHash) === e.hash;
  } catch {
    return false;
  }
}

interface Link {
  seq: number;
  hash: string;
  prevHash: string | undefined;
}

/** Checks every link; stops at the first break. */
export async function verifyChain(
  db: Kysely<AuditSchema>,
  options: VerifyOptions = {},
): Promise<VerifyReport> {
  const checkpoints = [...(options.checkpoints ?? [])].sort((a, b) => a.seq - b.seq);
  if (checkpoints.length > 0) {
    if (!options.publicKey) throw new Error('checkpoints given without the public key that signed them');
    for (const cp of checkpoints) {
      if (!verifyCheckpoint(cp, options.publicKey)) {
        throw new Error(`checkpoint for seq ${cp.seq} (${cp.time}) has an invalid signature or another key`);
      }
    }
  }
  const pageSize = options.pageSize ?? 2000;
  const progressEvery = options.progressEvery ?? 10000;
  const top = await db
    .selectFrom('audit_events')
    .select((eb) => eb.fn.max('seq').as('max'))
    .executeTakeFirst();
  const total = top?.max == null ? 0 : Number(top.max) - (options.from?.seq ?? 0);

  const fetchAfter = async (seq: number, limit: number): Promise<AuditEvent[]> =>
    (
      await db
        .selectFrom('audit_events')
        .selectAll()
        .where('seq', '>', seq)
        .orderBy('seq')
        .limit(limit)
        .execute()
    ).map(rowToEvent);

  let prev: Link = options.from
    ? { seq: options.from.seq, hash: options.from.hash, prevHash: undefined }
    : { seq: 0, hash: GENESIS_HASH, prevHash: undefined };
  let checked = 0;
  let cpIndex = checkpoints.findIndex((c) => c.seq > prev.seq);
  if (cpIndex < 0) cpIndex = checkpoints.length;
  const report = (extra: Partial<VerifyReport>): VerifyReport => ({
    ok: extra.break === undefined,
    checked,
    head: prev.seq > 0 ? { seq: prev.seq, hash: prev.hash } : null,
    checkpoints: checkpoints.length,
    ...extra,
  });

  for (;;) {
    const page = await fetchAfter(prev.seq, pageSize);
    if (page.length === 0) break;
    for (let i = 0; i < page.length; i++) {
      const r = page[i]!;
      checked++;
      const linked = r.prevHash === prev.hash;
      if (r.seq !== prev.seq + 1 || !linked || !selfValid(r)) {
        const later = [...page.slice(i + 1)];
        if (later.length < LOOKAHEAD)
          later.push(...(await fetchAfter(later.at(-1)?.seq ?? r.seq, LOOKAHEAD)));
        return report({ break: diagnose(prev, r, later) });
      }
      // Signed checkpoints pin the hash at their seq: a consistent rewrite of history shows here.
      while (cpIndex < checkpoints.length && checkpoints[cpIndex]!.seq <= r.seq) {
        const cp = checkpoints[cpIndex]!;
        if (cp.seq === r.seq && cp.hash !== r.hash) {
          return report({
            break: {
              kind: 'rewritten',
              seq: r.seq,
              message: `seq ${r.seq} has hash ${r.hash.slice(0, 12)}… but the checkpoint signed at ${cp.time} says ${cp.hash.slice(0, 12)}…: the chain was recomputed at or before seq ${r.seq}`,
            },
          });
        }
        cpIndex++;
      }
      prev = { seq: r.seq, hash: r.hash, prevHash: r.prevHash };
      if (checked % progressEvery === 0) options.onProgress?.(checked, total);
    }
  }
  options.onProgress?.(checked, total);
  const last = checkpoints.at(-1);
  if (last && last.seq > prev.seq) {
    return report({
      break: {
        kind: 'truncated',
        seq: prev.seq + 1,
        message: `the chain ends at seq ${prev.seq} but a checkpoint signed at ${last.time} covers seq ${last.seq}: rows from seq ${prev.seq + 1} were removed`,
      },
    });
  }
  return report({});
}

/** Names the first broken link at row `r`, following the last good row `p`; `later` are the next rows. */
function diagnose(p: Link, r: AuditEvent, later: AuditEvent[]): ChainBreak {
  const next = later[0];
  if (r.seq > p.seq + 1) {
    const missing = r.seq - p.seq - 1;
    return {
      kind: 'deleted',
      seq: p.seq + 1,
      message:
        missing === 1
          ? `seq ${p.seq + 1} is missing`
          : `seqs ${p.seq + 1} to ${r.seq - 1} are missing (${missing} rows)`,
    };
  }
  if (r.prevHash === p.hash) {
    // Linked to its predecessor, but its own hash does not match its content.
    if (next && next.prevHash === p.hash) {
      return {
        kind: 'inserted',
        seq: r.seq,
        message: `seq ${r.seq} is not part of the chain: seq ${next.seq} links past it`,
      };
    }
    return { kind: 'changed', seq: r.seq, message: `the content of seq ${r.seq} does not match its hash` };
  }
  if (p.prevHash !== undefined && r.prevHash === p.prevHash) {
    return {
      kind: 'inserted',
      seq: p.seq,
      message: `seq ${p.seq} is not part of the chain: seq ${r.seq} links to the row before it`,
    };
  }
  const moved = later.find((l) => l.hash === r.prevHash);
  if (moved) {
    return {
      kind: 'reordered',
      seq: r.seq,
      message: `seq ${r.seq} links to the row now at seq ${moved.seq}: rows were reordered`,
    };
  }
  if (next && next.prevHash === p.hash) {
    return {
      kind: 'inserted',
      seq: r.seq,
      message: `seq ${r.seq} is not part of the chain: seq ${next.seq} links past it`,
    };
  }
  if (selfValid(r) && p.seq > 0) {
    return {
      kind: 'changed',
      seq: p.seq,
      message: `seq ${p.seq} was changed and re-hashed: seq ${r.seq} links to a different version of it`,
    };
  }
  if (p.seq === 0) {
    return { kind: 'changed', seq: r.seq, message: `seq ${r.seq} does not start from the genesis hash` };
  }
  return {
    kind: 'deleted',
    seq: r.seq,
    message: `seq ${r.seq} links to a row that is no longer in the chain: a row before it was removed and later rows renumbered`,
  };
}
