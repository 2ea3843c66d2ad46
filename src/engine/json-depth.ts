// How deeply a JSON text nests, found by a linear scan before parsing, so that a deeply nested
// document never reaches JSON.parse's recursion (or an evaluation's). Used wherever a request body
// becomes policy input: the decision API and the MCP gateway.

/** The deepest nesting of `text` (strings skipped), or -1 as soon as it passes `max`. */
export function jsonDepth(text: string, max: number): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92)
        i++; // backslash: skip the escaped character
      else if (c === 34) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 123 || c === 91) {
      depth++;
      if (depth > deepest) {
        deepest = depth;
        if (deepest > max) return -1;
      }
    } else if (c === 125 || c === 93) depth--;
  }
  return deepest;
}
