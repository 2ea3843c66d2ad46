// Connections to upstream MCP servers: one SDK Client per upstream, connected on first use and
// reconnected after a failure.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  type CallToolResult,
  type Tool,
  ToolListChangedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import type { UpstreamConfig } from './config.js';

export const DEFAULT_TIMEOUT_MS = 30_000;

/** How long an upstream's tool list is reused. It is dropped sooner on `tools/list_changed`
 * and on any connection failure; stateless HTTP upstreams cannot notify, hence the bound. */
export const TOOLS_TTL_MS = 30_000;

/** An upstream could not be reached or failed to answer. */
export class UpstreamError extends Error {
  override name = 'UpstreamError';
  constructor(
    readonly upstream: string,
    message: string,
  ) {
    super(`upstream ${upstream}: ${message}`);
  }
}

export class Upstream {
  #client: Promise<Client> | undefined;
  /** The tool list, fetched once and shared by every list and call until it expires. */
  #tools: { list: Promise<Tool[]>; expires: number } | undefined;
  constructor(readonly config: UpstreamConfig) {}

  get name(): string {
    return this.config.name;
  }

  get #timeout(): number {
    return this.config.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  #connect(): Promise<Client> {
    this.#client ??= (async () => {
      const client = new Client({ name: 'airlock-gateway', version: '0.1.0' });
      const c = this.config;
      const transport =
        c.transport === 'http'
          ? new StreamableHTTPClientTransport(new URL(c.url))
          : new StdioClientTransport({
              command: c.command,
              args: c.args ?? [],
              ...(c.env ? { env: c.env } : {}),
              stderr: 'ignore',
            });
      client.setNotificationHandler(ToolListChangedNotificationSchema, async () => {
        this.#tools = undefined;
      });
      await client.connect(transport, { timeout: this.#timeout });
      client.onclose = () => {
        this.#client = undefined;
        this.#tools = undefined;
      };
      return client;
    })();
    const pending = this.#client;
    pending.catch(() => {
      if (this.#client === pending) this.#client = undefined;
    });
    return pending;
  }

  /** The upstream's tools (cached: see TOOLS_TTL_MS). */
  listTools(): Promise<Tool[]> {
    const now = Date.now();
    if (!this.#tools || this.#tools.expires <= now) {
      const list = this.#fetchTools();
      const entry = { list, expires: now + TOOLS_TTL_MS };
      this.#tools = entry;
      list.catch(() => {
        if (this.#tools === entry) this.#tools = undefined;
      });
    }
    return this.#tools.list;
  }

  async #fetchTools(): Promise<Tool[]> {
    try {
      const client = await this.#connect();
      const tools: Tool[] = [];
      let cursor: string | undefined;
      do {
        const page = await client.listTools(cursor ? { cursor } : {}, { timeout: this.#timeout });
        tools.push(...page.tools);
        cursor = page.nextCursor;
      } while (cursor !== undefined && tools.length < 10_000);
      return tools;
    } catch (err) {
      throw this.#failure(err);
    }
  }

  async callTool(name: string, args: Record<string, unknown>): Promise<CallToolResult> {
    try {
      const client = await this.#connect();
      return (await client.callTool({ name, arguments: args }, undefined, {
        timeout: this.#timeout,
      })) as CallToolResult;
    } catch (err) {
      throw this.#failure(err);
    }
  }

  #failure(err: unknown): UpstreamError {
    const message = err instanceof Error ? err.message : String(err);
    const pending = this.#client;
    this.#client = undefined;
    this.#tools = undefined;
    pending?.then((c) => c.close()).catch(() => {});
    return new UpstreamError(this.name, message);
  }

  async close(): Promise<void> {
    const pending = this.#client;
    this.#client = undefined;
    if (pending) await pending.then((c) => c.close()).catch(() => {});
  }
}
