// Which protocol revision Airlock speaks to one upstream, and the client that speaks 2026-07-28.
// Session revisions (the initialize handshake) stay with the v1 SDK client upstream.ts has always
// used; an upstream that offers 2026-07-28 gets the v2 SDK client instead, behind an adapter with
// the v1 client's surface and error types, so upstream.ts and the gateway see no difference.
// Either way the client's own revision is independent of the upstream's: the gateway works on
// plain results, and each front encodes them for its client.
import {
  type DiscoverResult,
  type McpSubscription,
  ProtocolError,
  SdkError,
  SdkErrorCode,
  SdkHttpError,
  Client as V2Client,
  StreamableHTTPClientTransport as V2HttpTransport,
} from '@modelcontextprotocol/client';
import { StdioClientTransport as V2StdioTransport } from '@modelcontextprotocol/client/stdio';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { ClientCapabilities } from '@modelcontextprotocol/sdk/types.js';
import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import type { UpstreamConfig } from '../config.js';
import { GatewayError } from '../errors.js';
import { RELAYED, type RelayedMethod } from '../relay/server-requests.js';
import { HEADER, META, PER_REQUEST_REVISION } from './revisions.js';

const CLIENT_INFO = { name: 'airlock-gateway', version: '0.1.0' };

/** Resources one 2026-07-28 upstream session may have subscribed at once (its listen filter). */
export const MAX_LISTENED_RESOURCES = 256;

/** How long after the upstream dropped its listen stream Airlock opens it again. */
const RELISTEN_MS = 1000;

/** The notifications this revision brings on a `subscriptions/listen` stream or a request's stream. */
const RELAYED_NOTIFICATIONS = new Set([
  'notifications/message',
  'notifications/tools/list_changed',
  'notifications/resources/list_changed',
  'notifications/prompts/list_changed',
  'notifications/resources/updated',
]);

/**
 * Asks an HTTP upstream `server/discover` (one POST). Its result when the upstream offers
 * 2026-07-28; undefined when it answers anything else (a session-revision server answers an error
 * or HTTP 400). Network failures and timeouts are thrown: the upstream is then unreachable, which
 * says nothing about its revision.
 */
export async function discoverOverHttp(
  url: string,
  fetchFn: typeof fetch,
  timeoutMs: number,
): Promise<DiscoverResult | undefined> {
  try {
    return await discoverOnce(url, fetchFn, timeoutMs);
  } catch (err) {
    // A probe that took too long fails as the handshake would have: a timeout, not unreachable.
    if (err instanceof Error && err.name === 'TimeoutError')
      throw new McpError(ErrorCode.RequestTimeout, `server/discover timed out after ${timeoutMs} ms`);
    throw err;
  }
}

async function discoverOnce(url: string, fetchFn: typeof fetch, timeoutMs: number) {
  const res = await fetchFn(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      [HEADER.protocolVersion]: PER_REQUEST_REVISION,
      [HEADER.method]: 'server/discover',
    },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 'airlock-discover',
      method: 'server/discover',
      params: {
        _meta: {
          [META.protocolVersion]: PER_REQUEST_REVISION,
          [META.clientInfo]: CLIENT_INFO,
          [META.clientCapabilities]: {},
        },
      },
    }),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await res.text();
  if (!res.ok) return undefined;
  const result = firstResult(text, res.headers.get('content-type') ?? '');
  const versions = (result as { supportedVersions?: unknown } | undefined)?.supportedVersions;
  return Array.isArray(versions) && versions.includes(PER_REQUEST_REVISION)
    ? (result as DiscoverResult)
    : undefined;
}

/** The `result` of the JSON-RPC response in a JSON or SSE body. */
function firstResult(text: string, contentType: string): unknown {
  const bodies = contentType.includes('text/event-stream')
    ? text
        .split(/\r?\n/)
        .filter((l) => l.startsWith('data:'))
        .map((l) => l.slice(5).trim())
    : [text];
  for (const body of bodies) {
    try {
      const m = JSON.parse(body) as { id?: unknown; result?: unknown };
      if (m.id === 'airlock-discover' && m.result && typeof m.result === 'object') return m.result;
    } catch {
      // not JSON: not a 2026-07-28 answer
    }
  }
  return undefined;
}

/** The v2 SDK's errors as the v1 client throws them, so upstream.ts classifies failures as before. */
function asV1Error(err: unknown): unknown {
  // Airlock's own refusal of an input request (policy, the caller's answer): the call ends with it,
  // as is (upstream.ts passes it on; the connection is sound).
  const own = err instanceof GatewayError ? err : (err as { cause?: unknown } | undefined)?.cause;
  if (own instanceof GatewayError) return own;
  if (err instanceof ProtocolError) return new McpError(err.code, err.message, err.data);
  if (err instanceof SdkHttpError) {
    const status = (err.data as { status?: unknown } | undefined)?.status;
    return new StreamableHTTPError(typeof status === 'number' ? status : undefined, err.message);
  }
  if (err instanceof SdkError) {
    if (err.code === SdkErrorCode.RequestTimeout) return new McpError(ErrorCode.RequestTimeout, err.message);
    if (err.code === SdkErrorCode.ConnectionClosed)
      return new McpError(ErrorCode.ConnectionClosed, err.message);
  }
  return err;
}

async function v1Errors<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    throw asV1Error(err);
  }
}

/** Drops the 2026-07-28 encoding of a result (cache hints, result type): the gateway works on plain results. */
function plain<T extends object>(result: T): T {
  const { ttlMs: _t, cacheScope: _s, resultType: _r, ...rest } = result as Record<string, unknown>;
  return rest as T;
}

type Timeout = { timeout?: number };

/**
 * The options a listen stream is opened with: the acknowledgement's timeout only. The stream
 * outlives the request that changed it, so that request's signal must not end it.
 */
const ackTimeout = (options: Timeout): Timeout => (options.timeout ? { timeout: options.timeout } : {});

/**
 * A 2026-07-28 upstream, with the part of the v1 Client surface upstream.ts uses. Lists are always
 * fetched (upstream.ts keeps its own cache and decides per caller); reads never come from the SDK's
 * response cache, which knows nothing of whose credential a result was read with.
 */
class PerRequestUpstreamClient {
  onclose: (() => void) | undefined;
  readonly #client: V2Client;
  /** The session's `subscriptions/listen` stream: list changes, and the resources subscribed. */
  #listen: McpSubscription | undefined;
  /** Serialises re-opening the listen stream (each subscribe or unsubscribe changes its filter). */
  #listening: Promise<unknown> = Promise.resolve();
  readonly #uris = new Set<string>();
  #closed = false;

  constructor(
    readonly discovered: DiscoverResult | undefined,
    readonly open: () => V2HttpTransport | V2StdioTransport,
    capabilities: ClientCapabilities,
  ) {
    this.#client = new V2Client(CLIENT_INFO, {
      versionNegotiation: { mode: { pin: PER_REQUEST_REVISION } },
      // What policy lets Airlock relay to its callers (relay/client-capabilities.ts), as on the
      // session revisions; sent in every request's envelope.
      capabilities: capabilities as never,
    });
  }

  /**
   * The v1 client's handler registration, for the requests the upstream embeds in an
   * `input_required` result: the SDK's client fulfils them through these handlers (the same ones
   * relaying a session-revision upstream's requests: decided, audited, relayed to the caller) and
   * sends the call again with the answers and the upstream's `requestState`, at most
   * `inputRequired.maxRounds` (the SDK's 10) rounds. This revision has no server→client ping.
   */
  setRequestHandler(
    schema: { shape: { method: { value: string } } },
    handler: (request: { params?: Record<string, unknown> }) => Promise<Record<string, unknown>>,
  ): void {
    const method = schema.shape.method.value;
    if (!Object.hasOwn(RELAYED, method)) return;
    this.#client.setRequestHandler(
      method as RelayedMethod,
      (async (request: { params?: unknown }) =>
        handler({ params: request.params as Record<string, unknown> | undefined })) as never,
    );
  }

  /**
   * The v1 client's notification registration: log messages (on a request's stream), list changes
   * and resource updates (on the session's listen stream) reach the same handlers as on the
   * session revisions.
   */
  setNotificationHandler(
    schema: { shape: { method: { value: string } } },
    handler: (notification: { method: string; params?: unknown }) => Promise<void>,
  ): void {
    const method = schema.shape.method.value;
    if (!RELAYED_NOTIFICATIONS.has(method)) return;
    this.#client.setNotificationHandler(
      method as 'notifications/message',
      ((n: { method: string; params?: unknown }) => handler(n)) as never,
    );
  }

  /**
   * Opens the session's listen stream anew with what it needs now (the list changes the upstream
   * offers, the subscribed resources), then closes the previous one; none when nothing is needed.
   * Resolves with the filter the upstream honoured. Calls are serialised.
   */
  #relisten(options: Timeout): Promise<Record<string, unknown>> {
    const run = this.#listening.then(async () => {
      if (this.#closed) return {};
      const caps = this.#client.getServerCapabilities();
      const filter = {
        ...(caps?.tools?.listChanged ? { toolsListChanged: true } : {}),
        ...(caps?.resources?.listChanged ? { resourcesListChanged: true } : {}),
        ...(caps?.prompts?.listChanged ? { promptsListChanged: true } : {}),
        ...(this.#uris.size > 0 ? { resourceSubscriptions: [...this.#uris] } : {}),
      };
      const old = this.#listen;
      this.#listen = undefined;
      const opened =
        Object.keys(filter).length > 0
          ? await v1Errors(() => this.#client.listen(filter, options))
          : undefined;
      this.#listen = opened;
      await old?.close().catch(() => {});
      // Dropped by the upstream (not closed by Airlock): opened again, once per drop, after a pause.
      void opened?.closed.then((how) => {
        if (how !== 'remote' || this.#listen !== opened || this.#closed) return;
        setTimeout(() => void this.#relisten(options).catch(() => {}), RELISTEN_MS).unref();
      });
      return (opened?.honoredFilter ?? {}) as Record<string, unknown>;
    });
    this.#listening = run.catch(() => {});
    return run;
  }

  /** `resources/subscribe` of the session revisions: the URI joins the listen stream's filter. */
  async subscribeResource(params: { uri: string }, options: Timeout): Promise<Record<string, never>> {
    if (!this.#client.getServerCapabilities()?.resources?.subscribe)
      throw new McpError(ErrorCode.MethodNotFound, 'the upstream offers no resource subscriptions');
    if (!this.#uris.has(params.uri) && this.#uris.size >= MAX_LISTENED_RESOURCES)
      throw new McpError(
        ErrorCode.InvalidRequest,
        `at most ${MAX_LISTENED_RESOURCES} resources may be subscribed on one upstream session`,
      );
    this.#uris.add(params.uri);
    let honoured: Record<string, unknown>;
    try {
      honoured = await this.#relisten(ackTimeout(options));
    } catch (err) {
      this.#uris.delete(params.uri);
      throw err;
    }
    const subscribed = honoured.resourceSubscriptions;
    if (!Array.isArray(subscribed) || !subscribed.includes(params.uri)) {
      this.#uris.delete(params.uri);
      throw new McpError(ErrorCode.InvalidParams, `the upstream did not subscribe ${params.uri}`);
    }
    return {};
  }

  /** `resources/unsubscribe`: the URI leaves the listen stream's filter. */
  async unsubscribeResource(params: { uri: string }, options: Timeout): Promise<Record<string, never>> {
    if (this.#uris.delete(params.uri)) await this.#relisten(ackTimeout(options));
    return {};
  }

  /** Connects over this client's own transport: the v1 transport upstream.ts built is not started. */
  async connect(_unused: unknown, options: Timeout): Promise<void> {
    await v1Errors(() =>
      this.#client.connect(this.open(), {
        ...(options.timeout ? { timeout: options.timeout } : {}),
        ...(this.discovered ? { prior: { kind: 'modern' as const, discover: this.discovered } } : {}),
      }),
    );
    this.#client.onclose = () => this.onclose?.();
    // List changes come on a listen stream on this revision; an upstream that cannot open one
    // leaves Airlock's lists to expire after LIST_TTL_MS.
    await this.#relisten(ackTimeout(options)).catch(() => {});
  }

  getServerCapabilities() {
    return this.#client.getServerCapabilities();
  }

  listTools(params: { cursor?: string }, options: Timeout) {
    return v1Errors(async () =>
      plain(await this.#client.listTools(params, { ...options, cacheMode: 'refresh' })),
    );
  }

  listResources(params: { cursor?: string }, options: Timeout) {
    return v1Errors(async () =>
      plain(await this.#client.listResources(params, { ...options, cacheMode: 'refresh' })),
    );
  }

  listResourceTemplates(params: { cursor?: string }, options: Timeout) {
    return v1Errors(async () =>
      plain(await this.#client.listResourceTemplates(params, { ...options, cacheMode: 'refresh' })),
    );
  }

  listPrompts(params: { cursor?: string }, options: Timeout) {
    return v1Errors(async () =>
      plain(await this.#client.listPrompts(params, { ...options, cacheMode: 'refresh' })),
    );
  }

  callTool(
    params: { name: string; arguments?: Record<string, unknown> },
    _schema: unknown,
    options: Timeout,
  ) {
    return v1Errors(async () => plain(await this.#client.callTool(params, options)));
  }

  readResource(params: { uri: string }, options: Timeout) {
    return v1Errors(async () =>
      plain(await this.#client.readResource(params, { ...options, cacheMode: 'bypass' })),
    );
  }

  getPrompt(params: { name: string; arguments?: Record<string, string> }, options: Timeout) {
    return v1Errors(async () => plain(await this.#client.getPrompt(params, options)));
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#listen?.close().catch(() => {});
    this.#listen = undefined;
    return this.#client.close();
  }
}

/** Whether `client` speaks 2026-07-28 to its upstream (the per-request revision's client). */
export function speaksPerRequest(client: Client): boolean {
  return (client as unknown) instanceof PerRequestUpstreamClient;
}

/**
 * The client for `config` when Airlock is to speak 2026-07-28 to it (its `protocol_revision`, or for
 * `auto` over HTTP, what `server/discover` says); undefined for the initialize handshake (the caller
 * uses its v1 client). `fetchFn` carries the caller's upstream credential.
 */
export async function perRequestClient(
  config: UpstreamConfig,
  fetchFn: typeof fetch,
  timeoutMs: number,
  capabilities: ClientCapabilities,
): Promise<Client | undefined> {
  const setting = config.protocol_revision ?? 'auto';
  if (setting === '2025-11-25') return undefined;
  if (config.transport === 'stdio') {
    if (setting !== PER_REQUEST_REVISION) return undefined;
    const c = config;
    return new PerRequestUpstreamClient(
      undefined,
      () =>
        new V2StdioTransport({
          command: c.command,
          args: c.args ?? [],
          ...(c.env ? { env: c.env } : {}),
          ...(c.cwd ? { cwd: c.cwd } : {}),
          stderr: 'ignore',
        }),
      capabilities,
    ) as unknown as Client;
  }
  const url = config.url;
  const open = () => new V2HttpTransport(new URL(url), { fetch: fetchFn });
  // Pinned: the SDK's connect asks server/discover itself and fails unless 2026-07-28 is offered.
  if (setting === PER_REQUEST_REVISION)
    return new PerRequestUpstreamClient(undefined, open, capabilities) as unknown as Client;
  const discovered = await discoverOverHttp(url, fetchFn, timeoutMs);
  return discovered
    ? (new PerRequestUpstreamClient(discovered, open, capabilities) as unknown as Client)
    : undefined;
}
