// The engine: holds the active policy and swaps it atomically, merges live data into the bundle's, and
// answers queries against `data`. A bundle that fails to load leaves the active one serving and is
// reported; it is checked on this thread before any worker sees it.
//
// Evaluation runs off the main event loop, in a pool of worker threads (pool.ts, worker.ts) that each
// hold the active policy and the merged data; a new policy or data document is posted to every
// worker before the call that installs it returns, and each worker handles messages in order, so an
// evaluation that starts afterwards sees it. Pure data reads (no entrypoint at or around the path)
// are answered here from the same merged document.
//
// Bounds. Input: its size, nesting and number of values are checked here before it is sent
// (input-limits.ts; 'input_too_large'). Time: every evaluation has a hard deadline (`timeoutMs`);
// at expiry its worker is terminated, which stops the Wasm wherever it is, the evaluation fails with
// 'timeout' and a fresh worker takes the place. Memory: each module gets a WebAssembly.Memory with a
// maximum (MemoryLimits) and each worker a V8 heap limit (`workerMemoryMb`); a worker that runs out
// fails its evaluation and is replaced. Waiting: a bounded queue (`queueLength`, `queueWaitMs`;
// 'overloaded'). All of these are errors, so callers deny (fail closed).
import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { availableParallelism } from 'node:os';
import { BundleError } from '../rego/bundle.js';
import { bundleFromFiles, overlapsRoots, type PolicyBundle } from './bundle.js';
import { deepMerge, getAt, withoutPath } from './data-tree.js';
import type { BundleFiles } from './files.js';
import { DEFAULT_INPUT_LIMITS, encodeInput, InputLimitError, type InputLimits } from './input-limits.js';
import {
  type CompiledModule,
  compileModule,
  type Evaluation,
  type MemoryLimits,
  PolicyInstance,
  wireOf,
} from './policy.js';
import { HEAVY_INPUT_BYTES, type PoolRequest, WorkerPool } from './pool.js';
import { evaluatesAt } from './query.js';
import type { VerificationConfig } from './signature.js';

export interface EngineLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface EngineOptions {
  /** With a key, unsigned or badly signed bundles are refused. */
  verification?: VerificationConfig | undefined;
  memory?: MemoryLimits | undefined;
  /** Hard deadline of one evaluation, from the moment a worker starts it (default 1000 ms, wall clock). */
  timeoutMs?: number | undefined;
  strict?: boolean | undefined;
  logger?: EngineLogger | undefined;
  /** Evaluation worker threads (default: the CPUs available, from 2 to 4). */
  workers?: number | undefined;
  /** V8 heap limit of each worker, in MB (default 128). */
  workerMemoryMb?: number | undefined;
  /** Most evaluations waiting for a worker (default 512); more are refused as 'overloaded'. */
  queueLength?: number | undefined;
  /** Longest wait for a worker (default twice the deadline); longer is 'overloaded'. */
  queueWaitMs?: number | undefined;
  inputLimits?: Partial<InputLimits> | undefined;
}

/** The default number of evaluation workers on this machine. */
export function defaultWorkers(): number {
  return Math.min(4, Math.max(2, availableParallelism()));
}

/** Evaluation failed: the caller must deny (fail closed). */
export class EvaluationError extends Error {
  constructor(
    message: string,
    readonly code: 'no_policy' | 'eval_error' | 'timeout' | 'input_too_large' | 'overloaded' = 'eval_error',
  ) {
    super(message);
    this.name = 'EvaluationError';
  }
}

export interface BundleInfo {
  revision: string;
  roots: string[];
  entrypoints: string[];
  signed: boolean;
  origin: string;
  activatedAt: string;
}

export interface LoadFailure {
  origin: string;
  message: string;
  at: string;
}

export interface EngineStatus {
  ready: boolean;
  bundle: BundleInfo | null;
  lastFailure: LoadFailure | null;
  activations: number;
  loadFailures: number;
  evaluationTimeouts: number;
  /** Evaluation workers replaced after a deadline or a crash. */
  workerRestarts: number;
}

export interface QueryResult extends Evaluation {
  revision: string;
}

/** What the engine asks before evaluating: LiveData's look for rows other replicas wrote. */
export interface FreshnessCheck {
  /** Resolves once a look sent after `since` (a mark; by default now) has applied. */
  refresh(since?: number): Promise<unknown>;
  mark(): number;
}

export interface EngineEvents {
  activated: [BundleInfo];
  loadFailed: [LoadFailure];
}

interface Active {
  bundle: PolicyBundle;
  entrypoints: ReadonlySet<string>;
  info: BundleInfo;
  /** Bundle data with live data merged in, as the workers hold it. */
  data: Record<string, unknown>;
}

export class Engine extends EventEmitter<EngineEvents> {
  readonly #options: EngineOptions;
  #active: Active | undefined;
  #live: Record<string, unknown> = {};
  #queue: Promise<unknown> = Promise.resolve();
  #lastFailure: LoadFailure | null = null;
  #activations = 0;
  #loadFailures = 0;
  #timeouts = 0;
  /** The last compiled module, by SHA-256 of its bytes: bundles that change only data skip compilation. */
  #compiled: { digest: string; module: CompiledModule } | undefined;
  readonly #pool: WorkerPool;
  readonly #limits: InputLimits;
  #closed = false;
  #freshness: FreshnessCheck | undefined;

  constructor(options: EngineOptions = {}) {
    super();
    this.#options = options;
    const timeoutMs = options.timeoutMs ?? 1000;
    this.#limits = { ...DEFAULT_INPUT_LIMITS, ...options.inputLimits };
    this.#pool = new WorkerPool({
      size: Math.max(1, options.workers ?? defaultWorkers()),
      timeoutMs,
      memoryMb: options.workerMemoryMb ?? 128,
      queueLength: options.queueLength ?? 512,
      queueWaitMs: options.queueWaitMs ?? 2 * timeoutMs,
      logger: options.logger,
      fail: (code, message) => new EvaluationError(message, code === 'closed' ? 'no_policy' : code),
      onTimeout: () => {
        this.#timeouts++;
      },
    });
  }

  /** Stops the evaluation workers; evaluations waiting or running fail, later ones fail with 'no_policy'. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#pool.close();
  }

  get verification(): VerificationConfig | undefined {
    return this.#options.verification;
  }

  /** Verifies, validates, loads and activates bundle files. On failure the active policy stays and the error is reported and rethrown. */
  loadFiles(files: BundleFiles, origin: string): Promise<BundleInfo> {
    return this.#serialise(async () => {
      let bundle: PolicyBundle;
      try {
        bundle = await bundleFromFiles(files, this.#options.verification);
      } catch (err) {
        throw this.#failed(origin, err);
      }
      return this.#activate(bundle, origin);
    });
  }

  /** Activates an already assembled bundle (dev mode builds them in memory; they are not signed). */
  activate(bundle: PolicyBundle, origin: string): Promise<BundleInfo> {
    return this.#serialise(() => this.#activate(bundle, origin));
  }

  /** Records a failure to obtain a bundle at all (download error, unreadable file). */
  reportFailure(origin: string, err: unknown): LoadFailure {
    this.#failed(origin, err);
    return this.#lastFailure!;
  }

  #serialise<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(task, task);
    this.#queue = run.catch(() => {});
    return run;
  }

  #failed(origin: string, err: unknown): Error {
    const error = err instanceof Error ? err : new Error(String(err));
    this.#loadFailures++;
    this.#lastFailure = { origin, message: error.message, at: new Date().toISOString() };
    this.#options.logger?.error(
      { origin, err: error.message },
      'bundle not activated; the active bundle keeps serving',
    );
    this.emit('loadFailed', this.#lastFailure);
    return error instanceof BundleError ? error : new BundleError(error.message);
  }

  async #activate(bundle: PolicyBundle, origin: string): Promise<BundleInfo> {
    let module: CompiledModule;
    let data: Record<string, unknown>;
    let dataText: string;
    try {
      const digest = createHash('sha256').update(bundle.wasm).digest('hex');
      let compiled = this.#compiled?.digest === digest ? this.#compiled.module : undefined;
      if (!compiled) {
        compiled = await compileModule(bundle.wasm);
        this.#compiled = { digest, module: compiled };
      }
      module = compiled;
      // Checked here, once: the module instantiates, exports the entrypoints and takes the data.
      const check = await PolicyInstance.load(
        bundle,
        { memory: this.#options.memory, strict: this.#options.strict ?? false },
        module,
      );
      data = this.#mergedFor(bundle);
      dataText = JSON.stringify(data);
      check.setDataText(dataText);
    } catch (err) {
      throw this.#failed(origin, new BundleError(`cannot load the policy module: ${(err as Error).message}`));
    }
    const info: BundleInfo = {
      revision: bundle.manifest.revision,
      roots: [...bundle.manifest.roots],
      entrypoints: [...bundle.entrypoints],
      signed: bundle.signed,
      origin,
      activatedAt: new Date().toISOString(),
    };
    // The swap: from here every evaluation is sent after the new policy, so it runs on it.
    this.#active = { bundle, entrypoints: new Set(bundle.entrypoints), info, data };
    await this.#pool.setPolicy({
      module,
      wire: wireOf(bundle.wasm),
      entrypoints: bundle.entrypoints,
      revision: info.revision,
      memory: this.#options.memory,
      strict: this.#options.strict ?? false,
      data: dataText,
    });
    this.#activations++;
    this.#options.logger?.info({ origin, revision: info.revision }, 'bundle activated');
    this.emit('activated', info);
    return info;
  }

  /** Bundle data with live data merged in; live data under the bundle's roots is hidden (the bundle owns them). */
  #mergedFor(bundle: PolicyBundle): Record<string, unknown> {
    const roots = bundle.manifest.roots;
    if (roots.includes('')) return bundle.data;
    let live = this.#live;
    for (const r of roots) live = withoutPath(live, r.split('/'));
    return deepMerge(live, bundle.data);
  }

  /** Replaces the live data document (what the Data API wrote); applies to the very next evaluation. */
  setLiveData(doc: Record<string, unknown>): void {
    this.#live = doc;
    const active = this.#active;
    if (!active) return;
    active.data = this.#mergedFor(active.bundle);
    this.#pool.setData(JSON.stringify(active.data));
  }

  /**
   * A look for newer live data awaited before every evaluation and data query (LiveData with
   * `checkBeforeEvaluation`); when it fails the evaluation fails closed (`no_policy`).
   */
  setFreshnessCheck(check: FreshnessCheck | undefined): void {
    this.#freshness = check;
  }

  /**
   * A mark for `evaluate(…, { freshSince })`: evaluations given it may share a look sent after it
   * was taken. Undefined when no check is set.
   */
  freshnessMark(): number | undefined {
    return this.#freshness?.mark();
  }

  async #fresh(since: number | undefined): Promise<void> {
    const check = this.#freshness;
    if (!check) return;
    try {
      await check.refresh(since);
    } catch (err) {
      // The cause (a database error) may name hosts: logged, not passed on.
      this.#options.logger?.error({ err: (err as Error).message }, 'live data could not be checked');
      throw new EvaluationError(
        'live data could not be checked for changes by other replicas; failing closed',
        'no_policy',
      );
    }
  }

  get liveData(): Record<string, unknown> {
    return this.#live;
  }

  /** True when the active bundle owns (overlaps) this data path: live writes there are refused. */
  ownsPath(path: readonly string[]): boolean {
    const roots = this.#active?.info.roots;
    if (!roots) return false;
    return overlapsRoots(path.join('/'), roots);
  }

  get bundle(): BundleInfo | null {
    return this.#active?.info ?? null;
  }

  /** The active bundle itself (module, manifest, its own data), e.g. as a replay's baseline. */
  get activePolicyBundle(): PolicyBundle | undefined {
    return this.#active?.bundle;
  }

  status(): EngineStatus {
    return {
      ready: this.#active !== undefined,
      bundle: this.#active?.info ?? null,
      lastFailure: this.#lastFailure,
      activations: this.#activations,
      loadFailures: this.#loadFailures,
      evaluationTimeouts: this.#timeouts,
      workerRestarts: this.#pool.restarts,
    };
  }

  #current(): Active {
    if (this.#closed) throw new EvaluationError('the engine is closed', 'no_policy');
    const active = this.#active;
    if (!active) throw new EvaluationError('no policy bundle is active', 'no_policy');
    return active;
  }

  #encode(input: unknown): string | undefined {
    try {
      return encodeInput(input, this.#limits);
    } catch (err) {
      if (err instanceof InputLimitError) throw new EvaluationError(err.message, 'input_too_large');
      throw new EvaluationError(`the input is not a JSON value: ${(err as Error).message}`);
    }
  }

  #run(request: PoolRequest, label: string): Promise<QueryResult> {
    const heavy = (request.input?.length ?? 0) >= HEAVY_INPUT_BYTES;
    return this.#pool.run(request, label, heavy);
  }

  /** Evaluates one entrypoint in a worker. Rejects with EvaluationError (deny) on any failure. */
  async evaluate(
    entrypoint: string,
    input: unknown,
    options: { freshSince?: number | undefined } = {},
  ): Promise<QueryResult> {
    this.#current();
    await this.#fresh(options.freshSince);
    const active = this.#current();
    if (!active.entrypoints.has(entrypoint))
      throw new EvaluationError(`${entrypoint} is not an entrypoint of the active bundle`);
    return this.#run({ kind: 'evaluate', entrypoint, input: this.#encode(input) }, entrypoint);
  }

  /**
   * Reads `data` at a path, as OPA's Data API does: an entrypoint evaluates; a path above entrypoints
   * yields an object of their values over the data there; a path below an entrypoint descends into its
   * value; otherwise the data document answers. Rules that are not entrypoints cannot be read.
   */
  async query(path: readonly string[], input: unknown): Promise<QueryResult> {
    this.#current();
    await this.#fresh(undefined);
    const active = this.#current();
    if (!evaluatesAt(path, active.entrypoints)) {
      const value = getAt(active.data, path);
      const revision = active.info.revision;
      return value === undefined ? { defined: false, revision } : { defined: true, result: value, revision };
    }
    return this.#run({ kind: 'query', path: [...path], input: this.#encode(input) }, path.join('/'));
  }
}
