// A deliberately plain MCP client for the demo: one JSON-RPC message per HTTP POST (the gateway
// is stateless Streamable HTTP), so the narration can show exactly what goes over the wire.
import { LATEST_PROTOCOL_VERSION } from '@modelcontextprotocol/sdk/types.js';

export interface JsonRpcError {
  code: number;
  message: string;
  data?: Record<string, unknown>;
}

export interface McpExchange {
  /** The JSON-RPC request as sent. */
  request: { jsonrpc: '2.0'; id: number; method: string; params?: Record<string, unknown> };
  status: number;
  result?: Record<string, unknown>;
  error?: JsonRpcError;
  /** The body when it is not a JSON-RPC response (e.g. an HTTP problem). */
  raw?: string;
}

export interface AgentSession {
  endpoint: string;
  token: string;
  /** Declared (unattested) model, `provider/name`. */
  model?: string;
  modelHeader?: string;
}

let nextId = 1;

/** The JSON-RPC response of a JSON or an SSE answer. */
function parseAnswer(contentType: string, text: string): unknown {
  if (contentType.includes('text/event-stream')) {
    const data = text
      .split('\n')
      .filter((l) => l.startsWith('data:'))
      .map((l) => l.slice(5).trim());
    for (const d of data) {
      const m = JSON.parse(d) as { id?: unknown };
      if (m.id !== undefined) return m;
    }
    return undefined;
  }
  return text ? JSON.parse(text) : undefined;
}

export async function mcp(
  session: AgentSession,
  method: string,
  params?: Record<string, unknown>,
): Promise<McpExchange> {
  const request = { jsonrpc: '2.0' as const, id: nextId++, method, ...(params ? { params } : {}) };
  const res = await fetch(session.endpoint, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': LATEST_PROTOCOL_VERSION,
      authorization: `Bearer ${session.token}`,
      ...(session.model ? { [session.modelHeader ?? 'x-airlock-model']: session.model } : {}),
    },
    body: JSON.stringify(request),
  });
  const text = await res.text();
  let answer: { result?: Record<string, unknown>; error?: JsonRpcError } | undefined;
  try {
    answer = parseAnswer(res.headers.get('content-type') ?? '', text) as typeof answer;
  } catch {
    answer = undefined;
  }
  if (answer && (answer.result !== undefined || answer.error !== undefined))
    return { request, status: res.status, result: answer.result, error: answer.error };
  return { request, status: res.status, raw: text };
}

/** The text parts of a tools/call result, joined. */
export function resultText(result: Record<string, unknown> | undefined): string {
  const content = (result?.content ?? []) as { type?: string; text?: string }[];
  return content
    .filter((c) => c.type === 'text')
    .map((c) => c.text ?? '')
    .join('\n');
}

/** An HTTP request with a bearer token to the approver API; the body parsed when it is JSON. */
export async function approverRequest(
  url: string,
  token: string,
  method: 'GET' | 'POST',
  body?: unknown,
): Promise<{ status: number; body: unknown }> {
  const res = await fetch(url, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  try {
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  } catch {
    return { status: res.status, body: text };
  }
}
