// Calls host built-ins the way the SDK does: wire values in (parsed JSON), JSON bytes out.
import {
  HOST_IMPLEMENTATIONS,
  type HostBuiltinsOptions,
  hostBuiltins,
  type WireMode,
} from '../../../../src/rego/builtins/host/index.js';

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
