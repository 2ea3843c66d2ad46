// One loaded policy: the bundle's Wasm module in the stock SDK, with the host built-ins, its data set,
// memory bounded. Evaluation is synchronous and single-threaded: the engine runs instances in its
// evaluation workers (worker.ts) and loads one on its own thread only to check a bundle.
import { type LoadedPolicy, loadPolicy } from '@open-policy-agent/opa-wasm';
import { evaluate, hostBuiltins } from '../rego/builtins/host/index.js';
import type { WireMode } from '../rego/builtins/host/value.js';
// call-site.js rather than the back end's index: workers load this file and need no compiler.
import { speaksTaggedWire, withCallSite } from '../rego/wasm/call-site.js';
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

/** How a compiled module is instantiated: what `load` reads from a bundle, and workers get by message. */
export interface InstanceSpec {
  /** Modules compiled by Airlock speak the tagged wire in host calls; those built by OPA, plain JSON. */
  wire: WireMode;
  /** The manifest's entrypoints: each must be exported. */
  entrypoints: readonly string[];
}

/** The host-call wire `wasm` speaks. */
export function wireOf(wasm: Uint8Array): WireMode {
  return speaksTaggedWire(wasm) ? 'tagged' : 'plain';
}

export class PolicyInstance {
  readonly #policy: LoadedPolicy;
  readonly #builtins: ReturnType<typeof hostBuiltins>;
  readonly entrypoints: ReadonlySet<string>;

  private constructor(policy: LoadedPolicy, builtins: ReturnType<typeof hostBuiltins>) {
    this.#policy = policy;
    this.#builtins = builtins;
    this.entrypoints = new Set(Object.keys(policy.entrypoints as Record<string, number>));
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
    const module = compiled ?? (await compileModule(bundle.wasm));
    return PolicyInstance.instantiate(
      module,
      { wire: wireOf(bundle.wasm), entrypoints: bundle.entrypoints },
      options,
    );
  }

  /** Instantiates a compiled module; checks the entrypoints are exported. */
  static async instantiate(
    module: CompiledModule,
    spec: InstanceSpec,
    options: PolicyOptions = {},
  ): Promise<PolicyInstance> {
    const initial = options.memory?.initialPages ?? 16;
    const maximum = Math.max(initial, options.memory?.maximumPages ?? 2048);
    const builtins = hostBuiltins({
      strict: options.strict ?? false,
      wire: spec.wire,
      ...(options.now ? { now: options.now } : {}),
      print: options.print ?? (() => {}),
    });
    const policy = await loadPolicy(module as never, { initial, maximum }, builtins);
    const instance = new PolicyInstance(policy, builtins);
    const missing = spec.entrypoints.filter((e) => !instance.entrypoints.has(e));
    if (missing.length > 0)
      throw new Error(`the module does not export the manifest's entrypoint(s) ${missing.join(', ')}`);
    return instance;
  }

  /** Replaces the data document (bundle data merged with live data). */
  setData(data: Record<string, unknown>): void {
    this.setDataText(JSON.stringify(data));
  }

  /** Replaces the data document, given as JSON text. */
  setDataText(text: string): void {
    this.#policy.setData(encoder.encode(text).buffer as ArrayBuffer);
  }

  /** Evaluates an entrypoint. Throws on evaluation errors (callers fail closed). */
  evaluate(entrypoint: string, input: unknown): Evaluation {
    return this.evaluateText(entrypoint, input === undefined ? undefined : JSON.stringify(input));
  }

  /** Evaluates an entrypoint on an input given as JSON text (undefined: no input). */
  evaluateText(entrypoint: string, input: string | undefined): Evaluation {
    // The SDK treats a falsy input as absent: pass the JSON text so that `false`, 0 and "" arrive.
    const arg = input === undefined ? undefined : (encoder.encode(input).buffer as ArrayBuffer);
    let rows: unknown;
    try {
      rows = evaluate(this.#policy as never, this.#builtins, arg, entrypoint);
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
