// One 2026-07-28 POST at `/mcp/{virtual}`, once its caller is identified and its revision known:
// `subscriptions/listen` opens a notification stream; a forwarded request asking for progress is
// answered on SSE (the upstream's progress, or a held call's, reaches the client before the answer);
// anything else is answered as JSON.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { type AgentSlots, agentKey, type Caller, withMessageMeta } from '../caller.js';
import type { CallerStreams } from '../caller-streams.js';
import { GatewayErrorCode } from '../errors.js';
import type { CallContext, Gateway } from '../gateway.js';
import type { InputRounds } from '../relay/input-rounds.js';
import { asksProgress, session } from '../relay.js';
import type { Classified } from './classify.js';
import type { ListenStreams } from './listen.js';
import { type Filter, readFilter } from './listen.js';
import { subscribeListed, unsubscribeListed } from './listen-resources.js';
import { answerPerRequest, answerPerRequestStreamed } from './per-request-front.js';
import { metaOf, withoutEnvelope } from './revisions.js';

export interface PerRequestRoute {
  gateway: Gateway;
  caller: Caller;
  virtual: string;
  classified: Extract<Classified, { kind: 'per-request' }>;
  request: FastifyRequest;
  reply: FastifyReply;
  /** Open listen streams. */
  listens: ListenStreams;
  /** Notification streams per agent (shared with the session revisions' GET streams). */
  streamSlots: AgentSlots;
  /** Each caller's streams for what its upstream session sends it (resource updates). */
  callerStreams: CallerStreams;
  /** Calls awaiting their caller's input (`input_required` rounds). */
  rounds?: InputRounds | undefined;
}

/**
 * Methods answered on SSE when the request asks for progress (the upstream's own, or a held call's)
 * or names a log level (the upstream's log messages during it).
 */
const STREAMED = new Set(['tools/call', 'prompts/get', 'resources/read', 'completion/complete']);

export async function servePerRequest(route: PerRequestRoute): Promise<FastifyReply | undefined> {
  const { classified, reply, caller, virtual } = route;
  const { message } = classified;
  if (message.method === 'subscriptions/listen' && message.id !== undefined) {
    const filter = readFilter(message.params);
    if (!filter)
      return reply.type('application/json').send({
        jsonrpc: '2.0',
        id: message.id,
        error: {
          code: GatewayErrorCode.InvalidParams,
          message: 'Invalid params: notifications must be a subscription filter',
        },
      });
    const agent = agentKey(caller);
    const slots = route.streamSlots;
    if (!slots.take(agent))
      return reply
        .code(429)
        .header('retry-after', '5')
        .header('content-type', 'application/problem+json')
        .send({
          type: 'https://airlock.dev/problems/too-many-streams',
          title: 'Too many notification streams',
          status: 429,
          detail: `agent ${agent} already has ${slots.limit} notification streams open (limit ${slots.limit})`,
        });
    reply.hijack();
    const { honoured, subscribed, context, release } = await resourceFilter(route, filter);
    const close = () => {
      slots.release(agent);
      if (subscribed.length > 0) unsubscribeListed(route.gateway, context, subscribed);
      release();
    };
    // Gone while subscribing: nothing to keep.
    if (reply.raw.destroyed || reply.raw.socket?.destroyed) {
      close();
      return undefined;
    }
    let unregister = () => {};
    const send = route.listens.open(virtual, message.id, honoured, reply.raw, () => {
      unregister();
      close();
    });
    if (send && subscribed.length > 0) {
      const uris = new Set(subscribed);
      unregister = route.callerStreams.add(session({ caller, virtual }), {
        notification: async (n) => {
          const params = (n.params ?? {}) as Record<string, unknown>;
          if (n.method === 'notifications/resources/updated' && uris.has(params.uri as string))
            send(n.method, params);
        },
      });
    }
    return undefined;
  }
  const gone = new AbortController();
  reply.raw.on('close', () => {
    if (!reply.raw.writableFinished) gone.abort();
  });
  const call = {
    gateway: route.gateway,
    caller,
    virtual,
    message,
    envelope: classified.envelope,
    signal: gone.signal,
    log: route.request.log,
    headers: route.request.headers,
    rounds: route.rounds,
    owner: JSON.stringify([virtual, caller.user.sub, agentKey(caller)]),
  };
  if (
    STREAMED.has(message.method) &&
    (asksProgress(message) || classified.envelope?.logLevel !== undefined)
  ) {
    reply.hijack();
    await answerPerRequestStreamed(call, reply.raw);
    return undefined;
  }
  const answer = await answerPerRequest(call);
  reply.code(answer.status);
  return answer.body === undefined ? reply.send() : reply.type('application/json').send(answer.body);
}

/**
 * The part of a listen filter Airlock honours: the list changes asked for, and the resources asked
 * for that the caller could be subscribed to (its upstream session then held while the stream is open).
 */
async function resourceFilter(route: PerRequestRoute, filter: Filter) {
  const { caller, virtual, classified } = route;
  const meta = withoutEnvelope(metaOf(classified.message.params));
  const envelope = classified.envelope;
  const context: CallContext = {
    caller: withMessageMeta(caller, meta),
    virtual,
    meta,
    ...(envelope
      ? {
          protocol: {
            revision: envelope.protocolVersion,
            ...(envelope.clientInfo ? { client: envelope.clientInfo } : {}),
          },
        }
      : {}),
  };
  const { resourceSubscriptions: asked, ...lists } = filter;
  if (!asked?.length)
    return { honoured: lists as Filter, subscribed: [] as string[], context, release: () => {} };
  const release = route.gateway.holdSessions({ caller, virtual });
  const subscribed = await subscribeListed(route.gateway, context, asked);
  return {
    honoured: (subscribed.length > 0 ? { ...lists, resourceSubscriptions: subscribed } : lists) as Filter,
    subscribed,
    context,
    release,
  };
}
