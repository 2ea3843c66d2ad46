// Where a host built-in error happened. The SDK calls host built-ins with no
// call site, so an error they throw (strict mode) reaches the caller as
// "eval_type_error: NAME: …". Modules compiled by Airlock keep the `file:row`
// of the host call in progress (left set when the call throws) and export it
// as HOST_CALL_SITE_EXPORT; these helpers read it after a failed evaluation,
// before the next one starts (which clears it).
import { HOST_CALL_SITE_EXPORT } from './builtins.js';

/** What the helpers need of the SDK's LoadedPolicy. */
export interface LoadedModule {
  readonly mem: { readonly buffer: ArrayBufferLike };
  readonly wasmInstance: unknown;
}

/** Longest location text read back (file names are the policy's own, bounded anyway). */
const MAX_SITE_BYTES = 4096;

function siteExport(policy: LoadedModule): (() => number) | undefined {
  const inst = policy.wasmInstance as { exports?: Record<string, unknown> } | undefined;
  const fn = inst?.exports?.[HOST_CALL_SITE_EXPORT];
  return typeof fn === 'function' ? (fn as () => number) : undefined;
}

/**
 * True when a module's host calls speak the tagged wire format (it was compiled by
 * Airlock: it exports HOST_CALL_SITE_EXPORT); false for other modules (`opa build`)
 * and for bytes that are not a WebAssembly module. Reads the export section only.
 */
export function speaksTaggedWire(wasm: Uint8Array): boolean {
  const want = new TextEncoder().encode(HOST_CALL_SITE_EXPORT);
  let p = 8; // magic and version
  if (wasm.length < p || wasm[0] !== 0 || wasm[1] !== 0x61 || wasm[2] !== 0x73 || wasm[3] !== 0x6d)
    return false;
  const leb = (): number => {
    let v = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      const b = wasm[p++];
      if (b === undefined) return -1;
      v += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return v;
    }
    return -1;
  };
  while (p < wasm.length) {
    const id = wasm[p++];
    const size = leb();
    if (size < 0 || p + size > wasm.length) return false;
    if (id !== 7) {
      p += size;
      continue;
    }
    const end = p + size;
    const count = leb();
    for (let i = 0; i < count && p < end; i++) {
      const len = leb();
      if (len < 0 || p + len > end) return false;
      const name = wasm.subarray(p, p + len);
      p += len;
      if (len === want.length && name.every((b, j) => b === want[j])) return true;
      p++; // kind
      if (leb() < 0) return false;
    }
    return false;
  }
  return false;
}

/**
 * `file:row` of the host built-in call in progress or of the last one that threw in
 * the current evaluation; undefined when there is none or the module does not say.
 */
export function hostErrorLocation(policy: LoadedModule): string | undefined {
  const fn = siteExport(policy);
  if (!fn) return undefined;
  const addr = fn() >>> 0;
  if (addr === 0) return undefined;
  const bytes = new Uint8Array(policy.mem.buffer);
  let end = addr;
  const limit = Math.min(bytes.length, addr + MAX_SITE_BYTES);
  while (end < limit && bytes[end] !== 0) end++;
  const text = new TextDecoder().decode(bytes.subarray(addr, end));
  return text === '' ? undefined : text;
}

/** A message that already starts with a location (`file:row: ` or `file:row:col: `). */
const LOCATED = /^\S+:\d+(?::\d+)?: /;

/**
 * Prefixes `file:row: ` of the failing host call to an evaluation error that
 * lacks a location, as OPA reports built-in errors. Returns the error in its
 * own shape (Error: message rewritten in place; string; `{message}` object:
 * a copy); anything else, or an error with a location, unchanged.
 */
export function withCallSite<E>(err: E, policy: LoadedModule): E {
  const message =
    typeof err === 'string'
      ? err
      : err !== null && typeof err === 'object' && typeof (err as { message?: unknown }).message === 'string'
        ? (err as unknown as { message: string }).message
        : undefined;
  if (message === undefined || LOCATED.test(message)) return err;
  const site = hostErrorLocation(policy);
  if (site === undefined) return err;
  const located = `${site}: ${message}`;
  if (typeof err === 'string') return located as E;
  if (err instanceof Error) {
    err.message = located;
    return err;
  }
  return { ...(err as object), message: located } as unknown as E;
}
