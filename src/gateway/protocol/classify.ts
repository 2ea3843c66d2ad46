// Which revision one HTTP POST to the MCP front speaks, decided from its body (the `_meta`
// envelope) with the headers as a cross-check, and the `Mcp-Method`/`Mcp-Name` headers held to the
// body: a WAF routing on the headers and Airlock deciding on the body must see the same call. A
// disagreement is refused with HTTP 400 and JSON-RPC error -32020 naming both sides, on every
// revision (session-revision clients do not send these headers; when one is sent it must be true).
import {
  claimsRevision,
  type Envelope,
  HEADER,
  isObject,
  isPerRequestRevision,
  META,
  metaOf,
  NAME_SOURCE,
  PER_REQUEST_REVISIONS,
  RevisionErrorCode,
  readEnvelope,
} from './revisions.js';

export interface RpcErrorBody {
  jsonrpc: '2.0';
  id: string | number | null;
  error: { code: number; message: string; data?: Record<string, unknown> };
}

export type Classified =
  /** A session revision (2025-11-25 and before): served by the SDK's server as before. */
  | { kind: 'session' }
  /** A 2026-07-28 request or notification. */
  | { kind: 'per-request'; message: PerRequestMessage; envelope: Envelope | undefined }
  /** Refused before anything runs. */
  | { kind: 'refused'; status: number; body: RpcErrorBody };

export interface PerRequestMessage {
  jsonrpc: '2.0';
  id?: string | number;
  method: string;
  params?: Record<string, unknown>;
}

type Headers = Record<string, string | string[] | undefined>;

/** One header's value, surrounding whitespace removed; the first when repeated. */
function header(headers: Headers, name: string): string | undefined {
  const v = headers[name];
  const s = Array.isArray(v) ? v[0] : v;
  return s === undefined ? undefined : s.trim();
}

const SENTINEL = /^=\?base64\?([A-Za-z0-9+/]*={0,2})\?=$/;

/** An `Mcp-Name` value as sent: plain ASCII, or `=?base64?…?=` around UTF-8. Undefined when malformed. */
export function decodeHeaderValue(value: string): string | undefined {
  if (!value.startsWith('=?base64?')) return value;
  const m = SENTINEL.exec(value);
  if (!m) return undefined;
  const bytes = Buffer.from(m[1] ?? '', 'base64');
  if (bytes.toString('base64') !== m[1]) return undefined;
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return undefined;
  }
}

const idOf = (m: unknown): string | number | null => {
  const id = isObject(m) ? m.id : undefined;
  return typeof id === 'string' || typeof id === 'number' ? id : null;
};

function refuse(
  message: unknown,
  code: number,
  text: string,
  data?: Record<string, unknown>,
  status = 400,
): Classified {
  return {
    kind: 'refused',
    status,
    body: { jsonrpc: '2.0', id: idOf(message), error: { code, message: text, ...(data ? { data } : {}) } },
  };
}

const mismatch = (message: unknown, header: string, sent: string, body: string) =>
  refuse(
    message,
    RevisionErrorCode.HeaderMismatch,
    `Bad Request: the ${header} header and the body disagree`,
    {
      mismatch: { header, sent, body },
    },
  );

/** The `Mcp-Method`/`Mcp-Name` checks; `required` on 2026-07-28 requests. */
function checkTarget(
  headers: Headers,
  message: Record<string, unknown>,
  required: boolean,
): Classified | undefined {
  const method = message.method as string;
  const sentMethod = header(headers, HEADER.method);
  if (sentMethod === undefined) {
    if (required) return mismatch(message, 'Mcp-Method', '(absent)', method);
  } else if (sentMethod !== method) return mismatch(message, 'Mcp-Method', sentMethod, method);
  const field = Object.hasOwn(NAME_SOURCE, method) ? NAME_SOURCE[method] : undefined;
  if (!field) return undefined;
  const target = isObject(message.params) ? message.params[field] : undefined;
  if (typeof target !== 'string') return undefined; // params validation names what is missing
  const sentName = header(headers, HEADER.name);
  if (sentName === undefined) return required ? mismatch(message, 'Mcp-Name', '(absent)', target) : undefined;
  const decoded = decodeHeaderValue(sentName);
  if (decoded === undefined)
    return refuse(
      message,
      RevisionErrorCode.HeaderMismatch,
      'Bad Request: the Mcp-Name header is not valid Base64 UTF-8',
      {
        mismatch: { header: 'Mcp-Name', sent: sentName, body: target },
      },
    );
  return decoded === target ? undefined : mismatch(message, 'Mcp-Name', sentName, target);
}

/** Classifies one POST body (already parsed JSON) with its headers. */
export function classify(headers: Headers, body: unknown): Classified {
  const sentVersion = header(headers, HEADER.protocolVersion);
  const headerPerRequest = sentVersion !== undefined && isPerRequestRevision(sentVersion);
  if (Array.isArray(body)) {
    if (headerPerRequest || body.some((m) => isObject(m) && claimsRevision(m.params)))
      return refuse(
        null,
        -32600,
        'Invalid Request: JSON-RPC batches are not part of protocol revision 2026-07-28',
      );
    return { kind: 'session' };
  }
  if (!isObject(body) || typeof body.method !== 'string') return { kind: 'session' }; // responses, malformed
  const isRequest = body.id !== undefined;
  if (!claimsRevision(body.params)) {
    if (!headerPerRequest) return checkTarget(headers, body, false) ?? { kind: 'session' };
    if (!isRequest) {
      // Notifications carry no envelope: the header says which revision they belong to.
      return (
        checkTarget(headers, body, false) ?? {
          kind: 'per-request',
          message: body as unknown as PerRequestMessage,
          envelope: undefined,
        }
      );
    }
    if (body.method === 'initialize')
      return mismatch(
        body,
        'MCP-Protocol-Version',
        sentVersion,
        'initialize (the handshake of revisions before 2026-07-28)',
      );
    return refuse(
      body,
      -32602,
      `Invalid params: the MCP-Protocol-Version header names ${sentVersion}, but params._meta lacks ${META.protocolVersion} (and the rest of the per-request envelope)`,
    );
  }
  const meta = metaOf(body.params) as Record<string, unknown>;
  const claimed = meta[META.protocolVersion];
  // A session revision named in `_meta` is a session request all the same.
  if (typeof claimed === 'string' && !isPerRequestRevision(claimed) && !headerPerRequest)
    return checkTarget(headers, body, false) ?? { kind: 'session' };
  const envelope = readEnvelope(meta);
  if ('problem' in envelope)
    return refuse(
      body,
      -32602,
      `Invalid params: the per-request _meta envelope is malformed: ${envelope.problem}`,
    );
  if (sentVersion !== undefined && sentVersion !== envelope.protocolVersion)
    return mismatch(body, 'MCP-Protocol-Version', sentVersion, envelope.protocolVersion);
  if (isRequest && sentVersion === undefined)
    return mismatch(body, 'MCP-Protocol-Version', '(absent)', envelope.protocolVersion);
  const target = checkTarget(headers, body, isRequest);
  if (target) return target;
  if (!PER_REQUEST_REVISIONS.includes(envelope.protocolVersion))
    return refuse(
      body,
      RevisionErrorCode.UnsupportedProtocolVersion,
      `Unsupported protocol version ${envelope.protocolVersion}`,
      { supported: [...PER_REQUEST_REVISIONS], requested: envelope.protocolVersion },
    );
  return { kind: 'per-request', message: body as unknown as PerRequestMessage, envelope };
}
