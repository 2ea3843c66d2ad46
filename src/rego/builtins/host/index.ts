// Built-in functions implemented on the host: the SDK's custom built-ins object.
//
//   const builtins = hostBuiltins({ strict: false, print: (m) => log.info(m) });
//   const policy = await loadPolicy(wasm, undefined, builtins);
//   evaluate(policy, builtins, input, entrypoint);   // or: newEvaluation(builtins); policy.evaluate(…)
//
// newEvaluation() starts a new time.now_ns / uuid.rfc4122 / rand.intn epoch:
// the SDK keeps the custom built-ins for the policy's lifetime, so the engine
// marks where one evaluation ends. Built-ins the SDK implements itself
// (SHADOWED_BY_SDK) never reach us under their own name; a module that imports
// them as hostImportName(name) gets ours.
//
// Every call goes through one decode step (wire → host values), the
// implementation, and one encode step (host value → wire). OPA's error rules:
// an error (eval_type_error or eval_builtin_error) makes the call undefined; in
// strict mode it is also raised: at the end of an evaluation run by evaluate()
// (unless the evaluation itself failed, as OPA does), at once when the caller
// runs policy.evaluate itself. Native built-ins (run in the module) report their
// errors through BUILTIN_ERROR_IMPORT under the same rule.
import { BUILTIN_ERROR_IMPORT, hostImportName, NATIVE_BUILTINS } from '../../wasm/builtins.js';
import { hostErrorLocation, type LoadedModule } from '../../wasm/call-site.js';
import { aws } from './aws.js';
import { crypto } from './crypto.js';
import { encoding } from './encoding.js';
import { Args, BuiltinError, builtinError } from './errors.js';
import type { Family, HostContext, HostImpl } from './family.js';
import { misc } from './misc.js';
import { net } from './net.js';
import { numbers } from './numbers.js';
import { objects } from './objects.js';
import { regexFamily } from './regex.js';
import { strings } from './strings.js';
import { time } from './time.js';
import { types } from './types.js';
import { type Codec, codecFor, type Value, type WireMode } from './value.js';
import { x509 } from './x509.js';

export { Args, BuiltinError, type BuiltinErrorCode, builtinError, typeError } from './errors.js';
export type { Family, HostContext, HostImpl } from './family.js';
export {
  type Codec,
  codecFor,
  compare,
  decodeBytes,
  equal,
  fromJS,
  plainCodec,
  RegoObject,
  RegoSet,
  type TypeName,
  taggedCodec,
  toJS,
  toJSONText,
  typeName,
  type Value,
  type WireMode,
} from './value.js';

export interface HostBuiltinsOptions {
  /** Built-in errors (wrong operand types, bad regex, bad base64…) abort the evaluation instead of making the call undefined. */
  strict: boolean;
  /** Current time in ns since the epoch; read once per evaluation. Default: the system clock. */
  now?: () => bigint;
  /** Receives print() output. Default: discarded (never stdout). */
  print?: (msg: string) => void;
  /**
   * Wire format between the module and the host. Default 'tagged': what modules compiled by
   * Airlock speak during host calls (see src/rego/wasm/index.ts). 'plain' for modules built by
   * other compilers (`opa build -t wasm`), whose host calls use plain JSON.
   */
  wire?: WireMode;
  /**
   * The built-ins to provide (e.g. a module's import table). Default: hostBuiltinNames().
   * A name with no host implementation is an error.
   */
  names?: Iterable<string>;
}

/** A built-in as the SDK calls it: wire values in, wire value (JSON bytes) or undefined out. */
export type SdkBuiltin = (...args: unknown[]) => unknown;

export type HostBuiltins = Record<string, SdkBuiltin>;

/** Every family, by built-in name. */
export const HOST_IMPLEMENTATIONS: Readonly<Record<string, HostImpl>> = {
  ...numbers,
  ...types,
  ...strings,
  ...regexFamily,
  ...objects,
  ...encoding,
  ...crypto,
  ...time,
  ...net,
  ...misc,
  ...aws,
  ...x509,
};

// SHADOWED_BY_SDK, hostImportName and HOST_ALIAS_PREFIX live with the module's import table (../../wasm/builtins.ts).
export { HOST_ALIAS_PREFIX, hostImportName, SHADOWED_BY_SDK } from '../../wasm/builtins.js';

/** Where a built-in runs: in the Wasm module, in the host, or both (native code that may defer to the host). */
export function runsWhere(name: string): 'wasm' | 'host' | 'wasm+host' | undefined {
  const native = NATIVE_BUILTINS.get(name);
  const host = HOST_IMPLEMENTATIONS[name] !== undefined;
  if (native) return native.defer && host ? 'wasm+host' : 'wasm';
  return host ? 'host' : undefined;
}

/** Names of the built-ins the host serves: all but the native ones, except natives that may defer to the host. */
export function hostBuiltinNames(): string[] {
  return Object.keys(HOST_IMPLEMENTATIONS)
    .filter((n) => {
      const native = NATIVE_BUILTINS.get(n);
      return native === undefined || native.defer === true;
    })
    .sort();
}

const contexts = new WeakMap<HostBuiltins, HostContext & { memo: Map<string, Value> }>();

/**
 * Strict-mode errors of one evaluation run through evaluate(): recorded (the first one kept,
 * located), not thrown, so that evaluation goes on as OPA's does.
 */
interface Deferral {
  /** `file:row` of the host call in progress, when the module says. */
  site(): string | undefined;
  first?: Error;
}

const deferrals = new WeakMap<HostBuiltins, { current?: Deferral }>();

/** A built-in error in strict mode: recorded when evaluate() runs the evaluation, else thrown. */
function raise(slot: { current?: Deferral }, err: Error, located: boolean): undefined {
  const d = slot.current;
  if (!d) throw err;
  if (!d.first) {
    const site = located ? undefined : d.site();
    if (site !== undefined) err.message = `${site}: ${err.message}`;
    d.first = err;
  }
  return undefined;
}

/** Starts a new evaluation: time.now_ns, uuid.rfc4122 and rand.intn may change from here on. */
export function newEvaluation(builtins: HostBuiltins): void {
  contexts.get(builtins)?.memo.clear();
}

function wrap(
  name: string,
  impl: HostImpl,
  ctx: HostContext,
  wire: WireMode,
  slot: { current?: Deferral },
): SdkBuiltin {
  const codec = codecFor(wire);
  return (...raw: unknown[]) => {
    try {
      const args = new Args(
        name,
        raw.map((x) => codec.decode(x)),
        raw,
      );
      const out = impl(args, ctx);
      return out === undefined ? undefined : codec.encode(out);
    } catch (e) {
      // Anything but a BuiltinError is a slip of the implementation: its text is JavaScript's,
      // not OPA's, and stays out of the message.
      const err =
        e instanceof BuiltinError ? e : builtinError(name, 'internal error evaluating the built-in');
      if (!ctx.strict) return undefined;
      return raise(slot, err, false);
    }
  };
}

/** An error a native built-in reported (its message already names the call site). */
export class NativeBuiltinError extends Error {
  override readonly name = 'NativeBuiltinError';
}

/** The module's reporter of native built-in errors: raises in strict mode, else undefined. */
function reporter(ctx: HostContext, codec: Codec, slot: { current?: Deferral }): SdkBuiltin {
  return (raw: unknown) => {
    if (!ctx.strict) return undefined;
    let message: Value | undefined;
    try {
      message = codec.decode(raw);
    } catch {
      message = undefined;
    }
    return raise(
      slot,
      new NativeBuiltinError(typeof message === 'string' ? message : 'eval_builtin_error: built-in error'),
      true,
    );
  };
}

export function hostBuiltins(options: HostBuiltinsOptions): HostBuiltins {
  const memo = new Map<string, Value>();
  const clock = options.now ?? (() => BigInt(Date.now()) * 1_000_000n);
  let nowValue: bigint | undefined;
  const ctx: HostContext = {
    strict: options.strict,
    memo,
    now: () => {
      if (!memo.has('time.now_ns') || nowValue === undefined) {
        nowValue = clock();
        memo.set('time.now_ns', null);
      }
      return nowValue;
    },
    print: options.print ?? (() => {}),
  };
  const out: HostBuiltins = {};
  const slot: { current?: Deferral } = {};
  for (const name of options.names ?? hostBuiltinNames()) {
    const impl = HOST_IMPLEMENTATIONS[name];
    if (!impl) throw new Error(`no host implementation of built-in ${name}`);
    out[name] = wrap(name, impl, ctx, options.wire ?? 'tagged', slot);
    const alias = hostImportName(name);
    if (alias !== name) out[alias] = out[name] as SdkBuiltin;
  }
  out[BUILTIN_ERROR_IMPORT] = reporter(ctx, codecFor(options.wire ?? 'tagged'), slot);
  contexts.set(out, ctx);
  deferrals.set(out, slot);
  return out;
}

/** What evaluate() needs of the SDK's LoadedPolicy. */
export interface EvaluablePolicy extends LoadedModule {
  evaluate(input?: unknown, entrypoint?: string | number): unknown;
}

/**
 * One evaluation as OPA runs it (starts a new evaluation, see newEvaluation). In strict mode a
 * built-in error does not stop evaluation: the call is undefined and the error recorded; an
 * error of the evaluation itself (a conflict) still ends it and is what is thrown; otherwise
 * the first built-in error, located `file:row`, is thrown at the end (OPA: topdown evalBuiltin
 * appends to builtinErrors, and Query.Iter returns the first one when strict). `builtins` must
 * be the custom built-ins the policy was loaded with; outside strict mode nothing is recorded.
 */
export function evaluate(
  policy: EvaluablePolicy,
  builtins: HostBuiltins,
  input: unknown,
  entrypoint: string | number,
): unknown {
  newEvaluation(builtins);
  const slot = deferrals.get(builtins);
  if (!slot) return policy.evaluate(input, entrypoint);
  const d: Deferral = { site: () => hostErrorLocation(policy) };
  slot.current = d;
  let rows: unknown;
  try {
    rows = policy.evaluate(input, entrypoint);
  } finally {
    slot.current = undefined;
  }
  if (d.first) throw d.first;
  return rows;
}

export type { Family as HostFamily };
