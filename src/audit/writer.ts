// The gateway's write path: `record(event)` resolves once the event is committed in the chain.
//
// Group commit: events recorded while a batch is in flight wait in a queue and go into the next batch
// together (up to `maxBatch`), so a lone call pays one commit and a busy gateway shares them. A batch
// is one statement, the server-side append of migration 0004 (append.ts): it takes a Postgres advisory
// lock before reading the chain head, so writers in this process, in other processes and on other
// replicas append one gap-free chain, and the lock is released by that statement's own commit.
import type { Kysely } from 'kysely';
import { type AppendPath, appendBatch } from './append.js';
import {
  type CanonicalParts,
  type ChainContent,
  DEFAULT_LIMITS,
  type EventLimits,
  measuredEvent,
} from './canonical.js';
import type { AuditSchema } from './schema.js';
import type { AuditEventInput, Recorded } from './types.js';

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
  /**
   * How a batch reaches the chain (append.ts): `function` (default) is one statement, the server-side
   * append of migration 0004; `transaction` is the four-round-trip path it replaced, kept as a baseline.
   */
  path?: AppendPath;
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
  parts: CanonicalParts;
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

export class AuditWriter {
  readonly #db: Kysely<AuditSchema>;
  readonly #maxBatch: number;
  readonly #maxBatchBytes: number;
  readonly #lingerMs: number;
  readonly #limits: EventLimits;
  readonly #clock: () => Date;
  readonly #timeoutMs: number | undefined;
  readonly #path: AppendPath;
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
    this.#path = options.path ?? 'function';
  }

  /**
   * Appends an event. Resolves with its place in the chain after COMMIT; rejects with
   * InvalidEventError for bad input or AuditWriteError when the database did not commit it.
   */
  record(event: AuditEventInput): Promise<Recorded> {
    if (this.#closed) return Promise.reject(new AuditWriteError('audit writer is closed'));
    let measured: { content: ChainContent; bytes: number; parts: CanonicalParts };
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
      recorded = await appendBatch(
        this.#db,
        this.#path,
        () => {
          // Taken once the connection (or the chain lock) is held: events whose callers gave up while
          // it was awaited are left out, nobody acts on them.
          batch = all.filter((p) => !p.expired);
          return batch;
        },
        this.#clock(),
      );
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
