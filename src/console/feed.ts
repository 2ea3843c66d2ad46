// Live updates for the approvals inbox: one shared poll of the pending approvals while anyone
// listens, and a signal to every listener when the set changes (a call parked, answered by another
// approver on any replica, or expired). The signal carries no data: each browser re-reads what it
// may see through the policy-checked approver API.
import type { ApprovalStore } from '../gateway/approvals.js';

export type Listener = () => void;

export class ApprovalsFeed {
  readonly #store: Pick<ApprovalStore, 'list'>;
  readonly #intervalMs: number;
  readonly #listeners = new Set<Listener>();
  readonly #onError: (err: Error) => void;
  #timer: NodeJS.Timeout | undefined;
  #last: string | undefined;
  #polling = false;

  constructor(
    store: Pick<ApprovalStore, 'list'>,
    intervalMs = 1000,
    onError: (err: Error) => void = () => {},
  ) {
    this.#store = store;
    this.#intervalMs = intervalMs;
    this.#onError = onError;
  }

  get listeners(): number {
    return this.#listeners.size;
  }

  /** Calls `listener` on every change until the returned function is called. */
  subscribe(listener: Listener): () => void {
    this.#listeners.add(listener);
    this.#schedule();
    return () => {
      this.#listeners.delete(listener);
      if (this.#listeners.size === 0) {
        clearTimeout(this.#timer);
        this.#timer = undefined;
        this.#last = undefined;
      }
    };
  }

  close(): void {
    this.#listeners.clear();
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #schedule(): void {
    if (this.#timer || this.#listeners.size === 0) return;
    this.#timer = setTimeout(
      () => {
        this.#timer = undefined;
        void this.#poll();
      },
      this.#last === undefined ? 0 : this.#intervalMs,
    );
    this.#timer.unref();
  }

  async #poll(): Promise<void> {
    if (this.#polling) return;
    this.#polling = true;
    try {
      const pending = await this.#store.list({ status: 'pending', limit: 500 });
      const print = pending.map((a) => a.id).join(',');
      const changed = this.#last !== undefined && print !== this.#last;
      this.#last = print;
      if (changed) for (const l of [...this.#listeners]) l();
    } catch (err) {
      this.#onError(err as Error);
    } finally {
      this.#polling = false;
      this.#schedule();
    }
  }
}
