// Connections to upstream MCP servers: one SDK Client per upstream, connected on first use and
// reconnected after a failure. Lists (tools, resources, resource templates, prompts) are fetched once
// and shared until they expire or the upstream says they changed. Per-call HTTP headers (the
// caller's upstream credential) travel in an AsyncLocalStorage, so one connection serves every user
// while each request carries its own token.
import { AsyncLocalStorage } from 'node:async_hooks';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import {
  StreamableHTTPClientTransport,
  StreamableHTTPError,
} from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  type CallToolResult,
  type CompleteRequest,
  type CompleteResult,
  ErrorCode,
  type GetPromptResult,
  McpError,
  type Prompt,
  PromptListChangedNotificationSchema,
  type ReadResourceResult,
  type Resource,
  ResourceListChangedNotificationSchema,
  type ResourceTemplate,
  type Tool,
  ToolListChangedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import type { UpstreamConfig } from './config.js';
import { perRequestClient } from './protocol/upstream-revision.js';
import {
  outsideCall,
  registerServerRequests,
  relayCapabilities,
  trackCall,
} from './relay/server-requests.js';

export const DEFAULT_TIMEOUT_MS = 30_000;

/** How long an upstream's lists are reused. They are dropped sooner on `list_changed` and on any
 * connection failure; stateless HTTP upstreams cannot notify, hence the bound. */
export const LIST_TTL_MS = 30_000;

/** Upper bound on items gathered from a paginated list. */
const MAX_LISTED = 10_000;

export type ListKind = 'tools' | 'resources' | 'prompts';

/** How an upstream failed: it answered a JSON-RPC error, an HTTP error status, took too long, or was not reached. */
export type UpstreamFailure = 'rejected' | 'http' | 'timeout' | 'unreachable';

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

const headerFetch: typeof fetch = (input, init) => {
  const extra = callHeaders.getStore();
  if (!extra || Object.keys(extra).length === 0) return fetch(input, init);
  const headers = new Headers(init?.headers);
  for (const [k, v] of Object.entries(extra)) headers.set(k, v);
  return fetch(input, { ...init, headers });
};

/** Produces the headers a list request should carry; called only when the list is really fetched. */
export type CredentialSource = () => Promise<Record<string, string>>;

interface Cached<T> {
  list: Promise<T[]>;
  expires: number;
}

export class Upstream {
  #client: Promise<Client> | undefined;
  #lists: {
    tools?: Cached<Tool>;
    resources?: Cached<Resource>;
    templates?: Cached<ResourceTemplate>;
    prompts?: Cached<Prompt>;
  } = {};
  /** Called when the upstream announces that one of its lists changed. */
  onListChanged: (kind: ListKind) => void = () => {};

  constructor(readonly config: UpstreamConfig) {}

  get name(): string {
    return this.config.name;
  }

  get transport(): 'http' | 'stdio' {
    return this.config.transport;
  }

  get #timeout(): number {
    return this.config.timeout_ms ?? DEFAULT_TIMEOUT_MS;
  }

  #connect(): Promise<Client> {
    this.#client ??= (async () => {
      const c = this.config;
      // 2026-07-28 when the upstream speaks it (protocol/upstream-revision.ts), else the initialize handshake.
      // Server→client requests are relayed on the session revisions (relay/server-requests.ts); a
      // 2026-07-28 upstream asks for input in its results instead, which is not relayed yet.
      const perRequest = await perRequestClient(c, headerFetch, this.#timeout);
      const client =
        perRequest ??
        new Client({ name: 'airlock-gateway', version: '0.1.0' }, { capabilities: relayCapabilities() });
      if (!perRequest) registerServerRequests(client, c.transport);
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
          this.#lists.resources = undefined;
          this.#lists.templates = undefined;
        } else this.#lists[kind] = undefined;
        this.onListChanged(kind);
      };
      client.setNotificationHandler(ToolListChangedNotificationSchema, changed('tools'));
      client.setNotificationHandler(ResourceListChangedNotificationSchema, changed('resources'));
      client.setNotificationHandler(PromptListChangedNotificationSchema, changed('prompts'));
      await outsideCall(() => client.connect(transport, { timeout: this.#timeout }));
      client.onclose = () => {
        this.#client = undefined;
        this.#lists = {};
      };
      return client;
    })();
    const pending = this.#client;
    pending.catch(() => {
      if (this.#client === pending) this.#client = undefined;
    });
    return pending;
  }

  #cached<T>(
    key: 'tools' | 'resources' | 'templates' | 'prompts',
    credential: CredentialSource | undefined,
    fetchAll: (
      client: Client,
      cursor: string | undefined,
    ) => Promise<{ items: T[]; next: string | undefined }>,
  ): Promise<T[]> {
    const now = Date.now();
    const current = this.#lists[key] as Cached<T> | undefined;
    if (current && current.expires > now) return current.list;
    const list = (async () => {
      // A credential failure is the caller's failure, not the connection's: it is thrown as is.
      const headers = credential ? await credential() : {};
      try {
        const client = await this.#connect();
        return await withUpstreamHeaders(headers, async () => {
          const items: T[] = [];
          let cursor: string | undefined;
          do {
            const page = await fetchAll(client, cursor);
            items.push(...page.items);
            cursor = page.next;
          } while (cursor !== undefined && items.length < MAX_LISTED);
          return items;
        });
      } catch (err) {
        throw this.#failure(err);
      }
    })();
    const entry: Cached<T> = { list, expires: now + LIST_TTL_MS };
    (this.#lists as Record<string, Cached<T> | undefined>)[key] = entry;
    list.catch(() => {
      if ((this.#lists as Record<string, unknown>)[key] === entry)
        (this.#lists as Record<string, unknown>)[key] = undefined;
    });
    return list;
  }

  /** The upstream's tools (cached: see LIST_TTL_MS); `credential` is asked for only on a real fetch. */
  listTools(credential?: CredentialSource): Promise<Tool[]> {
    return this.#cached('tools', credential, async (c, cursor) => {
      const page = await c.listTools(cursor ? { cursor } : {}, { timeout: this.#timeout });
      return { items: page.tools, next: page.nextCursor };
    });
  }

  /** The upstream's resources; [] when it does not offer resources. */
  listResources(credential?: CredentialSource): Promise<Resource[]> {
    return this.#cached('resources', credential, async (c, cursor) => {
      if (!c.getServerCapabilities()?.resources) return { items: [], next: undefined };
      const page = await c.listResources(cursor ? { cursor } : {}, { timeout: this.#timeout });
      return { items: page.resources, next: page.nextCursor };
    });
  }

  listResourceTemplates(credential?: CredentialSource): Promise<ResourceTemplate[]> {
    return this.#cached('templates', credential, async (c, cursor) => {
      if (!c.getServerCapabilities()?.resources) return { items: [], next: undefined };
      const page = await c.listResourceTemplates(cursor ? { cursor } : {}, { timeout: this.#timeout });
      return { items: page.resourceTemplates, next: page.nextCursor };
    });
  }

  /** The upstream's prompts; [] when it does not offer prompts. */
  listPrompts(credential?: CredentialSource): Promise<Prompt[]> {
    return this.#cached('prompts', credential, async (c, cursor) => {
      if (!c.getServerCapabilities()?.prompts) return { items: [], next: undefined };
      const page = await c.listPrompts(cursor ? { cursor } : {}, { timeout: this.#timeout });
      return { items: page.prompts, next: page.nextCursor };
    });
  }

  callTool(name: string, args: Record<string, unknown>): Promise<CallToolResult> {
    return this.#request(
      async (c) =>
        (await c.callTool({ name, arguments: args }, undefined, {
          timeout: this.#timeout,
        })) as CallToolResult,
    );
  }

  readResource(uri: string): Promise<ReadResourceResult> {
    return this.#request((c) => c.readResource({ uri }, { timeout: this.#timeout }));
  }

  getPrompt(name: string, args: Record<string, string>): Promise<GetPromptResult> {
    return this.#request((c) => c.getPrompt({ name, arguments: args }, { timeout: this.#timeout }));
  }

  /** Completion of a prompt's or resource template's argument; none when the upstream offers no completions. */
  complete(params: CompleteRequest['params']): Promise<CompleteResult> {
    return this.#request(async (c) =>
      c.getServerCapabilities()?.completions
        ? c.complete(params, { timeout: this.#timeout })
        : { completion: { values: [], hasMore: false } },
    );
  }

  async #request<T>(run: (client: Client) => Promise<T>, retried = false): Promise<T> {
    let client: Client;
    try {
      client = await this.#connect();
    } catch (err) {
      throw this.#failure(err);
    }
    try {
      return await trackCall(client, () => run(client));
    } catch (err) {
      // A JSON-RPC error answered by the upstream leaves the connection sound.
      if (err instanceof McpError && err.code === ErrorCode.RequestTimeout)
        throw new UpstreamError(this.name, err.message, undefined, 'timeout');
      if (err instanceof McpError && err.code !== ErrorCode.ConnectionClosed)
        throw new UpstreamError(this.name, err.message, undefined, 'rejected', err.code);
      if (err instanceof StreamableHTTPError && err.code !== undefined) {
        // 404/400: the upstream no longer knows our session (it restarted): start a new one, once.
        if ((err.code === 404 || err.code === 400) && !retried) {
          this.#failure(err);
          return this.#request(run, true);
        }
        // Other 4xx (e.g. 401 for the credential path) say nothing about the connection.
        if (err.code >= 400 && err.code < 500) throw new UpstreamError(this.name, err.message, err.code);
      }
      throw this.#failure(err);
    }
  }

  #failure(err: unknown): UpstreamError {
    if (err instanceof UpstreamError) return err;
    const message = err instanceof Error ? err.message : String(err);
    const pending = this.#client;
    this.#client = undefined;
    this.#lists = {};
    pending?.then((c) => c.close()).catch(() => {});
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
    const pending = this.#client;
    this.#client = undefined;
    if (pending) await pending.then((c) => c.close()).catch(() => {});
  }
}
