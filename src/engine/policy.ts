// One loaded policy: the bundle's Wasm module in the stock SDK, with the host built-ins, its data set,
// memory bounded. Evaluation is synchronous and single-threaded; the engine owns the instance.
import { type LoadedPolicy, loadPolicy } from '@open-policy-agent/opa-wasm';
import { hostBuiltins, newEvaluation } from '../rego/builtins/host/index.js';
import { speaksTaggedWire, withCallSite } from '../rego/wasm/index.js';
import type { PolicyBundle } from './bundle.js';

export interface MemoryLimits {
  /** Initial Wasm memory in 64 KiB pages (default 16 = 1 MiB). */
  initialPages?: number;
  /** Most Wasm memory in 64 KiB pages (default 2048 = 128 MiB); growing past it fails the evaluation. */
  maximumPages?: number;
}

export interface PolicyOptions {
  memory?: MemoryLimits;
  /** Built-in errors abort the evaluation (an error, so a deny) instead of making the call undefined. */
  strict?: boolean;
  now?: () => bigint;
  print?: (message: string) => void;
}

/** A defined result, or undefined (`defined: false`). */
export interface Evaluation {
  defined: boolean;
  result?: unknown;
}

const encoder = new TextEncoder();

/** A compiled WebAssembly.Module (typed opaquely: the project's TypeScript libs do not declare WebAssembly). */
export type CompiledModule = object & { readonly __compiledModule?: never };

const wasmApi = (
  globalThis as unknown as { WebAssembly: { compile(bytes: Uint8Array): Promise<CompiledModule> } }
).WebAssembly;

/** Compiles module bytes (off the main thread where the runtime can). */
export function compileModule(bytes: Uint8Array): Promise<CompiledModule> {
  return wasmApi.compile(bytes);
}

export class PolicyInstance {
  readonly #policy: LoadedPolicy;
  readonly #builtins: ReturnType<typeof hostBuiltins>;
  readonly entrypoints: ReadonlySet<string>;

  private constructor(
    readonly bundle: PolicyBundle,
    policy: LoadedPolicy,
    builtins: ReturnType<typeof hostBuiltins>,
  ) {
    this.#policy = policy;
    this.#builtins = builtins;
    const exported = new Set(Object.keys(policy.entrypoints as Record<string, number>));
    this.entrypoints = exported;
  }

  /**
   * Instantiates the bundle's module (compiled already, or compiled here); checks the manifest's
   * entrypoints are exported.
   */
  static async load(
    bundle: PolicyBundle,
    options: PolicyOptions = {},
    compiled?: CompiledModule,
  ): Promise<PolicyInstance> {
    const initial = options.memory?.initialPages ?? 16;
    const maximum = Math.max(initial, options.memory?.maximumPages ?? 2048);
    const builtins = hostBuiltins({
      strict: options.strict ?? false,
      // Modules compiled by Airlock speak the tagged wire in host calls; those built by OPA, plain JSON.
      wire: speaksTaggedWire(bundle.wasm) ? 'tagged' : 'plain',
      ...(options.now ? { now: options.now } : {}),
      print: options.print ?? (() => {}),
    });
    const module = compiled ?? (await compileModule(bundle.wasm));
    const policy = await loadPolicy(module as never, { initial, maximum }, builtins);
    const instance = new PolicyInstance(bundle, policy, builtins);
    const missing = bundle.entrypoints.filter((e) => !instance.entrypoints.has(e));
    if (missing.length > 0)
      throw new Error(`the module does not export the manifest's entrypoint(s) ${missing.join(', ')}`);
    return instance;
  }

  /** Replaces the data document (bundle data merged with live data). */
  setData(data: Record<string, unknown>): void {
    this.#policy.setData(encoder.encode(JSON.stringify(data)).buffer as ArrayBuffer);
  }

  /** Evaluates an entrypoint. Throws on evaluation errors (callers fail closed). */
  evaluate(entrypoint: string, input: unknown): Evaluation {
    newEvaluation(this.#builtins);
    // The SDK treats a falsy input as absent: pass the JSON text so that `false`, 0 and "" arrive.
    const arg =
      input === undefined ? undefined : (encoder.encode(JSON.stringify(input)).buffer as ArrayBuffer);
    let rows: unknown;
    try {
      rows = this.#policy.evaluate(arg, entrypoint);
    } catch (err) {
      const located = withCallSite(err, this.#policy as never);
      throw located instanceof Error ? located : new Error(String(located));
    }
    if (!Array.isArray(rows) || rows.length === 0) return { defined: false };
    if (rows.length > 1)
      throw new Error(`entrypoint ${entrypoint} produced ${rows.length} results (conflict)`);
    const row = rows[0] as Record<string, unknown> | undefined;
    if (!row || !Object.hasOwn(row, 'result')) return { defined: false };
    return { defined: true, result: row.result };
  }
}
