// The upstream's half of relaying server→client requests. Airlock's client to an upstream declares
// the capabilities policy lets it relay (relay/client-capabilities.ts); when the upstream asks for one of
// them during a call, the request is related to that call, decided by policy (request phase: the
// upstream's params; response phase: the calling client's answer), audited, and relayed to the
// calling client on that call's stream. Pings during a call are relayed undecided (they carry
// nothing); outside a call Airlock answers them itself. A request that cannot be related to a call,
// that the calling client cannot receive, or that policy refuses gets a JSON-RPC error.
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import {
  type ClientCapabilities,
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  ErrorCode,
  ListRootsRequestSchema,
  type LoggingMessageNotification,
  PingRequestSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { type Context, SpanKind } from '@opentelemetry/api';
import type { AuditEventInput, Json, TargetType } from '../../audit/index.js';
import { activeContext, traced } from '../../telemetry/index.js';
import type { Decision } from '../decision.js';
import { GatewayError, GatewayErrorCode } from '../errors.js';
import { redactArguments } from '../redact.js';

/** The server→client requests Airlock relays under policy, and the client capability each needs. */
export const RELAYED = {
  'sampling/createMessage': 'sampling',
  'elicitation/create': 'elicitation',
  'roots/list': 'roots',
} as const;

export type RelayedMethod = keyof typeof RELAYED;

/** How the gateway decides and audits for one relayed request (its own machinery, bound to the call). */
export interface RelayPolicy {
  /** The decision input for `action` in `phase`, with the caller's facts and a fresh request id. */
  input(
    action: string,
    phase: 'request' | 'response',
    extra: Record<string, unknown>,
  ): { action: string; phase: 'request' | 'response'; request: { id: string } } & Record<string, unknown>;
  /** The policy's decision; a failed evaluation is audited and thrown as PolicyUnavailable. */
  decide(input: {
    action: string;
    phase: 'request' | 'response';
    request: { id: string };
  }): Promise<Decision>;
  /** The audit event's caller fields (user, agent, model, virtual server) under `decisionId`. */
  base(decisionId: string): Partial<AuditEventInput>;
  /** Records `event`, awaited; throws PolicyUnavailable when it cannot. */
  audit(event: AuditEventInput): Promise<void>;
  /** `result` with the decision's result redactions applied. */
  maskResult(result: unknown, rules: { path: string; pattern: string }[]): Promise<unknown>;
}

/** Sends a request to the calling client on the call's stream and resolves with its answer. */
export type ClientSender = (
  method: string,
  params: Record<string, unknown> | undefined,
) => Promise<Record<string, unknown>>;

/** The call in flight that server→client requests made during it belong to. */
export interface RelayCall {
  /** Upstream name. */
  upstream: string;
  /** The call's MCP method (tools/call, prompts/get, resources/read, completion/complete). */
  action: string;
  target: { type: TargetType; name: string };
  /** The call's request-phase decision id. */
  decisionId: string;
  /** Undefined when the calling client cannot be sent requests (no stream for this call). */
  send: ClientSender | undefined;
  /** The calling client's capabilities when known; undefined lets the client answer for itself. */
  clientCapabilities: ClientCapabilities | undefined;
  policy: RelayPolicy;
  /** Receives the upstream's log messages sent during the call, when the request named a level. */
  log?: ((n: LoggingMessageNotification) => void) | undefined;
}

const current = new AsyncLocalStorage<RelayCall>();

/** While tracing is on: the trace context each call was forwarded in, the parent of its relays. */
const traceContexts = new WeakMap<RelayCall, Context>();

/** Calls in flight per upstream connection (per SDK Client). */
const inFlight = new WeakMap<Client, Set<RelayCall>>();

/** Runs `run` (the forwarding of one call) as `call`: requests the upstream makes meanwhile belong to it. */
export function withRelayCall<T>(call: RelayCall, run: () => Promise<T>): Promise<T> {
  const context = activeContext();
  if (context) traceContexts.set(call, context);
  return current.run(call, run);
}

/**
 * Runs `run` (a request on `client`) with the current call counted in flight on that connection,
 * so the connection's handlers can find it.
 */
export async function trackCall<T>(client: Client, run: () => Promise<T>): Promise<T> {
  const call = current.getStore();
  if (!call) return run();
  let calls = inFlight.get(client);
  if (!calls) inFlight.set(client, (calls = new Set()));
  calls.add(call);
  try {
    return await run();
  } finally {
    calls.delete(call);
  }
}

/**
 * The call a notification arriving on `client` was sent in: the one whose async context reads it
 * (an HTTP upstream's response stream of that call), when in flight on this connection. Nothing on
 * a connection's own stream (or a stdio pipe) is related to a call.
 */
export function relatedCall(client: Client): RelayCall | undefined {
  const call = current.getStore();
  return call && inFlight.get(client)?.has(call) ? call : undefined;
}

/**
 * Runs `run` outside any call: a connection opened lazily during a call must not carry that call
 * into what it starts (an HTTP upstream's standalone stream, a stdio child's pipes).
 */
export function outsideCall<T>(run: () => T): T {
  return current.exit(run);
}

/**
 * The call a request arriving on `client` belongs to. Over HTTP the upstream sends it on the call's
 * own response stream, read in the call's async context: that context names the call (and must be
 * one in flight on this connection). Over stdio nothing on the wire relates it: it belongs to the
 * connection's only call in flight; with none or several, to no call.
 */
function callFor(client: Client, transport: 'http' | 'stdio'): RelayCall | undefined {
  const calls = inFlight.get(client);
  if (!calls || calls.size === 0) return undefined;
  if (transport === 'http') {
    const call = current.getStore();
    return call && calls.has(call) ? call : undefined;
  }
  return calls.size === 1 ? [...calls][0] : undefined;
}

const errorText = (err: unknown) => (err instanceof Error ? err.message : String(err));

/**
 * Installs, on Airlock's client to an upstream, the handlers relaying the upstream's requests: those
 * of the capabilities the session declared (`declared`; the SDK answers the others -32601).
 */
export function registerServerRequests(
  client: Client,
  transport: 'http' | 'stdio',
  declared: ClientCapabilities,
): void {
  const handle =
    (method: RelayedMethod) =>
    async (request: { params?: Record<string, unknown> }): Promise<Record<string, unknown>> => {
      const call = callFor(client, transport);
      if (!call)
        throw new GatewayError(
          ErrorCode.InvalidRequest,
          transport === 'stdio' && (inFlight.get(client)?.size ?? 0) > 1
            ? `${method} cannot be related to one call: several calls are in flight on this connection`
            : `${method} is relayed only during a call it belongs to, and no call is in flight`,
        );
      // A SERVER span (the upstream asks, Airlock answers), a child of the call's, however the
      // request arrived (stdio pipes carry no context).
      return traced(method, () => relay(call, method, (request.params ?? {}) as Record<string, unknown>), {
        kind: SpanKind.SERVER,
        parent: traceContexts.get(call),
        attributes: () => ({
          'mcp.method.name': method,
          'airlock.upstream': call.upstream,
          'airlock.call_decision_id': call.decisionId,
        }),
        errorType: rpcErrorType,
      });
    };
  if (declared.sampling)
    client.setRequestHandler(CreateMessageRequestSchema, handle('sampling/createMessage') as never);
  if (declared.elicitation)
    client.setRequestHandler(ElicitRequestSchema, handle('elicitation/create') as never);
  if (declared.roots) client.setRequestHandler(ListRootsRequestSchema, handle('roots/list') as never);
  client.setRequestHandler(PingRequestSchema, async () => {
    const call = callFor(client, transport);
    // Outside a call, Airlock is the upstream's peer and answers for itself.
    if (!call?.send) return {};
    try {
      await call.send('ping', undefined);
      return {};
    } catch (err) {
      throw passOn(err);
    }
  });
}

/** A JSON-RPC error's code (as the MCP conventions record it), else the class name. */
function rpcErrorType(err: unknown): string {
  return err instanceof GatewayError ? String(err.code) : err instanceof Error ? err.name : typeof err;
}

/** The client's (or the gateway's) error as the upstream gets it: code and message kept. */
function passOn(err: unknown): GatewayError {
  if (err instanceof GatewayError) return new GatewayError(err.code, err.message, err.data);
  return new GatewayError(ErrorCode.InternalError, 'the calling client could not be reached');
}

/** Decide, audit and relay one request of the upstream to the calling client, then its answer back. */
async function relay(
  call: RelayCall,
  method: RelayedMethod,
  params: Record<string, unknown>,
): Promise<Record<string, unknown>> {
  const { policy } = call;
  const capability = RELAYED[method];
  const about = {
    server: { name: call.upstream },
    arguments: params,
    call: {
      action: call.action,
      [call.target.type]: { name: call.target.name },
      decision_id: call.decisionId,
    },
  };
  const input = policy.input(method, 'request', about);
  const decisionId = input.request.id;
  const base = () => ({
    ...policy.base(decisionId),
    upstreamServer: call.upstream,
    target: call.target,
  });
  const details = (more: Record<string, unknown> = {}) =>
    ({ action: method, call_action: call.action, call_decision_id: call.decisionId, ...more }) as Json;
  const decision = await policy.decide(input);
  const kept = decision.redact ? redactArguments(params, decision.redact.arguments) : params;
  // Refusals the gateway makes itself (the client cannot take the request) are recorded as denies.
  const refusal =
    call.send === undefined
      ? `the calling client cannot be sent ${method} during ${call.action} (no stream for this call)`
      : call.clientCapabilities !== undefined && call.clientCapabilities[capability] === undefined
        ? `the calling client did not declare the ${capability} capability`
        : undefined;
  await policy.audit({
    ...base(),
    kind: 'decision',
    phase: 'request',
    effect: refusal ? 'deny' : decision.effect,
    reasons: refusal ? [refusal] : decision.reasons,
    ...(decision.revision ? { bundleRevision: decision.revision } : {}),
    arguments: kept as Json,
    details: details(refusal ? { policy_effect: decision.effect, policy_reasons: decision.reasons } : {}),
  } as AuditEventInput);
  if (refusal) throw new GatewayError(ErrorCode.MethodNotFound, refusal, { decision_id: decisionId });
  if (decision.effect === 'deny' || decision.effect === 'require_approval')
    throw new GatewayError(
      GatewayErrorCode.Denied,
      decision.effect === 'deny'
        ? `${method} denied by policy: ${decision.reasons.join('; ')}`
        : `${method} cannot wait for an approval; denied`,
      { decision_id: decisionId, reasons: decision.reasons },
    );
  const forwarded =
    decision.effect === 'redact' && decision.redact
      ? redactArguments(params, decision.redact.arguments)
      : params;

  const started = performance.now();
  let answer: Record<string, unknown>;
  try {
    // A CLIENT span: the request as sent to the calling client on the call's stream.
    answer = await traced(
      method,
      () => (call.send as ClientSender)(method, forwarded as Record<string, unknown>),
      {
        kind: SpanKind.CLIENT,
        attributes: () => ({ 'mcp.method.name': method, 'airlock.decision_id': decisionId }),
        errorType: rpcErrorType,
      },
    );
  } catch (err) {
    await policy.audit({
      ...base(),
      kind: 'call_result',
      phase: 'response',
      details: details({
        error: errorText(err),
        ...(err instanceof GatewayError ? { error_code: err.code } : {}),
      }),
      timings: { client_ms: performance.now() - started },
    } as AuditEventInput);
    throw passOn(err);
  }
  const clientMs = performance.now() - started;

  const responseInput = policy.input(method, 'response', { ...about, arguments: forwarded, result: answer });
  const response = await policy.decide(responseInput);
  const returned = response.redact ? await policy.maskResult(answer, response.redact.result) : answer;
  const withheld = response.effect === 'deny' || response.effect === 'require_approval';
  await policy.audit({
    ...base(),
    kind: 'call_result',
    phase: 'response',
    effect: response.effect,
    reasons: response.reasons,
    ...(response.revision ? { bundleRevision: response.revision } : {}),
    result: (withheld ? null : returned) as Json,
    timings: { client_ms: clientMs },
    details: details({ response_decision_id: responseInput.request.id }),
  } as AuditEventInput);
  if (withheld)
    throw new GatewayError(
      GatewayErrorCode.Denied,
      `the client's answer to ${method} was withheld by policy: ${response.reasons.join('; ')}`,
      { decision_id: responseInput.request.id, reasons: response.reasons },
    );
  return returned as Record<string, unknown>;
}
