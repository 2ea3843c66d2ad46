// Emits signed checkpoints of the chain head at an interval and at shutdown. Before signing, it verifies
// the rows appended since its previous checkpoint, so it never vouches for a tampered tail.
import { createPublicKey, type KeyObject } from 'node:crypto';
import type { Kysely } from 'kysely';
import { type Checkpoint, type CheckpointSink, signCheckpoint } from './checkpoint.js';
import { chainHead } from './query.js';
import type { AuditSchema } from './schema.js';
import { verifyChain } from './verify.js';

export interface CheckpointerOptions {
  privateKey: KeyObject;
  sink: CheckpointSink;
  /** Milliseconds between checkpoints (default 60 000); 0 disables the timer (shutdown and on demand only). */
  intervalMs?: number;
  /**
   * A position already known good (e.g. the last checkpoint in the sink): the first checkpoint then
   * verifies only the rows after it instead of the whole chain.
   */
  verifiedFrom?: { seq: number; hash: string };
  /** Receives failures of timed checkpoints (a failed sink, a broken chain). */
  onError?: (err: Error) => void;
  /** Told of every checkpoint written (timed, on demand or final). */
  onCheckpoint?: (cp: Checkpoint) => void;
}

export class Checkpointer {
  readonly #db: Kysely<AuditSchema>;
  readonly #options: CheckpointerOptions;
  #timer: NodeJS.Timeout | undefined;
  #last: { seq: number; hash: string } | undefined;
  #lastCheckpoint: Checkpoint | undefined;
  #busy: Promise<Checkpoint | null> = Promise.resolve(null);

  constructor(db: Kysely<AuditSchema>, options: CheckpointerOptions) {
    this.#db = db;
    this.#options = options;
    // Fail now, not at the first tick, on a bad key.
    if (options.privateKey.asymmetricKeyType !== 'ed25519')
      throw new Error('checkpoint signing key must be Ed25519');
  }

  /** The last checkpoint this process wrote (none before the first). */
  get lastCheckpoint(): Checkpoint | undefined {
    return this.#lastCheckpoint;
  }

  /** The public half of the signing key, to verify the chain against the checkpoints written. */
  get publicKey(): KeyObject {
    return createPublicKey(this.#options.privateKey);
  }

  start(): this {
    const every = this.#options.intervalMs ?? 60_000;
    if (every > 0 && !this.#timer) {
      this.#timer = setInterval(() => {
        this.checkpoint().catch((err: unknown) =>
          this.#options.onError?.(err instanceof Error ? err : new Error(String(err))),
        );
      }, every);
      this.#timer.unref();
    }
    return this;
  }

  /** Signs and writes a checkpoint of the current head; null when the chain is empty or unchanged. */
  checkpoint(): Promise<Checkpoint | null> {
    const run = this.#busy.catch(() => null).then(() => this.#emit());
    this.#busy = run;
    return run;
  }

  async #emit(): Promise<Checkpoint | null> {
    const head = await chainHead(this.#db);
    const last = this.#last ?? this.#options.verifiedFrom;
    if (!head) {
      if (last)
        throw new Error(
          `refusing to sign a checkpoint: the trail is empty but seq ${last.seq} was checkpointed`,
        );
      return null;
    }
    if (last && head.seq <= last.seq) {
      if (head.seq === last.seq && head.hash === last.hash) {
        if (this.#last) return null; // nothing new since our last checkpoint
      } else {
        throw new Error(
          `refusing to sign a checkpoint: the head (seq ${head.seq}) does not extend the checkpoint at seq ${last.seq}: rows were removed or rewritten`,
        );
      }
    }
    // Vouch only for a verified chain: from the last checkpoint, or (the first time) from the genesis.
    const report = await verifyChain(this.#db, last ? { from: last } : {});
    if (!report.ok) {
      throw new Error(
        `refusing to sign a checkpoint: ${report.break?.kind} at seq ${report.break?.seq}: ${report.break?.message}`,
      );
    }
    if (report.head && report.head.seq !== head.seq) {
      // More rows arrived while verifying: sign what was verified.
      head.seq = report.head.seq;
      head.hash = report.head.hash;
    }
    const cp = signCheckpoint(head, this.#options.privateKey);
    await this.#options.sink.write(cp);
    this.#last = { seq: cp.seq, hash: cp.hash };
    this.#lastCheckpoint = cp;
    this.#options.onCheckpoint?.(cp);
    return cp;
  }

  /** Stops the timer and writes a final checkpoint. */
  async stop(): Promise<Checkpoint | null> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    return this.checkpoint();
  }
}
