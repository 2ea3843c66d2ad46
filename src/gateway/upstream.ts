// Connections to upstream MCP servers: one SDK Client per upstream, connected on first use and
// reconnected after a failure.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult, Tool } from '@modelcontextprotocol/sdk/types.js';
import type { UpstreamConfig } from './config.js';

export const DEFAULT_TIMEOUT_MS = 30_000;

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
      await client.connect(transport, { timeout: this.#timeout });
      client.onclose = () => {
        this.#client = undefined;
      };
      return client;
    })();
    const pending = this.#client;
    pending.catch(() => {
      if (this.#client === pending) this.#client = undefined;
    });
    return pending;
  }

  async listTools(): Promise<Tool[]> {
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
    pending?.then((c) => c.close()).catch(() => {});
    return new UpstreamError(this.name, message);
  }

  async close(): Promise<void> {
    const pending = this.#client;
    this.#client = undefined;
    if (pending) await pending.then((c) => c.close()).catch(() => {});
  }
}
