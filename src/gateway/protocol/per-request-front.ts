// The MCP front for protocol revision 2026-07-28: one POST, one JSON-RPC request, no session. The
// request's `_meta` envelope names the revision, the client and its capabilities; the rest of its
// `_meta` is the request's own (approval id, progress token, model). Each method is answered by the
// same Gateway methods as on the session revisions, so every list and call is decided and audited
// exactly alike; only the encoding differs: `resultType`, the server's identity in `_meta`, and
// cache hints on the cacheable results.
import type { ServerResponse } from 'node:http';
import type { CompleteRequest } from '@modelcontextprotocol/sdk/types.js';
import type { FastifyRequest } from 'fastify';
import type { Caller } from '../caller.js';
import { withMessageMeta } from '../caller.js';
import { withoutPaths } from '../clean.js';
import { GatewayError, GatewayErrorCode } from '../errors.js';
import type { CallContext, Gateway } from '../gateway.js';
import { INPUT_METHODS, type InputRounds } from '../relay/input-rounds.js';
import { refuseMalformed } from '../rpc-check.js';
import type { PerRequestMessage, RpcErrorBody } from './classify.js';
import { checkParamHeaders } from './param-headers.js';
import {
  CACHEABLE,
  type Envelope,
  isObject,
  META,
  PER_REQUEST_REVISIONS,
  RevisionErrorCode,
  withoutEnvelope,
} from './revisions.js';

type Log = Pick<FastifyRequest['log'], 'error'>;

export const SERVER_VERSION = '0.1.0';

/**
 * Cache hints on cacheable results. Every list is filtered by policy for one caller and decided
 * afresh, so no shared cache may keep it (`private`), and a policy change or revocation must show
 * at the next request (`ttlMs: 0`).
 */
export const CACHE_HINT = { ttlMs: 0, cacheScope: 'private' } as const;

/** What Airlock offers on this revision (list changes come on `subscriptions/listen`: listen.ts). */
const CAPABILITIES = {
  tools: { listChanged: true },
  // `subscribe`: resources named in `subscriptions/listen` (listen-resources.ts).
  resources: { listChanged: true, subscribe: true },
  prompts: { listChanged: true },
  completions: {},
} as const;

export interface Answer {
  status: number;
  body?: unknown;
}

function errorBody(id: string | number, err: unknown, log: Log): RpcErrorBody {
  if (err instanceof GatewayError) {
    const message = err.code === GatewayErrorCode.PolicyUnavailable ? withoutPaths(err.message) : err.message;
    return {
      jsonrpc: '2.0',
      id,
      error: { code: err.code, message, ...(err.data ? { data: err.data } : {}) },
    };
  }
  log.error({ err: err instanceof Error ? err.message : String(err) }, 'MCP request failed');
  return { jsonrpc: '2.0', id, error: { code: GatewayErrorCode.Internal, message: 'internal error' } };
}

export interface PerRequestCall {
  gateway: Gateway;
  caller: Caller;
  virtual: string;
  message: PerRequestMessage;
  envelope: Envelope | undefined;
  /** Aborted when the client goes away. */
  signal: AbortSignal;
  log: Log;
  /** The request's HTTP headers (`Mcp-Param-*` are held to the called tool's arguments). */
  headers?: Record<string, string | string[] | undefined> | undefined;
  /** Calls awaiting their caller's input (`input_required` rounds); none: upstream requests are refused. */
  rounds?: InputRounds | undefined;
  /** Whose retries continue a call awaiting input: the caller (virtual server, user, agent). */
  owner?: string | undefined;
  /** Where progress notifications go (a streamed answer); none: the request gets none. */
  notify?: (notification: Record<string, unknown>) => void;
}

/** Answers one 2026-07-28 message. Notifications get 202 and no body. */
export async function answerPerRequest(call: PerRequestCall): Promise<Answer> {
  const { message, gateway, virtual } = call;
  if (message.id === undefined) return { status: 202 };
  const malformed = refuseMalformed(message);
  if (malformed) return malformed;
  const id = message.id;
  const params = isObject(message.params) ? message.params : {};
  const meta = withoutEnvelope(isObject(params._meta) ? params._meta : undefined);
  const token = meta?.progressToken;
  const { notify } = call;
  const base: CallContext = {
    caller: withMessageMeta(call.caller, meta),
    virtual,
    meta,
    signal: call.signal,
    checkTool: (tool, args) => {
      const refused = checkParamHeaders(call.headers ?? {}, tool.inputSchema, args);
      if (refused) throw refused;
    },
    ...(call.envelope
      ? {
          // What the caller's upstream sessions may declare when this request opens them.
          clientCapabilities: call.envelope.clientCapabilities as CallContext['clientCapabilities'],
          // The upstream's log messages during the call, on this request's stream, at this level or above.
          logLevel: call.envelope.logLevel as CallContext['logLevel'],
          protocol: {
            revision: call.envelope.protocolVersion,
            ...(call.envelope.clientInfo ? { client: call.envelope.clientInfo } : {}),
          },
        }
      : {}),
  };
  /** The context's notification parts for a sink (this request's stream, or a call's current round). */
  const sinks = (sink: ((n: Record<string, unknown>) => void) | undefined): Partial<CallContext> =>
    sink
      ? {
          progress:
            typeof token === 'string' || typeof token === 'number'
              ? async (message, elapsed) =>
                  sink({
                    jsonrpc: '2.0',
                    method: 'notifications/progress',
                    params: { progressToken: token, progress: elapsed, message },
                  })
              : undefined,
          // An upstream's own progress for this request (relay.ts), on the same stream, as JSON-RPC.
          sendNotification: async (n) => sink({ jsonrpc: '2.0', ...(n as Record<string, unknown>) }),
        }
      : {};
  const context: CallContext = { ...base, ...sinks(notify) };
  const str = (v: unknown) => (typeof v === 'string' ? v : '');
  const run = async (context: CallContext): Promise<Record<string, unknown> | undefined> => {
    switch (message.method) {
      case 'server/discover':
        return { supportedVersions: [...PER_REQUEST_REVISIONS], capabilities: CAPABILITIES };
      case 'ping':
        return {};
      case 'tools/list':
        return gateway.listTools(context);
      case 'tools/call':
        return gateway.callTool(
          context,
          str(params.name),
          isObject(params.arguments) ? params.arguments : {},
        ) as Promise<Record<string, unknown>>;
      case 'resources/list':
        return gateway.listResources(context);
      case 'resources/templates/list':
        return gateway.listResourceTemplates(context);
      case 'resources/read':
        return gateway.readResource(context, str(params.uri)) as Promise<Record<string, unknown>>;
      case 'prompts/list':
        return gateway.listPrompts(context);
      case 'prompts/get':
        return gateway.getPrompt(
          context,
          str(params.name),
          (isObject(params.arguments) ? params.arguments : {}) as Record<string, string>,
        ) as Promise<Record<string, unknown>>;
      case 'completion/complete':
        return gateway.complete(context, params as CompleteRequest['params']) as Promise<
          Record<string, unknown>
        >;
      default:
        return undefined;
    }
  };
  if (call.rounds && call.owner && INPUT_METHODS.has(message.method))
    return answerRounds(call, id, params, base, sinks, run);
  try {
    const result = await run(context);
    if (result === undefined)
      return {
        status: 200,
        body: { jsonrpc: '2.0', id, error: { code: -32601, message: `Method not found: ${message.method}` } },
      };
    return {
      status: 200,
      body: { jsonrpc: '2.0', id, result: encodeResult(message.method, result, virtual) },
    };
  } catch (err) {
    return failedAnswer(id, err, call.log);
  }
}

type Sinks = (sink: ((n: Record<string, unknown>) => void) | undefined) => Partial<CallContext>;

/**
 * A call whose result may be `input_required` (relay/input-rounds.ts): its first round starts the
 * forwarding with a sender for the upstream's requests; a retry (`requestState`) continues it.
 */
async function answerRounds(
  call: PerRequestCall,
  id: string | number,
  params: Record<string, unknown>,
  base: CallContext,
  sinks: Sinks,
  run: (context: CallContext) => Promise<Record<string, unknown> | undefined>,
): Promise<Answer> {
  const rounds = call.rounds as InputRounds;
  const owner = call.owner as string;
  const shape = { method: call.message.method, params };
  // This round's stream, progress notifications carrying this round's own token (each retry is a
  // request of its own); without one, progress is not sent.
  const own = isObject(params._meta) ? params._meta.progressToken : undefined;
  const notify = call.notify;
  const io = {
    signal: call.signal,
    notify: notify
      ? (n: Record<string, unknown>) => {
          if (n.method !== 'notifications/progress') return notify(n);
          if (typeof own !== 'string' && typeof own !== 'number') return;
          notify({ ...n, params: { ...(n.params as object), progressToken: own } });
        }
      : undefined,
  };
  try {
    const retry = params.requestState !== undefined || params.inputResponses !== undefined;
    const outcome = retry
      ? await rounds.resume(owner, shape, io)
      : await rounds.begin(
          owner,
          shape,
          async (hooks) => {
            const result = await run({
              ...base,
              ...sinks(hooks.notify),
              signal: hooks.signal,
              clientRequest: hooks.sender,
              clientCapabilities: call.envelope?.clientCapabilities as CallContext['clientCapabilities'],
            });
            return result ?? {};
          },
          io,
        );
    const { virtual } = call;
    if (outcome.kind === 'complete')
      return {
        status: 200,
        body: { jsonrpc: '2.0', id, result: encodeResult(call.message.method, outcome.result, virtual) },
      };
    if (outcome.kind === 'failed') return failedAnswer(id, outcome.error, call.log);
    return {
      status: 200,
      body: {
        jsonrpc: '2.0',
        id,
        result: {
          resultType: 'input_required',
          inputRequests: outcome.inputRequests,
          requestState: outcome.requestState,
          _meta: { [META.serverInfo]: { name: `airlock-${virtual}`, version: SERVER_VERSION } },
        },
      },
    };
  } catch (err) {
    return failedAnswer(id, err, call.log);
  }
}

/** A failed request's answer: HTTP 400 when its headers disagree with its body, else 200. */
function failedAnswer(id: string | number, err: unknown, log: Log): Answer {
  const status = err instanceof GatewayError && err.code === RevisionErrorCode.HeaderMismatch ? 400 : 200;
  return { status, body: errorBody(id, err, log) };
}

/** A result as 2026-07-28 carries it. */
export function encodeResult(method: string, result: Record<string, unknown>, virtual: string) {
  const meta = isObject(result._meta) ? result._meta : {};
  const { ttlMs: _ttl, cacheScope: _scope, resultType: _type, ...rest } = result;
  return {
    ...rest,
    resultType: 'complete',
    ...(CACHEABLE.has(method) ? CACHE_HINT : {}),
    _meta: { ...meta, [META.serverInfo]: { name: `airlock-${virtual}`, version: SERVER_VERSION } },
  };
}

const sseFrame = (message: unknown) => `event: message\ndata: ${JSON.stringify(message)}\n\n`;

/**
 * Answers on an SSE stream, so progress notifications (a call held for approval) reach the client
 * before the response. A request refused as malformed is answered as JSON, as always.
 */
export async function answerPerRequestStreamed(call: PerRequestCall, raw: ServerResponse): Promise<void> {
  const malformed = refuseMalformed(call.message);
  if (malformed) {
    raw
      .writeHead(malformed.status, { 'content-type': 'application/json' })
      .end(JSON.stringify(malformed.body));
    return;
  }
  // The stream starts with the first notification: an answer without any (a refusal) goes as JSON,
  // with its own status (400 for headers that disagree with the body).
  let streaming = false;
  const notify = (n: unknown) => {
    if (!streaming) {
      raw.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache, no-transform' });
      streaming = true;
    }
    raw.write(sseFrame(n));
  };
  const answer = await answerPerRequest({ ...call, notify });
  if (streaming) raw.end(sseFrame(answer.body));
  else raw.writeHead(answer.status, { 'content-type': 'application/json' }).end(JSON.stringify(answer.body));
}
