// Hand-written plan IR for the back-end tests, and a loader through the stock SDK.
import { loadPolicy } from '@open-policy-agent/opa-wasm';
import { hostBuiltins } from '../../../src/rego/builtins/host/index.js';
import type * as ir from '../../../src/rego/plan/ir.js';
import { BUILTIN_ERROR_IMPORT } from '../../../src/rego/wasm/builtins.js';
import { compileToWasm } from '../../../src/rego/wasm/index.js';

export const at: ir.Location = { file: 0, row: 1, col: 1 };

/** Location helper: line `row` of file 0. */
export function line(row: number, col = 1): ir.Location {
  return { file: 0, row, col };
}

export const l = (n: number): ir.Operand => ({ kind: 'local', local: n });
export const s = (index: number): ir.Operand => ({ kind: 'string', index });
export const b = (value: boolean): ir.Operand => ({ kind: 'bool', value });

/** Statements that wrap local `value` as {"result": value} and add it to the result set (uses locals 90, 91). */
export function emitResult(value: number, resultKey: number): ir.Stmt[] {
  return [
    { type: 'make-object', target: 91, loc: at },
    { type: 'object-insert', key: s(resultKey), value: l(value), object: 91, loc: at },
    { type: 'result-set-add', value: 91, loc: at },
  ];
}

export function makePolicy(parts: {
  strings: string[];
  plans: ir.Plan[];
  funcs?: ir.Func[];
  builtins?: ir.BuiltinFunc[];
}): ir.Policy {
  return {
    static: { strings: parts.strings, builtinFuncs: parts.builtins ?? [], files: ['policy.rego'] },
    plans: parts.plans,
    funcs: parts.funcs ?? [],
  };
}

// biome-ignore lint/suspicious/noExplicitAny: the SDK is untyped JavaScript
export type LoadedPolicy = any;

/** The parts of WebAssembly.Memory the tests use (the project's lib settings do not declare WebAssembly). */
export interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}

interface ModuleDescriptor {
  readonly kind: string;
  readonly name: string;
  readonly module?: string;
}

/** The global WebAssembly API, typed just enough for the tests. */
export const wasmApi = (
  globalThis as unknown as {
    WebAssembly: {
      Module: {
        new (bytes: Uint8Array): object;
        exports(m: object): ModuleDescriptor[];
        imports(m: object): ModuleDescriptor[];
      };
    };
  }
).WebAssembly;

/**
 * Compiles and loads a plan. Native built-in errors reach the host's reporter in strict mode
 * (they throw; reporter(false) for the other mode) unless customBuiltins replaces it.
 */
export async function load(
  policy: ir.Policy,
  customBuiltins: Record<string, (...args: unknown[]) => unknown> = {},
): Promise<LoadedPolicy> {
  const wasm = compileToWasm(policy);
  return loadPolicy(wasm, undefined, { ...reporter(true), ...customBuiltins });
}

/** The host's reporter of native built-in errors alone (strict: it throws; else undefined). */
export function reporter(strict: boolean): Record<string, (...args: unknown[]) => unknown> {
  const all = hostBuiltins({ strict });
  return { [BUILTIN_ERROR_IMPORT]: all[BUILTIN_ERROR_IMPORT] as (...args: unknown[]) => unknown };
}

/**
 * Evaluates entrypoint `entrypoint` through the module's opa_eval export exactly as the SDK's
 * fast path does, but returns the raw result text (the SDK's JSON.parse would round big numbers).
 */
export function evalRaw(pol: LoadedPolicy, input: string | undefined, entrypoint = 0, format = 0): string {
  const exports = pol.wasmInstance.exports;
  const mem: WasmMemory = pol.mem;
  let inputAddr = 0;
  let inputLen = 0;
  if (input !== undefined) {
    const bytes = new TextEncoder().encode(input);
    inputAddr = pol.dataHeapPtr;
    inputLen = bytes.length;
    const need = inputAddr + inputLen - mem.buffer.byteLength;
    if (need > 0) mem.grow(Math.ceil(need / 65536));
    new Uint8Array(mem.buffer).set(bytes, inputAddr);
  }
  const addr = exports.opa_eval(
    0,
    entrypoint,
    pol.dataAddr,
    inputAddr,
    inputLen,
    pol.dataHeapPtr + inputLen,
    format,
  );
  return cString(mem, addr);
}

/** Reads a NUL-terminated UTF-8 string from memory. */
export function cString(mem: WasmMemory, addr: number): string {
  const buf = new Uint8Array(mem.buffer);
  let end = addr;
  while (buf[end] !== 0) end++;
  return new TextDecoder().decode(buf.subarray(addr, end));
}

/** Writes text into the module's memory with opa_malloc; returns [address, byte length]. */
export function writeText(pol: LoadedPolicy, text: string): [number, number] {
  const bytes = new TextEncoder().encode(text);
  const addr = pol.wasmInstance.exports.opa_malloc(bytes.length);
  new Uint8Array((pol.mem as WasmMemory).buffer).set(bytes, addr);
  return [addr, bytes.length];
}

/** A plan named `name` returning the value of `expr` statements' local 2 as the result (strings[0] must be "result"). */
export function returning(name: string, stmts: ir.Stmt[], value = 2): ir.Plan {
  return { name, blocks: [{ stmts: [...stmts, ...emitResult(value, 0)] }] };
}
