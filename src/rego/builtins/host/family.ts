// What every host built-in implementation sees: its operands, read through
// Args, and the evaluation context. It returns a value or undefined.
import type { Args } from './errors.js';
import type { Value } from './value.js';

export interface HostContext {
  /** Errors of kind eval_builtin_error abort instead of making the call undefined. */
  readonly strict: boolean;
  /** Nanoseconds since the epoch; one value per evaluation (memoised by the caller). */
  now(): bigint;
  /** Where print output goes (never stdout). */
  print(msg: string): void;
  /** Results that must stay stable within one evaluation (uuid.rfc4122, rand.intn). */
  readonly memo: Map<string, Value>;
}

export type HostImpl = (args: Args, ctx: HostContext) => Value | undefined;

export type Family = Readonly<Record<string, HostImpl>>;
