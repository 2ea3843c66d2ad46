// The compiled runtime module (see runtime/*.as and scripts/build-runtime.mjs).
import { RUNTIME_WASM_BASE64 } from './runtime/runtime-wasm.js';

let cached: Uint8Array | undefined;

/** The runtime's WebAssembly bytes (decoded once; callers must not modify them). */
export function runtimeWasm(): Uint8Array {
  cached ??= new Uint8Array(Buffer.from(RUNTIME_WASM_BASE64, 'base64'));
  return cached;
}
