// JSON-RPC checks made before a request reaches the MCP SDK's server, so malformed requests get the
// code JSON-RPC 2.0 gives them and a short message naming the offending field: -32600 for what is
// not a JSON-RPC 2.0 message, -32602 for params that do not fit the method (the SDK itself would
// answer -32603 with its validation dump).
import {
  CallToolRequestSchema,
  CompleteRequestSchema,
  GetPromptRequestSchema,
  JSONRPCMessageSchema,
  ListPromptsRequestSchema,
  ListResourcesRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListToolsRequestSchema,
  ReadResourceRequestSchema,
  SetLevelRequestSchema,
  SubscribeRequestSchema,
  UnsubscribeRequestSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { GatewayErrorCode } from './errors.js';

interface Issue {
  path: PropertyKey[];
  message: string;
}
interface Checkable {
  safeParse(v: unknown): { success: true } | { success: false; error: { issues: Issue[] } };
}

const SCHEMAS: Record<string, Checkable> = {
  'tools/list': ListToolsRequestSchema,
  'tools/call': CallToolRequestSchema,
  'resources/list': ListResourcesRequestSchema,
  'resources/templates/list': ListResourceTemplatesRequestSchema,
  'resources/read': ReadResourceRequestSchema,
  'prompts/list': ListPromptsRequestSchema,
  'prompts/get': GetPromptRequestSchema,
  'resources/subscribe': SubscribeRequestSchema,
  'resources/unsubscribe': UnsubscribeRequestSchema,
  'logging/setLevel': SetLevelRequestSchema,
  'completion/complete': CompleteRequestSchema,
} as unknown as Record<string, Checkable>;

export interface RpcError {
  jsonrpc: '2.0';
  id: string | number | null;
  error: { code: number; message: string };
}

const rpcError = (id: unknown, code: number, message: string): RpcError => ({
  jsonrpc: '2.0',
  id: typeof id === 'string' || typeof id === 'number' ? id : null,
  error: { code, message },
});

/** At most this many issues are named in one message. */
const MAX_ISSUES = 3;

function describe(issues: Issue[]): string {
  const named = issues
    .slice(0, MAX_ISSUES)
    .map((i) => `${i.path.map(String).join('.') || '(request)'}: ${i.message}`.slice(0, 200));
  const more = issues.length > MAX_ISSUES ? ` (and ${issues.length - MAX_ISSUES} more)` : '';
  return `${named.join('; ')}${more}`;
}

/** The error for one message, or undefined when it may go on to the SDK. */
function check(message: unknown): RpcError | undefined {
  const id = (message as { id?: unknown } | null)?.id;
  if (!JSONRPCMessageSchema.safeParse(message).success)
    return rpcError(id, GatewayErrorCode.InvalidRequest, 'Invalid Request: not a JSON-RPC 2.0 message');
  const m = message as { method?: unknown; id?: unknown };
  if (typeof m.method !== 'string' || m.id === undefined) return undefined; // a response or a notification
  const schema = Object.hasOwn(SCHEMAS, m.method) ? SCHEMAS[m.method] : undefined;
  if (!schema) return undefined; // the SDK answers the others (-32601 for unknown methods)
  const parsed = schema.safeParse(message);
  if (parsed.success) return undefined;
  return rpcError(id, GatewayErrorCode.InvalidParams, `Invalid params: ${describe(parsed.error.issues)}`);
}

/**
 * What to answer instead of passing `body` on, if anything: `status` 400 for what is not JSON-RPC,
 * 200 with the error objects for requests with invalid params. In a batch holding an invalid
 * request, no request runs: each gets its error, the valid ones -32600 naming why.
 */
export function refuseMalformed(body: unknown): { status: number; body: RpcError | RpcError[] } | undefined {
  if (Array.isArray(body)) {
    if (body.length === 0)
      return {
        status: 400,
        body: rpcError(null, GatewayErrorCode.InvalidRequest, 'Invalid Request: empty batch'),
      };
    const errors = body.map(check);
    if (errors.every((e) => e === undefined)) return undefined;
    const status = errors.some((e) => e?.error.code === GatewayErrorCode.InvalidRequest) ? 400 : 200;
    return {
      status,
      body: body.map(
        (m, i) =>
          errors[i] ??
          rpcError(
            (m as { id?: unknown }).id,
            GatewayErrorCode.InvalidRequest,
            'Invalid Request: not run, another message in this batch is invalid',
          ),
      ),
    };
  }
  const error = check(body);
  if (!error) return undefined;
  return { status: error.error.code === GatewayErrorCode.InvalidRequest ? 400 : 200, body: error };
}
