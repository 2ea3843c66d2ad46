// The fastify plugin serving `/mcp/{virtual}` over MCP Streamable HTTP, stateless: any replica can
// answer any request. POST carries JSON-RPC; GET opens a notification stream on which the
// gateway passes on its upstreams' `list_changed` notifications. Requests are bounded in size and
// nesting, and every caller is identified before the MCP server sees the request.
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import {
  CallToolRequestSchema,
  CancelledNotificationSchema,
  CompleteRequestSchema,
  GetPromptRequestSchema,
  ListPromptsRequestSchema,
  ListResourcesRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListToolsRequestSchema,
  ReadResourceRequestSchema,
  SetLevelRequestSchema,
  SubscribeRequestSchema,
  UnsubscribeRequestSchema,
} from '@modelcontextprotocol/sdk/types.js';
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { jsonDepth } from '../engine/index.js';
import { credentialInQuery, IdentityError, replyIdentityError } from '../identity/index.js';
import {
  activeSpan,
  callerAttributes,
  describeMcpRequest,
  markRpcError,
  requestSpan,
  Stages,
  stageHistogram,
  traceRequests,
} from '../telemetry/index.js';
import {
  AgentSlots,
  agentKey,
  type Caller,
  callerFromPrincipal,
  callerFromTestHeader,
  TEST_PRINCIPAL_HEADER,
  withMessageMeta,
} from './caller.js';
import { CallerStreams } from './caller-streams.js';
import { withoutPaths } from './clean.js';
import { clientSessions, endSession, refuseUnknownSession, SESSION_HEADER } from './client-sessions.js';
import { GatewayError, GatewayErrorCode } from './errors.js';
import { type CallContext, Gateway, type GatewayOptions } from './gateway.js';
import { InFlight } from './in-flight.js';
import { classify } from './protocol/classify.js';
import { ListenStreams } from './protocol/listen.js';
import { servePerRequest } from './protocol/per-request-route.js';
import { refusePerRequestGet, sessionRevision } from './protocol/session-front.js';
import { ClientRequests, type Owner } from './relay/client-requests.js';
import { DEFAULT_INPUT_LIMITS, InputRounds } from './relay/input-rounds.js';
import { decideLogMessage, LOG_ACTION, LogMessageQueue } from './relay/log-messages.js';
import {
  asksProgress,
  fromUpstream,
  initializeCapabilities,
  isInitialize,
  isToolCall,
  session,
} from './relay.js';
import { refuseMalformed } from './rpc-check.js';
import { DEFAULT_TIMEOUT_MS, type ListKind } from './upstream.js';
import { serveVirtualMetadata } from './virtual-metadata.js';

type Log = Pick<FastifyRequest['log'], 'error'>;

/**
 * A handler whose failures reach the agent only as GatewayErrors: anything else is logged and
 * answered -32603 "internal error"; fail-closed messages never carry absolute file paths.
 */
function guarded<A extends unknown[], R>(log: Log, fn: (...args: A) => Promise<R>) {
  return async (...args: A): Promise<R> => {
    try {
      return await fn(...args);
    } catch (err) {
      markRpcError(activeSpan(), err instanceof GatewayError ? err.code : GatewayErrorCode.Internal);
      if (err instanceof GatewayError) {
        // Operator-side failures are where internal text could hide; policy reasons and the
        // unknown-item error go out exactly as made.
        if (err.code !== GatewayErrorCode.PolicyUnavailable) throw err;
        const message = withoutPaths(err.message);
        throw message === err.message ? err : new GatewayError(err.code, message, err.data);
      }
      log.error({ err: err instanceof Error ? err.message : String(err) }, 'MCP request failed');
      throw new GatewayError(GatewayErrorCode.Internal, 'internal error');
    }
  };
}

const PROBLEM_BASE = 'https://airlock.dev/problems/';

function problem(reply: FastifyReply, status: number, type: string, title: string, detail: string) {
  return reply
    .code(status)
    .header('content-type', 'application/problem+json')
    .send({ type: `${PROBLEM_BASE}${type}`, title, status, detail });
}

/** A body nested deeper than the limit: answered as a JSON-RPC Invalid Request. */
class TooDeepError extends Error {
  override name = 'TooDeepError';
}

/** A body that is not JSON: answered as a JSON-RPC Parse error. */
class NotJsonError extends Error {
  override name = 'NotJsonError';
}

/** Whose answers a relayed server→client request accepts: the same user through the same agent. */
const ownerOf = (caller: Caller): Owner => JSON.stringify([caller.user.sub, agentKey(caller)]);

/** How a tools/call reaches its client with server→client requests: the request's stream (SSE). */
interface ClientLink {
  requests: ClientRequests;
  transport?: StreamableHTTPServerTransport;
  timeoutMs: number;
}

/** An MCP Server answering one HTTP request (or one notification stream) for `caller` on `virtual`. */
function mcpServer(
  gateway: Gateway,
  caller: Caller,
  virtual: string,
  log: Log,
  link: ClientLink | undefined,
  inFlight: InFlight,
  instructions?: string,
  protocol?: CallContext['protocol'],
): Server {
  const server = new Server(
    { name: `airlock-${virtual}`, version: '0.1.0' },
    {
      capabilities: {
        tools: { listChanged: true },
        resources: { listChanged: true, subscribe: true },
        prompts: { listChanged: true },
        completions: {},
        logging: {},
      },
      ...(instructions ? { instructions } : {}),
    },
  );
  const context = (
    meta: Record<string, unknown> | undefined,
    extra?: { signal: AbortSignal; sendNotification: Server['notification']; requestId?: string | number },
    relays = false,
  ): CallContext => {
    const token = meta?.progressToken;
    const transport = link?.transport;
    const requestId = extra?.requestId;
    return {
      ...(relays && link && transport && requestId !== undefined
        ? {
            clientRequest: (method: string, params: Record<string, unknown> | undefined) =>
              link.requests.request(transport, requestId, ownerOf(caller), method, params, {
                signal: extra?.signal,
                timeoutMs: link.timeoutMs,
              }),
            // Known only where the client's initialize reached this server (not on stateless calls).
            clientCapabilities: server.getClientCapabilities(),
          }
        : {}),
      caller: withMessageMeta(caller, meta),
      virtual,
      meta,
      protocol,
      signal: extra?.signal,
      sendNotification: extra?.sendNotification,
      progress:
        extra && (typeof token === 'string' || typeof token === 'number')
          ? (message, elapsed) =>
              extra.sendNotification({
                method: 'notifications/progress',
                params: { progressToken: token, progress: elapsed, message },
              })
          : undefined,
    };
  };
  const key = session({ caller, virtual });
  const g = <A extends unknown[], R>(fn: (...args: A) => Promise<R>) =>
    guarded(log, inFlight.cancellable(key, fn));
  // A cancellation arrives on a request of its own: it finds the call by caller and request id.
  server.setNotificationHandler(CancelledNotificationSchema, async (n) => {
    if (n.params.requestId !== undefined) inFlight.cancel(key, n.params.requestId, n.params.reason);
  });
  server.setRequestHandler(
    ListToolsRequestSchema,
    g(async (r) => gateway.listTools(context(r.params?._meta))),
  );
  server.setRequestHandler(
    CallToolRequestSchema,
    g(async (r, extra) =>
      gateway.callTool(context(r.params._meta, extra, true), r.params.name, r.params.arguments ?? {}),
    ),
  );
  server.setRequestHandler(
    ListResourcesRequestSchema,
    g(async (r) => gateway.listResources(context(r.params?._meta))),
  );
  server.setRequestHandler(
    ListResourceTemplatesRequestSchema,
    g(async (r) => gateway.listResourceTemplates(context(r.params?._meta))),
  );
  server.setRequestHandler(
    ReadResourceRequestSchema,
    g(async (r, extra) => gateway.readResource(context(r.params._meta, extra), r.params.uri)),
  );
  server.setRequestHandler(
    SubscribeRequestSchema,
    g(async (r, extra) => gateway.subscribeResource(context(r.params._meta, extra), r.params.uri, true)),
  );
  server.setRequestHandler(
    UnsubscribeRequestSchema,
    g(async (r, extra) => gateway.subscribeResource(context(r.params._meta, extra), r.params.uri, false)),
  );
  server.setRequestHandler(
    SetLevelRequestSchema,
    g(async (r, extra) => gateway.setLoggingLevel(context(r.params._meta, extra), r.params.level)),
  );
  server.setRequestHandler(
    ListPromptsRequestSchema,
    g(async (r) => gateway.listPrompts(context(r.params?._meta))),
  );
  server.setRequestHandler(
    GetPromptRequestSchema,
    g(async (r, extra) =>
      gateway.getPrompt(context(r.params._meta, extra), r.params.name, r.params.arguments ?? {}),
    ),
  );
  server.setRequestHandler(
    CompleteRequestSchema,
    g(async (r, extra) => gateway.complete(context(r.params._meta, extra), r.params)),
  );
  return server;
}

/** Mounts the gateway: `/mcp/{virtual}`. Closes upstream connections and open streams with the app. */
export const gatewayPlugin: FastifyPluginAsync<GatewayOptions> = async (app: FastifyInstance, options) => {
  const gateway = new Gateway(options);
  const stages = new Stages(
    'gateway',
    options.metricsRegistry ? stageHistogram(options.metricsRegistry) : undefined,
  );
  const inFlight = new InFlight();
  // Log messages and resource updates go to the caller whose session they came on.
  const callerStreams = new CallerStreams();
  // Log messages are decided first (relay/log-messages.ts), one after the other per caller.
  const logQueue = new LogMessageQueue();
  gateway.onCallerNotification = (key, notification, source) => {
    if (source.original.method !== LOG_ACTION) return void callerStreams.send(key, notification);
    const who = callerStreams.callerOf(key);
    if (!who) return; // nobody listens: no decision
    const original = source.original;
    logQueue.push(key, async () => {
      const shown = await decideLogMessage(
        gateway.relayPolicy(who, source.upstream),
        source.upstream,
        original,
      );
      if (shown) callerStreams.send(key, fromUpstream(source.upstream, shown));
    });
  };
  // Bare names and aliases are checked against the upstreams' lists now (names.ts): a collision
  // fails the start.
  try {
    await gateway.checkNames((upstream, reason) =>
      app.log.warn(
        { upstream, reason },
        'tool and prompt names not checked at start-up: upstream not listed',
      ),
    );
  } catch (err) {
    await gateway.close();
    throw err;
  }
  const { identity } = options;
  if (identity)
    serveVirtualMetadata(
      app,
      identity,
      options.config.virtual_servers.map((v) => v.name),
    );
  const limits = gateway.limits;
  const sessions = clientSessions(options.config.client_sessions);
  if (!sessions.keyed)
    app.log.info('gateway.client_sessions.key not set: session ids are accepted by this replica only');
  /** Open notification streams per virtual server. */
  const streams = new Map<string, Set<Server>>();
  const openStreams = new AgentSlots(limits.concurrent_calls_per_agent);
  /** 2026-07-28 `subscriptions/listen` streams. */
  const listens = new ListenStreams();
  /** Server→client requests sent to clients during their calls, awaiting the answers. */
  const clientRequests = new ClientRequests();
  /** A client's answer is awaited as long as the slowest upstream's calls may take. */
  const relayTimeoutMs = Math.max(
    DEFAULT_TIMEOUT_MS,
    ...options.config.upstreams.map((u) => u.timeout_ms ?? DEFAULT_TIMEOUT_MS),
  );
  /** 2026-07-28 calls awaiting their caller's answers to the upstream's requests (input_required). */
  const inputRounds = new InputRounds({
    ...DEFAULT_INPUT_LIMITS,
    waitMs: relayTimeoutMs,
    perCaller: limits.concurrent_calls_per_agent,
  });
  gateway.onListChanged = (virtual: string, kind: ListKind) => {
    listens.changed(virtual, kind);
    for (const server of streams.get(virtual) ?? []) {
      const sent =
        kind === 'tools'
          ? server.sendToolListChanged()
          : kind === 'resources'
            ? server.sendResourceListChanged()
            : server.sendPromptListChanged();
      void sent.catch(() => {});
    }
  };
  app.addHook('onClose', async () => {
    listens.closeAll();
    inputRounds.closeAll();
    for (const set of streams.values()) for (const server of set) await server.close().catch(() => {});
    await gateway.close();
  });

  async function identify(request: FastifyRequest, reply: FastifyReply): Promise<Caller | undefined> {
    if (identity) {
      try {
        const header = request.headers[identity.settings.modelHeader];
        const principal = await identity.authenticate({
          authorization: request.headers.authorization,
          modelHeader: Array.isArray(header) ? header[0] : header,
        });
        return callerFromPrincipal(principal);
      } catch (err) {
        if (err instanceof IdentityError)
          request.log.info({ identity_error: err.code }, 'MCP caller not authenticated');
        replyIdentityError(identity, reply, err);
        return undefined;
      }
    }
    const caller = options.trustTestPrincipalHeader
      ? callerFromTestHeader(request.headers[TEST_PRINCIPAL_HEADER])
      : undefined;
    if (!caller) problem(reply, 401, 'unauthenticated', 'Unauthorized', 'no identified caller');
    return caller;
  }

  async function serve(
    request: FastifyRequest,
    reply: FastifyReply,
    server: Server,
    transport: StreamableHTTPServerTransport,
    onClose: () => void,
  ) {
    reply.hijack();
    reply.raw.on('close', () => {
      onClose();
      void transport.close();
      void server.close();
    });
    try {
      await server.connect(transport);
      await transport.handleRequest(request.raw, reply.raw, request.body);
    } catch (err) {
      request.log.error({ err: err instanceof Error ? err.message : String(err) }, 'MCP request failed');
      if (!reply.raw.headersSent) reply.raw.writeHead(500, { 'content-type': 'application/problem+json' });
      reply.raw.end(
        JSON.stringify({
          type: `${PROBLEM_BASE}internal`,
          title: 'Internal error',
          status: 500,
          detail: 'the MCP request could not be handled',
        }),
      );
    }
  }

  app.register(async (scope) => {
    // Before anything else (body parsing, identification): no credentials in the query string.
    scope.addHook('onRequest', async (request, reply) => {
      const key = credentialInQuery(request.url);
      if (!key) return;
      reply.header('www-authenticate', 'Bearer error="invalid_request"');
      return reply
        .code(400)
        .header('content-type', 'application/problem+json')
        .send({
          type: `${PROBLEM_BASE}token-in-query`,
          title: 'Bad request',
          status: 400,
          error: 'invalid_request',
          detail: `credentials must not be sent in the query string (parameter ${key}); send the access token in the Authorization header`,
        });
    });
    // A span per MCP request (while tracing is on), continuing the caller's trace context.
    traceRequests(scope, { describe: describeMcpRequest });
    // JSON bodies, their nesting checked on the text before parsing.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, text, done) => {
      if (jsonDepth(text as string, limits.json_depth) < 0)
        return done(new TooDeepError(`request nested deeper than ${limits.json_depth} levels`));
      try {
        done(null, (text as string).trim() === '' ? undefined : JSON.parse(text as string));
      } catch {
        done(new NotJsonError('Parse error: the body is not valid JSON'));
      }
    });
    scope.setErrorHandler((err: Error & { statusCode?: number; code?: string }, _request, reply) => {
      if (err instanceof NotJsonError)
        return reply.code(400).send({
          jsonrpc: '2.0',
          id: null,
          error: { code: GatewayErrorCode.ParseError, message: err.message },
        });
      if (err instanceof TooDeepError)
        return reply.code(400).send({
          jsonrpc: '2.0',
          id: null,
          error: { code: GatewayErrorCode.InvalidRequest, message: err.message },
        });
      if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE')
        return problem(
          reply,
          413,
          'body-too-large',
          'Payload too large',
          `MCP requests are limited to ${limits.body_bytes} bytes`,
        );
      const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
      if (status === 400) return problem(reply, 400, 'invalid-json', 'Bad request', err.message);
      return problem(
        reply,
        status,
        'internal',
        'Internal error',
        status === 500 ? 'internal error' : err.message,
      );
    });

    scope.route<{ Params: { virtual: string } }>({
      method: ['GET', 'POST', 'DELETE'],
      url: '/mcp/:virtual',
      bodyLimit: limits.body_bytes,
      handler: async (request, reply) => {
        const { virtual } = request.params;
        if (!gateway.hasVirtual(virtual))
          return problem(reply, 404, 'not-found', 'Not found', `no virtual server ${virtual}`);
        const caller = await stages.run('authenticate', () => identify(request, reply));
        if (!caller) return reply;
        requestSpan(request)?.setAttributes(callerAttributes(caller));
        if (request.method === 'DELETE')
          return endSession(sessions.sessions, request, reply, caller, virtual);
        if (request.method === 'POST') {
          // Which revision the request speaks (2026-07-28 is answered apart), its headers held to its body.
          const classified = classify(request.headers, request.body);
          if (classified.kind === 'refused')
            return reply.code(classified.status).type('application/json').send(classified.body);
          if (classified.kind === 'per-request')
            return servePerRequest({
              gateway,
              caller,
              virtual,
              classified,
              request,
              reply,
              listens,
              streamSlots: openStreams,
              rounds: inputRounds,
              callerStreams,
            });
          if (refuseUnknownSession(sessions.sessions, request, reply, caller, virtual)) return reply;
          const refused = refuseMalformed(request.body);
          if (refused) return reply.code(refused.status).type('application/json').send(refused.body);
          // A client's answer to a request Airlock relayed to it during one of its calls.
          const delivered = clientRequests.deliver(request.body, ownerOf(caller));
          if (delivered === 'delivered') return reply.code(202).send();
          if (delivered === 'unknown')
            return problem(
              reply,
              404,
              'no-pending-request',
              'Not found',
              'no request of Airlock to this caller awaits this answer',
            );
        } else if (refusePerRequestGet(request.headers, reply)) return reply;
        else if (refuseUnknownSession(sessions.sessions, request, reply, caller, virtual)) return reply;
        // `initialize` answers with the upstreams' instructions, combined.
        const initialize = isInitialize(request.body);
        // It opens the caller's upstream sessions, declaring what policy allows of the client's capabilities.
        const instructions = initialize
          ? await gateway.instructions({
              caller,
              virtual,
              clientCapabilities: initializeCapabilities(request.body),
            })
          : undefined;
        // A session id any replica can check (client-sessions.ts), on the initialize response.
        if (initialize) reply.raw.setHeader(SESSION_HEADER, sessions.sessions.issue(caller, virtual));
        const link: ClientLink = { requests: clientRequests, timeoutMs: relayTimeoutMs };
        const server = mcpServer(
          gateway,
          caller,
          virtual,
          request.log,
          link,
          inFlight,
          instructions,
          sessionRevision(request),
        );
        if (request.method === 'GET') {
          // A notification stream: kept open, told when an upstream's lists change. Bounded per
          // agent by the same number as its calls in flight.
          const agent = agentKey(caller);
          if (!openStreams.take(agent))
            return problem(
              reply.header('retry-after', '5'),
              429,
              'too-many-streams',
              'Too many notification streams',
              `agent ${agent} already has ${openStreams.limit} notification streams open (limit ${openStreams.limit})`,
            );
          const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
          let set = streams.get(virtual);
          if (!set) streams.set(virtual, (set = new Set()));
          set.add(server);
          const registered = set;
          const unregister = callerStreams.add(session({ caller, virtual }), server, { caller, virtual });
          const release = gateway.holdSessions({ caller, virtual });
          return serve(request, reply, server, transport, () => {
            registered.delete(server);
            unregister();
            release();
            openStreams.release(agent);
          });
        }
        // A tools/call, and any request asking for progress, streams (SSE) so that progress
        // notifications and the upstream's requests (sampling, elicitation, roots) can reach the
        // client during it.
        const transport = new StreamableHTTPServerTransport({
          sessionIdGenerator: undefined,
          enableJsonResponse: !isToolCall(request.body) && !asksProgress(request.body),
        });
        link.transport = transport;
        return serve(request, reply, server, transport, () => {});
      },
    });
  });
};
