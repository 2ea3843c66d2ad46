// What of a decision input a `decision` event keeps, so that the decision can be replayed against
// another bundle later (src/replay/). The input goes to `details.input` without its `arguments` (they
// are the event's own `arguments` column, kept as the policy asked: masked where it redacted) and
// without a `result`. An input too large to keep is recorded by its size only; such a decision cannot
// be replayed.
import type { Json } from './types.js';

/** What a masked value of the kept input reads (the gateway's argument mask). */
export const VALUE_MASK = '[REDACTED]';

/** Most bytes of an input (without its arguments) copied into an event. */
export const MAX_KEPT_INPUT_BYTES = 64 * 1024;

/** `details.input` of a decision event: the input without `arguments` and `result`, or its size. */
export function keptInput(
  input: unknown,
  options: { maskValuesOf?: readonly string[] } = {},
): { input: Json; input_masked?: string[] } | { input_omitted_bytes: number } | { input_absent: true } {
  if (input === undefined) return { input_absent: true };
  let kept: unknown = input;
  const masked: string[] = [];
  if (input !== null && typeof input === 'object' && !Array.isArray(input)) {
    const { arguments: _args, result: _result, ...rest } = input as Record<string, unknown>;
    // Members that may carry credentials (a forward-auth request's headers and query): names kept, values masked.
    for (const name of options.maskValuesOf ?? []) {
      const member = rest[name];
      if (member === null || typeof member !== 'object' || Array.isArray(member)) continue;
      rest[name] = Object.fromEntries(Object.keys(member).map((k) => [k, VALUE_MASK]));
      masked.push(name);
    }
    kept = rest;
  }
  const text = JSON.stringify(kept);
  const size = Buffer.byteLength(text);
  if (size > MAX_KEPT_INPUT_BYTES) return { input_omitted_bytes: size };
  return { input: JSON.parse(text) as Json, ...(masked.length > 0 ? { input_masked: masked } : {}) };
}

/** The details of a decision event whose arguments were masked at these JSON pointers. */
export function maskedArguments(pointers: readonly string[] | undefined): { arguments_masked?: string[] } {
  return pointers && pointers.length > 0 ? { arguments_masked: [...pointers] } : {};
}
