// The input's size and shape, bounded before it is handed to an evaluation: how many values it holds,
// how deeply it nests, and how many bytes its JSON text has. The walk stops at the first limit
// passed, so an oversized input costs the caller little; the error names the setting to raise.

export interface InputLimits {
  /** Most bytes of the input's JSON text (default 8 MiB). */
  maxBytes: number;
  /** Deepest nesting of objects and arrays (default 128). */
  maxDepth: number;
  /** Most values (objects, arrays, strings, numbers, booleans, nulls) in the input (default 250,000). */
  maxNodes: number;
}

export const DEFAULT_INPUT_LIMITS: InputLimits = {
  maxBytes: 8 * 1024 * 1024,
  maxDepth: 128,
  maxNodes: 250_000,
};

/** The input passes a limit: `limit` names the setting (`max_bytes`, `max_depth`, `max_nodes`). */
export class InputLimitError extends Error {
  constructor(
    readonly limit: 'max_bytes' | 'max_depth' | 'max_nodes',
    message: string,
  ) {
    super(message);
    this.name = 'InputLimitError';
  }
}

/** Checks `input` against `limits` and returns its JSON text (undefined for no input). */
export function encodeInput(input: unknown, limits: InputLimits): string | undefined {
  if (input === undefined) return undefined;
  let nodes = 0;
  const stack: [unknown, number][] = [[input, 1]];
  while (stack.length > 0) {
    const [value, depth] = stack.pop()!;
    if (++nodes > limits.maxNodes)
      throw new InputLimitError(
        'max_nodes',
        `input holds more than ${limits.maxNodes} values (engine.input_limits.max_nodes)`,
      );
    if (value === null || typeof value !== 'object') continue;
    if (depth > limits.maxDepth)
      throw new InputLimitError(
        'max_depth',
        `input nests deeper than ${limits.maxDepth} levels (engine.input_limits.max_depth)`,
      );
    const children = Array.isArray(value) ? value : Object.values(value);
    for (const child of children) stack.push([child, depth + 1]);
  }
  const text = JSON.stringify(input);
  // A UTF-8 byte is at least one UTF-16 unit and at most three: count exactly only when it matters.
  if (
    text.length > limits.maxBytes ||
    (text.length * 3 > limits.maxBytes && Buffer.byteLength(text) > limits.maxBytes)
  )
    throw new InputLimitError(
      'max_bytes',
      `input is larger than ${limits.maxBytes} bytes as JSON (engine.input_limits.max_bytes)`,
    );
  return text;
}
