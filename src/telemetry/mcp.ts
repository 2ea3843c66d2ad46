// What the gateway's spans say about an MCP request, after the OpenTelemetry conventions for MCP:
// the span is named `{method} {tool or prompt name}` and carries the method, the JSON-RPC id and
// the tool or prompt name. Never the arguments, a resource URI, a result or a credential.
import { type Attributes, type Span, SpanStatusCode } from '@opentelemetry/api';
import type { FastifyRequest } from 'fastify';

const MAX_NAME = 128;

const clip = (s: string) => (s.length > MAX_NAME ? `${s.slice(0, MAX_NAME)}…` : s);

/** Name and attributes of the span of one MCP HTTP request on `/mcp/{virtual}`. */
export function describeMcpRequest(
  request: FastifyRequest,
): { name: string; attributes: Attributes } | undefined {
  const virtual = (request.params as { virtual?: unknown } | undefined)?.virtual;
  const attributes: Attributes = {
    'network.transport': 'tcp',
    'network.protocol.name': 'http',
    ...(typeof virtual === 'string' ? { 'airlock.virtual_server': clip(virtual) } : {}),
  };
  const body = request.body as
    | { method?: unknown; id?: unknown; params?: { name?: unknown } }
    | undefined
    | null;
  if (request.method !== 'POST' || !body || typeof body !== 'object' || Array.isArray(body))
    return { name: `${request.method} /mcp/{virtual}`, attributes };
  const method = typeof body.method === 'string' ? clip(body.method) : undefined;
  if (!method) return { name: 'mcp response', attributes };
  attributes['mcp.method.name'] = method;
  if (typeof body.id === 'string' || typeof body.id === 'number')
    attributes['jsonrpc.request.id'] = clip(String(body.id));
  const name = typeof body.params?.name === 'string' ? clip(body.params.name) : undefined;
  if (name && method === 'tools/call') attributes['gen_ai.tool.name'] = name;
  if (name && method === 'prompts/get') attributes['gen_ai.prompt.name'] = name;
  const target = name && (method === 'tools/call' || method === 'prompts/get') ? ` ${name}` : '';
  return { name: `${method}${target}`, attributes };
}

/** Who called, on the request's span: the user's subject, the agent and the model it names. */
export function callerAttributes(caller: {
  user: { sub: string };
  agent: { id: string | null; client_id?: string | undefined };
  model?: { name?: string } | null | undefined;
}): Attributes {
  const agent = caller.agent.id ?? caller.agent.client_id;
  return {
    'user.id': clip(caller.user.sub),
    ...(agent ? { 'gen_ai.agent.id': clip(agent) } : {}),
    ...(caller.model?.name ? { 'gen_ai.request.model': clip(caller.model.name) } : {}),
  };
}

/** A JSON-RPC error answered on `span`'s request: its code, as the MCP conventions record it. */
export function markRpcError(span: Span | undefined, code: number): void {
  if (!span) return;
  span.setAttribute('rpc.response.status_code', String(code));
  span.setAttribute('error.type', String(code));
  span.setStatus({ code: SpanStatusCode.ERROR });
}
