// `Mcp-Param-*` headers (protocol revision 2026-07-28, Streamable HTTP): a tool may declare, with
// `"x-mcp-header": "Region"` on a property of its input schema, that a `tools/call` repeats that
// argument in the `Mcp-Param-Region` header, so that a WAF or router can act on it without reading
// the body. Airlock holds those headers to the body as it does `Mcp-Method` and `Mcp-Name`: once the
// called tool is known (and visible to the caller), before the call is decided or forwarded, each
// declared argument present in the body must be in its header with the same value, and a header
// must not claim a value the body does not carry. A disagreement is HTTP 400, JSON-RPC -32020.
import { GatewayError } from '../errors.js';
import { decodeHeaderValue } from './classify.js';
import { isObject, RevisionErrorCode } from './revisions.js';

export interface ParamDeclaration {
  /** The argument's path through `properties`. */
  path: string[];
  /** The header's name after `Mcp-Param-`, as declared. */
  header: string;
  type: 'string' | 'integer' | 'boolean' | 'number';
}

const EXTENSION = 'x-mcp-header';
/** RFC 9110 `token`. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const TYPES = new Set(['string', 'integer', 'boolean', 'number']);
/** How deep `properties` is followed (schemas are bounded by the body limits already). */
const MAX_DEPTH = 16;

/**
 * The declarations of a tool's input schema: `x-mcp-header` on primitive-typed properties reached
 * through `properties` alone. Declarations the specification does not allow (elsewhere in the
 * schema, on other types, not a token, repeated case-insensitively) are not checked: the
 * specification makes such a tool definition invalid, and a conforming client sends no header for it.
 */
export function paramDeclarations(schema: unknown): ParamDeclaration[] {
  const out: ParamDeclaration[] = [];
  const seen = new Set<string>();
  const visit = (node: unknown, path: string[]) => {
    if (!isObject(node) || path.length > MAX_DEPTH) return;
    const name = node[EXTENSION];
    if (path.length > 0 && typeof name === 'string' && TOKEN.test(name) && TYPES.has(String(node.type))) {
      const lower = name.toLowerCase();
      if (!seen.has(lower)) {
        seen.add(lower);
        out.push({ path, header: name, type: node.type as ParamDeclaration['type'] });
      }
    }
    if (isObject(node.properties))
      for (const [key, child] of Object.entries(node.properties)) visit(child, [...path, key]);
  };
  visit(schema, []);
  return out;
}

/** The header text of an argument's value, as a client encodes it; undefined for non-primitives. */
function asText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return undefined;
}

const DECIMAL = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/;

function valueAt(args: Record<string, unknown>, path: string[]): unknown {
  let node: unknown = args;
  for (const key of path) {
    if (!isObject(node)) return undefined;
    node = node[key];
  }
  return node;
}

type Headers = Record<string, string | string[] | undefined>;

const mismatch = (header: string, sent: string, body: string) =>
  new GatewayError(
    RevisionErrorCode.HeaderMismatch,
    `Bad Request: the ${header} header and the body disagree`,
    {
      mismatch: { header, sent, body },
    },
  );

/** The first disagreement between the `Mcp-Param-*` headers and the arguments, or undefined. */
export function checkParamHeaders(
  headers: Headers,
  inputSchema: unknown,
  args: Record<string, unknown>,
): GatewayError | undefined {
  for (const d of paramDeclarations(inputSchema)) {
    const header = `Mcp-Param-${d.header}`;
    const raw = headers[header.toLowerCase()];
    const sent = (Array.isArray(raw) ? raw[0] : raw)?.trim();
    const value = valueAt(args, d.path);
    const field = d.path.join('.');
    const text = value === undefined || value === null ? undefined : asText(value);
    if (text === undefined) {
      if (sent !== undefined) return mismatch(header, sent, `${field} (absent)`);
      continue;
    }
    if (sent === undefined) return mismatch(header, '(absent)', `${field}=${JSON.stringify(value)}`);
    const decoded = decodeHeaderValue(sent);
    if (decoded === undefined) return mismatch(header, sent, `${field}=${JSON.stringify(value)}`);
    const same =
      typeof value === 'number' && DECIMAL.test(decoded) ? Number(decoded) === value : decoded === text;
    if (!same) return mismatch(header, sent, `${field}=${JSON.stringify(value)}`);
  }
  return undefined;
}
