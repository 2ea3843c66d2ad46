// The engine's evaluation workers: a fixed number of worker threads, each holding the active policy
// and data (worker.ts), one evaluation at a time. Evaluations wait in a bounded queue for a free
// worker. Each has a hard deadline: at expiry its worker is terminated, which stops the Wasm where it
// is, and a fresh one takes its place with the current policy and data. A worker that dies (out of
// memory, crash) fails its evaluation and is replaced the same way. Inputs of HEAVY_INPUT_BYTES or
// more never occupy the last ready worker, so that a burst of large inputs leaves one to everyone else.
import { Worker } from 'node:worker_threads';
import type { EngineLogger } from './engine.js';
import type { Evaluation } from './policy.js';
import type { FromWorker, ToWorker, WorkerPolicy } from './worker.js';

/** Inputs of this many JSON bytes or more count as heavy (see above). */
export const HEAVY_INPUT_BYTES = 64 * 1024;

export type PoolRequest =
  | { kind: 'evaluate'; entrypoint: string; input: string | undefined }
  | { kind: 'query'; path: string[]; input: string | undefined };

export type PoolFailure = 'timeout' | 'overloaded' | 'eval_error' | 'closed';

export interface PoolOptions {
  size: number;
  timeoutMs: number;
  /** resourceLimits.maxOldGenerationSizeMb of each worker. */
  memoryMb: number | undefined;
  queueLength: number;
  queueWaitMs: number;
  logger?: EngineLogger | undefined;
  /** Builds the error an evaluation fails with. */
  fail: (code: PoolFailure, message: string) => Error;
  onTimeout: () => void;
}

interface Job {
  request: PoolRequest;
  label: string;
  heavy: boolean;
  resolve: (r: Evaluation & { revision: string }) => void;
  reject: (err: Error) => void;
  waiting?: NodeJS.Timeout;
}

interface Slot {
  worker: Worker;
  ready: boolean;
  retired: boolean;
  job?: Job;
  jobId?: number;
  deadline?: NodeJS.Timeout;
  error?: Error;
  control: Map<number, (ok: boolean, message?: string) => void>;
}

let nextId = 1;

const moduleUrl = import.meta.url;

/** A worker running worker.ts (under tsx, from src/) or worker.js (compiled, from dist/). */
function startWorker(memoryMb: number | undefined): Worker {
  const resourceLimits = memoryMb ? { maxOldGenerationSizeMb: memoryMb } : undefined;
  const options = resourceLimits ? { resourceLimits } : {};
  if (moduleUrl.endsWith('.ts')) {
    // Workers inherit tsx's flags, but Node does not apply its hooks to a worker's entry module:
    // register them inside the worker before importing the TypeScript entry.
    const target = new URL('./worker.ts', moduleUrl).href;
    const tsx = import.meta.resolve('tsx/esm/api');
    const boot = `import(${JSON.stringify(tsx)}).then((api) => { api.register(); return import(${JSON.stringify(target)}); });`;
    return new Worker(boot, { ...options, eval: true });
  }
  return new Worker(new URL('./worker.js', moduleUrl), options);
}

export class WorkerPool {
  readonly #options: PoolOptions;
  readonly #slots = new Set<Slot>();
  readonly #queue: Job[] = [];
  #policy: WorkerPolicy | undefined;
  #closed = false;
  #startFailures = 0;
  #restarts = 0;

  constructor(options: PoolOptions) {
    this.#options = options;
  }

  get restarts(): number {
    return this.#restarts;
  }

  /** Gives every worker `policy` (starting the workers the first time); resolves once each has it. */
  async setPolicy(policy: WorkerPolicy): Promise<void> {
    this.#policy = policy;
    if (this.#closed) return;
    if (this.#slots.size === 0) {
      const started: Promise<void>[] = [];
      for (let i = 0; i < this.#options.size; i++) started.push(this.#spawn().installed);
      await Promise.all(started);
      return;
    }
    await Promise.all([...this.#slots].map((s) => this.#install(s, policy)));
  }

  /** Replaces the data document in every worker, ahead of any evaluation dispatched after this call. */
  setData(text: string): void {
    if (!this.#policy) return;
    this.#policy = { ...this.#policy, data: text };
    for (const s of this.#slots) this.#post(s, { kind: 'data', data: text });
  }

  run(request: PoolRequest, label: string, heavy: boolean): Promise<Evaluation & { revision: string }> {
    const { fail, queueLength, queueWaitMs } = this.#options;
    if (this.#closed) return Promise.reject(fail('closed', 'the engine is closed'));
    if (this.#queue.length >= queueLength)
      return Promise.reject(
        fail(
          'overloaded',
          `${label}: ${this.#queue.length} evaluations are already waiting for a worker (engine.queue_length)`,
        ),
      );
    return new Promise((resolve, reject) => {
      const job: Job = { request, label, heavy, resolve, reject };
      this.#queue.push(job);
      this.#dispatch();
      // Only a job left waiting for a worker needs its bound on the wait.
      if (!this.#queue.includes(job)) return;
      job.waiting = setTimeout(() => {
        const at = this.#queue.indexOf(job);
        if (at < 0) return;
        this.#queue.splice(at, 1);
        reject(
          fail(
            'overloaded',
            `${label}: no evaluation worker was free within ${queueWaitMs} ms (engine.queue_wait_ms)`,
          ),
        );
      }, queueWaitMs);
      job.waiting.unref();
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    const err = () => this.#options.fail('closed', 'the engine is closed');
    for (const job of this.#queue.splice(0)) {
      clearTimeout(job.waiting);
      job.reject(err());
    }
    const stopping: Promise<unknown>[] = [];
    for (const s of this.#slots) {
      s.retired = true;
      this.#settle(s, undefined, err());
      for (const done of s.control.values()) done(false, 'closed');
      stopping.push(s.worker.terminate());
    }
    this.#slots.clear();
    await Promise.all(stopping);
  }

  #spawn(): { slot: Slot; installed: Promise<void> } {
    const worker = startWorker(this.#options.memoryMb);
    const slot: Slot = { worker, ready: false, retired: false, control: new Map() };
    this.#slots.add(slot);
    worker.on('message', (m: FromWorker) => this.#message(slot, m));
    worker.on('error', (err) => {
      slot.error = err;
    });
    worker.on('exit', (code) => this.#exited(slot, code));
    const installed = this.#install(slot, this.#policy!).then(() => {
      if (slot.retired) return;
      slot.ready = true;
      this.#startFailures = 0;
      this.#dispatch();
    });
    return { slot, installed };
  }

  #install(slot: Slot, policy: WorkerPolicy): Promise<void> {
    const id = nextId++;
    return new Promise((resolve) => {
      slot.control.set(id, (ok, message) => {
        slot.control.delete(id);
        this.#refresh(slot);
        if (!ok && message !== 'closed' && message !== 'exited')
          this.#options.logger?.error({ err: message }, 'an evaluation worker refuses evaluations');
        resolve();
      });
      this.#post(slot, { kind: 'policy', id, policy });
    });
  }

  #post(slot: Slot, message: ToWorker): void {
    this.#refresh(slot, message.kind !== 'data');
    slot.worker.postMessage(message);
  }

  /** Busy workers keep the process alive; idle ones do not (an engine nobody closes lets it exit). */
  #refresh(slot: Slot, busy = slot.job !== undefined || slot.control.size > 0): void {
    if (busy) slot.worker.ref();
    else slot.worker.unref();
  }

  #dispatch(): void {
    for (const slot of this.#slots) {
      if (this.#queue.length === 0) return;
      if (!slot.ready || slot.retired || slot.job) continue;
      // A heavy input starts only if a ready worker stays without one (a replacement still starting
      // does not count); with a single worker there is nothing to keep.
      let ready = 0;
      let heavyBusy = 0;
      for (const s of this.#slots) {
        if (s.ready && !s.retired) ready++;
        if (s.job?.heavy) heavyBusy++;
      }
      const heavyOk = this.#options.size === 1 || heavyBusy + 1 < ready;
      const at = this.#queue.findIndex((j) => !j.heavy || heavyOk);
      if (at < 0) return;
      const job = this.#queue.splice(at, 1)[0]!;
      clearTimeout(job.waiting);
      this.#start(slot, job);
    }
  }

  #start(slot: Slot, job: Job): void {
    const id = nextId++;
    slot.job = job;
    slot.jobId = id;
    slot.deadline = setTimeout(() => this.#expired(slot), this.#options.timeoutMs);
    this.#post(slot, { ...job.request, id });
  }

  #message(slot: Slot, m: FromWorker): void {
    const control = slot.control.get(m.id);
    if (control) return control(m.ok, m.ok ? undefined : m.message);
    if (slot.jobId !== m.id || !slot.job) return;
    this.#settle(
      slot,
      m.ok ? m.result : undefined,
      m.ok ? undefined : this.#options.fail('eval_error', m.message),
    );
    this.#dispatch();
  }

  /** Ends the slot's current job with `result` or `error`. */
  #settle(
    slot: Slot,
    result: (Evaluation & { revision: string }) | undefined,
    error: Error | undefined,
  ): void {
    const job = slot.job;
    clearTimeout(slot.deadline);
    slot.job = undefined;
    slot.jobId = undefined;
    this.#refresh(slot);
    if (!job) return;
    if (error) job.reject(error);
    else job.resolve(result!);
  }

  #expired(slot: Slot): void {
    const label = slot.job?.label ?? 'evaluation';
    this.#options.onTimeout();
    this.#settle(
      slot,
      undefined,
      this.#options.fail(
        'timeout',
        `${label}: evaluation stopped at the ${this.#options.timeoutMs} ms deadline`,
      ),
    );
    this.#options.logger?.warn(
      { entrypoint: label, timeout_ms: this.#options.timeoutMs },
      'evaluation stopped at its deadline; its worker is replaced',
    );
    this.#replace(slot);
  }

  /** Terminates `slot`'s worker (if still running) and starts another in its place. */
  #replace(slot: Slot, delayMs = 0): void {
    if (slot.retired) return;
    slot.retired = true;
    this.#slots.delete(slot);
    for (const done of slot.control.values()) done(false, 'exited');
    void slot.worker.terminate();
    if (this.#closed || !this.#policy) return;
    this.#restarts++;
    if (delayMs === 0) {
      this.#spawn();
      return;
    }
    setTimeout(() => {
      if (!this.#closed) this.#spawn();
    }, delayMs).unref();
  }

  #exited(slot: Slot, code: number): void {
    if (slot.retired) return;
    const outOfMemory = (slot.error as { code?: string } | undefined)?.code === 'ERR_WORKER_OUT_OF_MEMORY';
    const label = slot.job?.label ?? 'evaluation';
    this.#options.logger?.error(
      { exit_code: code, err: slot.error?.message, entrypoint: slot.job ? label : undefined },
      'an evaluation worker stopped; starting another',
    );
    this.#settle(
      slot,
      undefined,
      this.#options.fail(
        'eval_error',
        outOfMemory
          ? `${label}: the evaluation ran out of memory (engine.worker_memory_mb)`
          : `${label}: the evaluation worker stopped unexpectedly`,
      ),
    );
    // A worker that dies before it ever served is retried with a growing delay, not in a loop.
    let delay = 0;
    if (!slot.ready) {
      this.#startFailures++;
      delay = Math.min(30_000, 250 * 2 ** (this.#startFailures - 1));
    }
    this.#replace(slot, delay);
  }
}
