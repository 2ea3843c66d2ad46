// Connections to upstream MCP servers: SDK Clients, one per upstream session (see
// upstream-sessions.ts: per caller where the upstream keeps sessions), connected on first use and
// reconnected after a failure. Lists (tools, resources, resource templates, prompts) are fetched once
// per session and reused until they expire or the upstream says they changed. Per-call HTTP headers
// (the caller's upstream credential) travel in an AsyncLocalStorage, so each request carries its
// own token whichever session serves it.
import { AsyncLocalStorage } from 'node:async_hooks';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import {
  StreamableHTTPClientTransport,
  StreamableHTTPError,
} from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  type CallToolResult,
  type ClientCapabilities,
  type CompleteRequest,
  type CompleteResult,
  ErrorCode,
  type GetPromptResult,
  type LoggingLevel,
  McpError,
  type Progress,
  type Prompt,
  PromptListChangedNotificationSchema,
  type ReadResourceResult,
  type Resource,
  ResourceListChangedNotificationSchema,
  type ResourceTemplate,
  type Tool,
  ToolListChangedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { traceHeaders } from '../telemetry/index.js';
import type { UpstreamConfig } from './config.js';
import { GatewayError } from './errors.js';
import { META } from './protocol/revisions.js';
import { perRequestClient, speaksPerRequest } from './protocol/upstream-revision.js';
import { outsideCall, registerServerRequests, trackCall } from './relay/server-requests.js';
import {
  addSubscriber,
  type CallerNotification,
  relayNotifications,
  removeSubscriber,
  restoreSession,
  setLevel,
} from './session-state.js';
import {
  DEFAULT_IDLE_MS,
  DEFAULT_MAX_SESSIONS,
  type Lease,
  SessionPool,
  SHARED_SESSION,
  type UpstreamSession,
} from './upstream-sessions.js';

export const DEFAULT_TIMEOUT_MS = 30_000;

/** How long an upstream's lists are reused. They are dropped sooner on `list_changed` and on any
 * connection failure; stateless HTTP upstreams cannot notify, hence the bound. */
export const LIST_TTL_MS = 30_000;

/** Upper bound on items gathered from a paginated list. */
const MAX_LISTED = 10_000;

export type ListKind = 'tools' | 'resources' | 'prompts';

/**
 * How an upstream failed: it answered a JSON-RPC error, an HTTP error status, took too long, was not
 * reached, every session it may have is in use, or the client cancelled the request.
 */
export type UpstreamFailure = 'rejected' | 'http' | 'timeout' | 'unreachable' | 'busy' | 'cancelled';

/**
 * An upstream could not be reached or failed to answer. `status` is the HTTP status when there was
 * one. The message (for logs and the audit trail) carries the upstream's own text; `clientMessage`
 * is what agents are told: what failed, never the upstream's internals.
 */
export class UpstreamError extends Error {
  override name = 'UpstreamError';
  constructor(
    readonly upstream: string,
    message: string,
    readonly status?: number,
    readonly failure: UpstreamFailure = status !== undefined ? 'http' : 'unreachable',
    /** The JSON-RPC error code the upstream answered with (failure `rejected`). */
    readonly rpcCode?: number,
    /** The upstream's own JSON-RPC error message (without the SDK's prefix) and data (failure `rejected`). */
    readonly rpc?: { message: string; data?: unknown },
  ) {
    super(`upstream ${upstream}: ${message}`);
  }

  get clientMessage(): string {
    switch (this.failure) {
      case 'rejected':
        return `upstream ${this.upstream} refused the request (JSON-RPC error ${this.rpcCode ?? 'unknown'})`;
      case 'http':
        return `upstream ${this.upstream} answered HTTP ${this.status ?? 'error'}`;
      case 'timeout':
        return `upstream ${this.upstream} timed out`;
      case 'busy':
        return `upstream ${this.upstream} has no free session; retry later`;
      case 'cancelled':
        return `the request to upstream ${this.upstream} was cancelled`;
      default:
        return `upstream ${this.upstream} is unreachable`;
    }
  }
}

/** Headers for the upstream request made inside `run` (the caller's credential). */
const callHeaders = new AsyncLocalStorage<Record<string, string>>();

export function withUpstreamHeaders<T>(headers: Record<string, string>, run: () => Promise<T>): Promise<T> {
  return callHeaders.run(headers, run);
}

/** Adds the call's headers and, while tracing is on, its W3C trace context (`traceparent`). */
const headerFetch: typeof fetch = (input, init) => {
  const extra = callHeaders.getStore();
  const traced = traceHeaders();
  if ((!extra || Object.keys(extra).length === 0) && !traced) return fetch(input, init);
  const headers = new Headers(init?.headers);
  for (const [k, v] of Object.entries({ ...extra, ...traced })) headers.set(k, v);
  return fetch(input, { ...init, headers });
};

/**
 * Decides what an upstream session opened now declares of the client's capabilities (the gateway's
 * `client/capabilities` decision, relay/client-capabilities.ts); it may throw (nothing opens).
 */
export type CapabilityDecider = (upstream: string) => Promise<ClientCapabilities>;

/** The decider of the caller whose request is being served (its session opens with its decision). */
const callerCapabilities = new AsyncLocalStorage<CapabilityDecider>();

/** Runs `run` as a request of the caller `decide` decides for: a session it opens is decided so. */
export function asCaller<T>(decide: CapabilityDecider, run: () => Promise<T>): Promise<T> {
  return callerCapabilities.run(decide, run);
}

/** Produces the headers a list request should carry; called only when the list is really fetched. */
export type CredentialSource = () => Promise<Record<string, string>>;

interface Cached<T> {
  list: Promise<T[]>;
  expires: number;
}

/** How one request travels: whose session carries it, and what the client's request carried. */
export interface UpstreamCall {
  /** The caller's session key (sessionKey()); absent: the shared session. */
  session?: string | undefined;
  /** The client's request `_meta`, passed on (the SDK adds its own `progressToken` when asked for progress). */
  meta?: Record<string, unknown> | undefined;
  /** Aborting it cancels the upstream request (`notifications/cancelled`). */
  signal?: AbortSignal | undefined;
  /** The request's own log level: sent in `_meta` to a 2026-07-28 upstream (older ones set it per session). */
  logLevel?: LoggingLevel | undefined;
  /** Receives the upstream's progress; each one restarts the timeout, up to `max_timeout_ms` in all. */
  onprogress?: ((progress: Progress) => void) | undefined;
}

/** The upper bound on a call that keeps reporting progress, by default (`max_timeout_ms`). */
export const DEFAULT_MAX_TIMEOUT_MS = 600_000;

/** Whether an upstream tool can only be called as a task (MCP tasks, which the gateway does not relay). */
export function requiresTask(tool: Tool): boolean {
  return (tool as { execution?: { taskSupport?: unknown } }).execution?.taskSupport === 'required';
}

export class Upstream {
  readonly #pool: SessionPool;
  /** Called when the upstream announces that one of its lists changed (on `session`, a session key). */
  onListChanged: (kind: ListKind, session: string) => void = () => {};
  /** Called with an upstream notification for the callers (session keys) it concerns. */
  onNotification: (notification: CallerNotification, callers: string[]) => void = () => {};
  /**
   * Decides the capabilities of a shared session (one serving every caller): for no caller in
   * particular. A caller's own session is decided by the decider of the request opening it
   * (asCaller); a session opened outside any caller's request declares none.
   */
  sharedCapabilities: CapabilityDecider = async () => ({});

  constructor(readonly config: UpstreamConfig) {
    const s = config.sessions ?? {};
    this.#pool = new SessionPool({
      isolation: s.isolation ?? (config.transport === 'http' ? 'per_caller' : 'shared'),
      max: s.max ?? DEFAULT_MAX_SESSIONS,
      idleMs: s.idle_ms ?? DEFAULT_IDLE_MS,
      open: (session) => this.#open(session),
      // A Streamable HTTP server that keeps no session names none; a stdio server is one process per session.
      // A 2026-07-28 upstream (protocol/upstream-revision.ts: no v1 transport) keeps none either.
      keepsSessions: (client) =>
        client.transport !== undefined &&
        (!(client.transport instanceof StreamableHTTPClientTransport) ||
          client.transport.sessionId !== undefined),
      end: async (client) => {
        if (client.transport instanceof StreamableHTTPClientTransport)
          await client.transport.terminateSession().catch(() => {});
        await client.close();
      },
      full: (max) => new UpstreamError(this.name, `all ${max} sessions are in use`, undefined, 'busy'),
    });
  }

  /** Sessions open now. */
  get sessions(): number {
    return this.#pool.size;
  }

  /** Keeps the session `session` names open while its caller listens (see SessionPool.hold). */
  holdSession(session: string): () => void {
    return this.#pool.hold(session);
  }

  /** Whether each caller has a session of its own (undefined until the first session tells). */
  get perCallerSessions(): boolean | undefined {
    return this.#pool.perCaller;
  }

  get name(): string {
    return this.config.name;
  }

  get transport(): 'http' | 'stdio' {
    return this.config.transport;
  }

  get #timeout(): number {
    return this.config.timeout_ms ?? DEFAULT_TIMEOUT_MS;
  }

  /** Opens one upstream session: a new SDK Client, connected and initialized. */
  #open(session: UpstreamSession): Promise<Client> {
    return (async () => {
      const c = this.config;
      // What this session declares of the client's capabilities, decided by policy before it opens.
      const decide = session.key === SHARED_SESSION ? this.sharedCapabilities : callerCapabilities.getStore();
      const capabilities = decide ? await decide(this.name) : {};
      // 2026-07-28 when the upstream speaks it (protocol/upstream-revision.ts), else the initialize handshake.
      // Server→client requests are relayed (relay/server-requests.ts): on the session revisions as
      // requests, from a 2026-07-28 upstream as the input requests of its `input_required` results.
      const perRequest = await perRequestClient(c, headerFetch, this.#timeout, capabilities);
      const client =
        perRequest ?? new Client({ name: 'airlock-gateway', version: '0.1.0' }, { capabilities });
      registerServerRequests(client, c.transport, capabilities);
      const transport =
        c.transport === 'http'
          ? new StreamableHTTPClientTransport(new URL(c.url), { fetch: headerFetch })
          : new StdioClientTransport({
              command: c.command,
              args: c.args ?? [],
              // The SDK starts from a minimal safe environment (PATH, HOME, …), never process.env.
              ...(c.env ? { env: c.env } : {}),
              ...(c.cwd ? { cwd: c.cwd } : {}),
              stderr: 'ignore',
            });
      const changed = (kind: ListKind) => async () => {
        if (kind === 'resources') {
          session.lists.resources = undefined;
          session.lists.templates = undefined;
        } else session.lists[kind] = undefined;
        this.onListChanged(kind, session.key);
      };
      client.setNotificationHandler(ToolListChangedNotificationSchema, changed('tools'));
      client.setNotificationHandler(ResourceListChangedNotificationSchema, changed('resources'));
      client.setNotificationHandler(PromptListChangedNotificationSchema, changed('prompts'));
      relayNotifications(client, session, (n, to) => this.onNotification(n, to));
      // Connected outside any call: requests on the session's own stream belong to no call.
      await outsideCall(() => client.connect(transport, { timeout: this.#timeout }));
      if (!perRequest) await restoreSession(client, session, this.#timeout);
      client.onclose = () => {
        if (session.client) void session.client.then((c) => c === client && this.#pool.drop(session));
      };
      return client;
    })();
  }

  /** The session `call` names, connected; connection failures become UpstreamErrors. */
  async #lease(call: UpstreamCall | undefined): Promise<Lease> {
    try {
      return await this.#pool.acquire(call?.session ?? SHARED_SESSION);
    } catch (err) {
      // No capability decision (policy unavailable, audit failed): the session does not open.
      if (err instanceof GatewayError) throw err;
      throw this.#failure(err);
    }
  }

  #cached<T>(
    key: 'tools' | 'resources' | 'templates' | 'prompts',
    credential: CredentialSource | undefined,
    session: string | undefined,
    fetchAll: (
      client: Client,
      cursor: string | undefined,
    ) => Promise<{ items: T[]; next: string | undefined }>,
  ): Promise<T[]> {
    const current = this.#pool.peek(session ?? SHARED_SESSION)?.lists[key] as Cached<T> | undefined;
    if (current && current.expires > Date.now()) return current.list;
    return (async () => {
      // A credential failure is the caller's failure, not the connection's: it is thrown as is.
      const headers = credential ? await credential() : {};
      return withUpstreamHeaders(headers, () =>
        this.#request({ session }, (client, on) => {
          const list = (async () => {
            const items: T[] = [];
            let cursor: string | undefined;
            do {
              const page = await fetchAll(client, cursor);
              items.push(...page.items);
              cursor = page.next;
            } while (cursor !== undefined && items.length < MAX_LISTED);
            return items;
          })();
          const entry: Cached<T> = { list, expires: Date.now() + LIST_TTL_MS };
          const lists = on.lists;
          lists[key] = entry;
          list.catch(() => {
            if (lists[key] === entry) lists[key] = undefined;
          });
          return list;
        }),
      );
    })();
  }

  /**
   * The upstream's tools (cached per session: see LIST_TTL_MS); `credential` is asked for only on a
   * real fetch. Tools that can only run as tasks are left out (the gateway does not relay tasks).
   */
  async listTools(credential?: CredentialSource, session?: string): Promise<Tool[]> {
    const tools = await this.#cached('tools', credential, session, async (c, cursor) => {
      const page = await c.listTools(cursor ? { cursor } : {}, { timeout: this.#timeout });
      return { items: page.tools, next: page.nextCursor };
    });
    return tools.some(requiresTask) ? tools.filter((t) => !requiresTask(t)) : tools;
  }

  /** The upstream's resources; [] when it does not offer resources. */
  listResources(credential?: CredentialSource, session?: string): Promise<Resource[]> {
    return this.#cached('resources', credential, session, async (c, cursor) => {
      if (!c.getServerCapabilities()?.resources) return { items: [], next: undefined };
      const page = await c.listResources(cursor ? { cursor } : {}, { timeout: this.#timeout });
      return { items: page.resources, next: page.nextCursor };
    });
  }

  listResourceTemplates(credential?: CredentialSource, session?: string): Promise<ResourceTemplate[]> {
    return this.#cached('templates', credential, session, async (c, cursor) => {
      if (!c.getServerCapabilities()?.resources) return { items: [], next: undefined };
      const page = await c.listResourceTemplates(cursor ? { cursor } : {}, { timeout: this.#timeout });
      return { items: page.resourceTemplates, next: page.nextCursor };
    });
  }

  /** The upstream's prompts; [] when it does not offer prompts. */
  listPrompts(credential?: CredentialSource, session?: string): Promise<Prompt[]> {
    return this.#cached('prompts', credential, session, async (c, cursor) => {
      if (!c.getServerCapabilities()?.prompts) return { items: [], next: undefined };
      const page = await c.listPrompts(cursor ? { cursor } : {}, { timeout: this.#timeout });
      return { items: page.prompts, next: page.nextCursor };
    });
  }

  /** The upstream's `instructions` on the session `session` names (connecting it when needed). */
  async instructions(session?: string): Promise<string | undefined> {
    return this.#request({ session }, async (c) => c.getInstructions());
  }

  /**
   * Sets the caller's log level on its session. False (nothing sent) when the upstream does not
   * offer logging or the session is shared: one caller's level must not change what others get.
   */
  setLoggingLevel(level: LoggingLevel, call: UpstreamCall): Promise<boolean> {
    return this.#request(call, (c, on) => setLevel(c, on, level, this.#options(call)));
  }

  /** Subscribes the caller to (or unsubscribes it from) `uri`'s updates on its session. */
  subscribeResource(uri: string, subscribe: boolean, call: UpstreamCall): Promise<Record<string, never>> {
    return this.#request(call, async (c, on) => {
      await (subscribe ? addSubscriber : removeSubscriber)(
        c,
        on,
        uri,
        call.session ?? '',
        this.#options(call),
      );
      return {};
    });
  }

  /** SDK request options for `call`: timeout, cancellation, progress. */
  #options(call: UpstreamCall | undefined) {
    return {
      timeout: this.#timeout,
      ...(call?.signal ? { signal: call.signal } : {}),
      ...(call?.onprogress
        ? {
            onprogress: call.onprogress,
            resetTimeoutOnProgress: true,
            maxTotalTimeout: Math.max(this.#timeout, this.config.max_timeout_ms ?? DEFAULT_MAX_TIMEOUT_MS),
          }
        : {}),
    };
  }

  callTool(name: string, args: Record<string, unknown>, call?: UpstreamCall): Promise<CallToolResult> {
    return this.#request(
      call,
      async (c) =>
        (await c.callTool(
          { name, arguments: args, ...requestMeta(c, call) },
          undefined,
          this.#options(call),
        )) as CallToolResult,
    );
  }

  readResource(uri: string, call?: UpstreamCall): Promise<ReadResourceResult> {
    return this.#request(call, (c) => c.readResource({ uri, ...requestMeta(c, call) }, this.#options(call)));
  }

  getPrompt(name: string, args: Record<string, string>, call?: UpstreamCall): Promise<GetPromptResult> {
    return this.#request(call, (c) =>
      c.getPrompt({ name, arguments: args, ...requestMeta(c, call) }, this.#options(call)),
    );
  }

  /** Completion of a prompt's or resource template's argument; none when the upstream offers no completions. */
  complete(params: CompleteRequest['params'], call?: UpstreamCall): Promise<CompleteResult> {
    return this.#request(call, async (c) =>
      c.getServerCapabilities()?.completions
        ? c.complete(params, this.#options(call))
        : { completion: { values: [], hasMore: false } },
    );
  }

  /** Runs `run` on the session `call` names; a session the upstream forgot is opened again, once. */
  async #request<T>(
    call: UpstreamCall | undefined,
    run: (client: Client, session: UpstreamSession) => Promise<T>,
    retried = false,
  ): Promise<T> {
    const lease = await this.#lease(call);
    try {
      return await trackCall(lease.client, () => run(lease.client, lease.session));
    } catch (err) {
      // Airlock's own refusal during the call (an input request a 2026-07-28 upstream embedded, denied).
      if (err instanceof GatewayError) throw err;
      // Cancelled by the caller: the SDK told the upstream (`notifications/cancelled`); the session stays.
      if (call?.signal?.aborted)
        throw new UpstreamError(this.name, 'cancelled by the client', undefined, 'cancelled');
      // A JSON-RPC error answered by the upstream leaves the connection sound.
      if (err instanceof McpError && err.code === ErrorCode.RequestTimeout)
        throw new UpstreamError(this.name, err.message, undefined, 'timeout');
      if (err instanceof McpError && err.code !== ErrorCode.ConnectionClosed)
        throw new UpstreamError(this.name, err.message, undefined, 'rejected', err.code, {
          message: ownMessage(err),
          ...(err.data !== undefined ? { data: err.data } : {}),
        });
      if (err instanceof StreamableHTTPError && err.code !== undefined) {
        // 404/400: the upstream no longer knows this session (it ended it or restarted): start a new one, once.
        if ((err.code === 404 || err.code === 400) && !retried) {
          this.#failure(err, lease.session);
          lease.release();
          return this.#request(call, run, true);
        }
        // Other 4xx (e.g. 401 for the credential path) say nothing about the connection.
        if (err.code >= 400 && err.code < 500) throw new UpstreamError(this.name, err.message, err.code);
      }
      throw this.#failure(err, lease.session);
    } finally {
      lease.release();
    }
  }

  #failure(err: unknown, session?: UpstreamSession): UpstreamError {
    if (err instanceof UpstreamError) return err;
    const message = err instanceof Error ? err.message : String(err);
    if (session) this.#pool.drop(session);
    const status = err instanceof StreamableHTTPError ? (err.code ?? undefined) : undefined;
    const rpc = err instanceof McpError && err.code !== ErrorCode.ConnectionClosed ? err.code : undefined;
    return new UpstreamError(
      this.name,
      message,
      status,
      rpc === ErrorCode.RequestTimeout
        ? 'timeout'
        : rpc !== undefined
          ? 'rejected'
          : status !== undefined
            ? 'http'
            : 'unreachable',
      rpc,
    );
  }

  async close(): Promise<void> {
    await this.#pool.close();
  }
}

/**
 * The forwarded request's `_meta`: the client's own keys, and for a 2026-07-28 upstream the
 * request's log level (its envelope key; the SDK keeps what is given over what it would add).
 */
function requestMeta(client: Client, call: UpstreamCall | undefined): { _meta?: Record<string, unknown> } {
  const level = call?.logLevel && speaksPerRequest(client) ? { [META.logLevel]: call.logLevel } : undefined;
  const meta = call?.meta || level ? { ...call?.meta, ...level } : undefined;
  return meta ? { _meta: meta } : {};
}

/** An McpError's message as the upstream sent it (the SDK prefixes "MCP error <code>: "). */
function ownMessage(err: McpError): string {
  const prefix = `MCP error ${err.code}: `;
  return err.message.startsWith(prefix) ? err.message.slice(prefix.length) : err.message;
}
