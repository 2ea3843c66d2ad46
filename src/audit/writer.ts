// The gateway's write path: `record(event)` resolves once the event is committed in the chain.
//
// Group commit: events recorded while a transaction is in flight wait in a queue and go into the next
// transaction together (up to `maxBatch`), so a lone call pays one round of BEGIN … COMMIT and a busy
// gateway shares them. Every transaction takes a Postgres advisory lock before reading the chain head,
// so writers in this process, in other processes and on other replicas append one gap-free chain.
import { type Kysely, sql } from 'kysely';
import {
  type ChainContent,
  chainHash,
  DEFAULT_LIMITS,
  type EventLimits,
  GENESIS_HASH,
  measuredEvent,
} from './canonical.js';
import type { AuditSchema } from './schema.js';
import type { AuditEventInput, Json, Recorded } from './types.js';

export interface WriterOptions {
  /** Most events per transaction (default 256, at most 2730). */
  maxBatch?: number;
  /** Most bytes of canonical encoding per transaction (default 8 MiB; a larger single event goes alone). */
  maxBatchBytes?: number;
  /** Wait this long for more events before committing a batch (default 0: only what queued meanwhile). */
  lingerMs?: number;
  limits?: EventLimits;
  /** Source of event times (tests); times never go backwards along the chain whatever it returns. */
  clock?: () => Date;
  /**
   * `record` rejects if its event is not committed within this many milliseconds (default: no bound
   * beyond the database's own). An event still queued then is dropped; one whose transaction is in
   * flight may still commit (the trail then shows an event whose caller was told it failed, never the
   * reverse).
   */
  timeoutMs?: number;
}

/** `record` failed: the event is not in the audit trail, so the caller must not go ahead. */
export class AuditWriteError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AuditWriteError';
  }
}

/** Parameters per row (kept under Postgres' 65 535 bind parameters per statement). */
const COLUMNS = 24;
const MAX_BATCH = Math.floor(65_535 / COLUMNS);

interface Pending {
  content: ChainContent;
  bytes: number;
  resolve: (r: Recorded) => void;
  reject: (e: Error) => void;
  /** Its caller was already told it failed (deadline): do not write it. */
  expired?: boolean;
}

export interface WriterStats {
  events: number;
  batches: number;
  failedBatches: number;
  largestBatch: number;
  /** `record` calls that gave up waiting (see `timeoutMs`). */
  timeouts: number;
}

const jsonParam = (v: Json): string | null => (v === null ? null : JSON.stringify(v));

export class AuditWriter {
  readonly #db: Kysely<AuditSchema>;
  readonly #maxBatch: number;
  readonly #maxBatchBytes: number;
  readonly #lingerMs: number;
  readonly #limits: EventLimits;
  readonly #clock: () => Date;
  readonly #timeoutMs: number | undefined;
  #queue: Pending[] = [];
  #running: Promise<void> | undefined;
  #closed = false;
  readonly stats: WriterStats = {
    events: 0,
    batches: 0,
    failedBatches: 0,
    largestBatch: 0,
    timeouts: 0,
  };

  constructor(db: Kysely<AuditSchema>, options: WriterOptions = {}) {
    this.#db = db;
    this.#maxBatch = Math.min(MAX_BATCH, Math.max(1, Math.floor(options.maxBatch ?? 256)));
    this.#maxBatchBytes = Math.max(1, options.maxBatchBytes ?? 8 * 1024 * 1024);
    this.#lingerMs = Math.max(0, options.lingerMs ?? 0);
    this.#limits = options.limits ?? DEFAULT_LIMITS;
    this.#clock = options.clock ?? (() => new Date());
    this.#timeoutMs = options.timeoutMs && options.timeoutMs > 0 ? options.timeoutMs : undefined;
  }

  /**
   * Appends an event. Resolves with its place in the chain after COMMIT; rejects with
   * InvalidEventError for bad input or AuditWriteError when the database did not commit it.
   */
  record(event: AuditEventInput): Promise<Recorded> {
    if (this.#closed) return Promise.reject(new AuditWriteError('audit writer is closed'));
    let measured: { content: ChainContent; bytes: number };
    try {
      measured = measuredEvent(event, this.#limits);
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise<Recorded>((resolve, reject) => {
      const ms = this.#timeoutMs;
      if (ms === undefined) {
        this.#queue.push({ ...measured, resolve, reject });
      } else {
        const pending: Pending = {
          ...measured,
          resolve: (r) => {
            clearTimeout(timer);
            resolve(r);
          },
          reject: (e) => {
            clearTimeout(timer);
            reject(e);
          },
        };
        const timer = setTimeout(() => {
          pending.expired = true;
          const i = this.#queue.indexOf(pending);
          if (i >= 0) this.#queue.splice(i, 1); // never sent: it will not be written
          this.stats.timeouts++;
          reject(new AuditWriteError(`audit event not committed within ${ms} ms`));
        }, ms);
        this.#queue.push(pending);
      }
      if (!this.#running) this.#running = this.#drain();
    });
  }

  /** Resolves when every event recorded so far has been committed or rejected. */
  async flushed(): Promise<void> {
    while (this.#running) await this.#running;
  }

  /** Refuses new events and waits for the queued ones. Does not close the database. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.flushed();
  }

  async #drain(): Promise<void> {
    // Let the current tick's callers queue up first.
    await (this.#lingerMs > 0
      ? new Promise((r) => setTimeout(r, this.#lingerMs))
      : new Promise<void>((r) => queueMicrotask(r)));
    try {
      while (this.#queue.length > 0) {
        let n = 0;
        let bytes = 0;
        while (n < this.#queue.length && n < this.#maxBatch) {
          bytes += this.#queue[n]!.bytes;
          if (n > 0 && bytes > this.#maxBatchBytes) break;
          n++;
        }
        const batch = this.#queue.splice(0, n);
        await this.#commit(batch);
      }
    } finally {
      this.#running = undefined;
    }
  }

  async #commit(all: Pending[]): Promise<void> {
    let recorded: Recorded[];
    let batch = all;
    try {
      recorded = await this.#db.transaction().execute(async (tx) => {
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
        // Events whose callers gave up while this transaction waited are left out: nobody acts on them.
        batch = all.filter((p) => !p.expired);
        if (batch.length === 0) return [];
        let seq = head ? head.seq : 0;
        let prevHash = head ? head.hash : GENESIS_HASH;
        const now = this.#clock().getTime();
        const time = new Date(head ? Math.max(now, head.time.getTime()) : now);
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
    } catch (err) {
      this.stats.failedBatches++;
      const why = err instanceof Error ? err.message : String(err);
      const failure = new AuditWriteError(`audit event not committed: ${why}`, { cause: err });
      for (const p of all) p.reject(failure);
      return;
    }
    this.stats.batches++;
    this.stats.events += batch.length;
    this.stats.largestBatch = Math.max(this.stats.largestBatch, batch.length);
    for (const [i, p] of batch.entries()) p.resolve(recorded[i]!);
  }
}
