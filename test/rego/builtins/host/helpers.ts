// Calls host built-ins the way the SDK does: wire values in (parsed JSON), JSON bytes out.
import { loadPolicy } from '@open-policy-agent/opa-wasm';
import {
  evaluate as evaluatePolicy,
  HOST_IMPLEMENTATIONS,
  type HostBuiltinsOptions,
  hostBuiltins,
  type WireMode,
} from '../../../../src/rego/builtins/host/index.js';
import { compile } from '../../../../src/rego/compile.js';
import { withCallSite } from '../../../../src/rego/wasm/index.js';

export interface Caller {
  call(name: string, ...args: unknown[]): unknown;
  /** The raw JSON text the module would receive, or undefined. */
  text(name: string, ...args: unknown[]): string | undefined;
}

export function host(options: Partial<HostBuiltinsOptions> & { wire?: WireMode } = {}): Caller {
  // Every implementation, also those the Wasm module runs natively (so they are tested here too).
  // These tests speak plain JSON unless they ask for the tagged wire (hostBuiltins' default).
  const b = hostBuiltins({
    strict: true,
    names: Object.keys(HOST_IMPLEMENTATIONS),
    wire: 'plain',
    ...options,
  });
  const text = (name: string, ...args: unknown[]): string | undefined => {
    const f = b[name];
    if (!f) throw new Error(`no host built-in ${name}`);
    const out = f(...args);
    return out === undefined ? undefined : new TextDecoder().decode(out as ArrayBuffer);
  };
  return {
    text,
    call: (name, ...args) => {
      const t = text(name, ...args);
      return t === undefined ? undefined : JSON.parse(t);
    },
  };
}

// End to end: a Rego module compiled by Airlock, evaluated by the stock SDK with hostBuiltins().

export interface Outcome {
  value?: unknown;
  error?: string;
}

/** Compiles `text` and evaluates `entrypoint` (default: the whole package `test`). */
export async function evaluate(
  text: string,
  opts: { strict: boolean; input?: unknown; entrypoint?: string },
): Promise<Outcome> {
  const entrypoint = opts.entrypoint ?? 'test';
  const out = compile({
    sources: [{ file: 'test.rego', text }],
    entrypoints: [entrypoint],
    annotatedEntrypoints: false,
    optimize: false,
  });
  if (!out.wasm) throw new Error(out.errors.map((e) => `${e.code}: ${e.message}`).join('; '));
  const builtins = hostBuiltins({ strict: opts.strict });
  const policy = await loadPolicy(out.wasm, undefined, builtins);
  try {
    const rows = evaluatePolicy(policy, builtins, opts.input, entrypoint) as { result: unknown }[];
    return rows.length === 0 ? {} : { value: rows[0]?.result };
  } catch (caught) {
    // As callers do: a host built-in's error gets the module's `file:row` of the call.
    const e = withCallSite(caught, policy);
    return { error: e instanceof Error ? e.message : String(e) };
  }
}
