// The engine: holds the active policy and swaps it atomically, merges live data into the bundle's, and
// answers queries against `data`. Evaluations run to completion on the policy they started on (they
// are synchronous); a bundle that fails to load leaves the active one serving and is reported.
//
// Bounds. Memory: each module gets a WebAssembly.Memory with a maximum (MemoryLimits); an evaluation
// that needs more fails. Time: evaluations are synchronous calls into Wasm on the event loop, which a
// timer cannot interrupt; Rego compiled by Airlock has no unbounded loops (no recursion, iteration over
// finite collections) so work is bounded by input and data size, which the API bounds. The engine
// measures every evaluation and one that ran past `timeoutMs` is discarded as an error (fail closed)
// and counted. Pre-emptive limits (a worker thread per evaluation) are left for later: they cost a
// thread hop on every decision.
import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { BundleError } from '../rego/bundle.js';
import { bundleFromFiles, overlapsRoots, type PolicyBundle } from './bundle.js';
import { deepMerge, getAt, isObject, withoutPath } from './data-tree.js';
import type { BundleFiles } from './files.js';
import {
  type CompiledModule,
  compileModule,
  type Evaluation,
  type MemoryLimits,
  PolicyInstance,
} from './policy.js';
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
  /** Evaluations that take longer are discarded as errors (default 1000 ms: wall-clock, so GC pauses and a busy machine count too). */
  timeoutMs?: number | undefined;
  strict?: boolean | undefined;
  logger?: EngineLogger | undefined;
  now?: () => bigint;
}

/** Evaluation failed: the caller must deny (fail closed). */
export class EvaluationError extends Error {
  constructor(
    message: string,
    readonly code: 'no_policy' | 'eval_error' | 'timeout' = 'eval_error',
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
}

export interface QueryResult extends Evaluation {
  revision: string;
}

export interface EngineEvents {
  activated: [BundleInfo];
  loadFailed: [LoadFailure];
}

interface Active {
  policy: PolicyInstance;
  info: BundleInfo;
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

  constructor(options: EngineOptions = {}) {
    super();
    this.#options = options;
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
    let policy: PolicyInstance;
    try {
      const digest = createHash('sha256').update(bundle.wasm).digest('hex');
      let module = this.#compiled?.digest === digest ? this.#compiled.module : undefined;
      if (!module) {
        module = await compileModule(bundle.wasm);
        this.#compiled = { digest, module };
      }
      policy = await PolicyInstance.load(
        bundle,
        {
          memory: this.#options.memory,
          strict: this.#options.strict ?? false,
          ...(this.#options.now ? { now: this.#options.now } : {}),
        },
        module,
      );
      policy.setData(this.#mergedFor(bundle));
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
    this.#active = { policy, info }; // the swap: the next evaluation uses the new policy
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
    if (active) active.policy.setData(this.#mergedFor(active.policy.bundle));
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

  status(): EngineStatus {
    return {
      ready: this.#active !== undefined,
      bundle: this.#active?.info ?? null,
      lastFailure: this.#lastFailure,
      activations: this.#activations,
      loadFailures: this.#loadFailures,
      evaluationTimeouts: this.#timeouts,
    };
  }

  /** Evaluates one entrypoint. Throws EvaluationError (deny) on any failure. */
  evaluate(entrypoint: string, input: unknown): QueryResult {
    const active = this.#active;
    if (!active) throw new EvaluationError('no policy bundle is active', 'no_policy');
    if (!active.policy.entrypoints.has(entrypoint))
      throw new EvaluationError(`${entrypoint} is not an entrypoint of the active bundle`);
    return { ...this.#run(active, entrypoint, input), revision: active.info.revision };
  }

  #run(active: Active, entrypoint: string, input: unknown): Evaluation {
    const started = performance.now();
    let out: Evaluation;
    try {
      out = active.policy.evaluate(entrypoint, input);
    } catch (err) {
      throw new EvaluationError(`${entrypoint}: ${(err as Error).message}`);
    }
    const limit = this.#options.timeoutMs ?? 1000;
    const took = performance.now() - started;
    if (took > limit) {
      this.#timeouts++;
      throw new EvaluationError(
        `${entrypoint}: evaluation took ${took.toFixed(1)} ms, over the ${limit} ms limit`,
        'timeout',
      );
    }
    return out;
  }

  /**
   * Reads `data` at a path, as OPA's Data API does: an entrypoint evaluates; a path above entrypoints
   * yields an object of their values over the data there; a path below an entrypoint descends into its
   * value; otherwise the data document answers. Rules that are not entrypoints cannot be read.
   */
  query(path: readonly string[], input: unknown): QueryResult {
    const active = this.#active;
    if (!active) throw new EvaluationError('no policy bundle is active', 'no_policy');
    const revision = active.info.revision;
    const key = path.join('/');
    const entrypoints = [...active.policy.entrypoints];
    if (active.policy.entrypoints.has(key)) return { ...this.#run(active, key, input), revision };
    const parent = entrypoints.filter((e) => key.startsWith(`${e}/`)).sort((a, b) => b.length - a.length)[0];
    if (parent !== undefined) {
      const up = this.#run(active, parent, input);
      if (!up.defined) return { defined: false, revision };
      const value = getAt(up.result, key.slice(parent.length + 1).split('/'));
      return value === undefined ? { defined: false, revision } : { defined: true, result: value, revision };
    }
    const data = this.#mergedFor(active.policy.bundle);
    const base = getAt(data, path);
    const below = entrypoints.filter((e) => key === '' || e.startsWith(`${key}/`));
    if (below.length === 0)
      return base === undefined ? { defined: false, revision } : { defined: true, result: base, revision };
    let doc: Record<string, unknown> = isObject(base) ? base : {};
    for (const e of below.sort()) {
      const r = this.#run(active, e, input);
      if (!r.defined) continue;
      const rel = (key === '' ? e : e.slice(key.length + 1)).split('/');
      let nested: Record<string, unknown> = {};
      const leaf = nested;
      let node = leaf;
      for (let i = 0; i < rel.length - 1; i++) {
        const next: Record<string, unknown> = {};
        node[rel[i]!] = next;
        node = next;
      }
      node[rel[rel.length - 1]!] = r.result;
      nested = leaf;
      doc = deepMerge(doc, nested);
    }
    return { defined: true, result: doc, revision };
  }
}
