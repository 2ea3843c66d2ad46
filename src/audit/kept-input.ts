// What of a decision input a `decision` event keeps, so that the decision can be replayed against
// another bundle later (src/replay/). The input goes to `details.input` without its `arguments` (they
// are the event's own `arguments` column, kept as the policy asked: masked where it redacted) and
// without a `result`. An input too large to keep is recorded by its size only; such a decision cannot
// be replayed.
import type { Json } from './types.js';

/** Most bytes of an input (without its arguments) copied into an event. */
export const MAX_KEPT_INPUT_BYTES = 64 * 1024;

/** `details.input` of a decision event: the input without `arguments` and `result`, or its size. */
export function keptInput(
  input: unknown,
): { input: Json } | { input_omitted_bytes: number } | { input_absent: true } {
  if (input === undefined) return { input_absent: true };
  let kept: unknown = input;
  if (input !== null && typeof input === 'object' && !Array.isArray(input)) {
    const { arguments: _args, result: _result, ...rest } = input as Record<string, unknown>;
    kept = rest;
  }
  const text = JSON.stringify(kept);
  const size = Buffer.byteLength(text);
  return size <= MAX_KEPT_INPUT_BYTES ? { input: JSON.parse(text) as Json } : { input_omitted_bytes: size };
}

/** The details of a decision event whose arguments were masked at these JSON pointers. */
export function maskedArguments(pointers: readonly string[] | undefined): { arguments_masked?: string[] } {
  return pointers && pointers.length > 0 ? { arguments_masked: [...pointers] } : {};
}
