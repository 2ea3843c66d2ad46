// A session-keeping MCP upstream over Streamable HTTP for tests: each new session gets a fresh
// server from `build` (the SDK's McpServer), requests naming a session go to it, and close() ends
// every session and the listener.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';

export interface SessionHttpUpstream {
  /** The MCP endpoint (`…/mcp`). */
  url: string;
  close: () => Promise<void>;
}

/** Serves a new `build()` per session; `onRequest` sees each request and its parsed body first. */
export async function sessionHttpUpstream(
  build: () => McpServer,
  onRequest?: (req: IncomingMessage, body: unknown) => void,
): Promise<SessionHttpUpstream> {
  const sessions = new Map<string, StreamableHTTPServerTransport>();
  const http = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString()) : undefined;
    onRequest?.(req, body);
    const id = req.headers['mcp-session-id'];
    let transport = typeof id === 'string' ? sessions.get(id) : undefined;
    if (!transport) {
      const created = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (sid) => {
          sessions.set(sid, created);
        },
      });
      transport = created;
      await build().connect(created);
    }
    await transport.handleRequest(req, res, body);
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(http.address() as { port: number }).port}/mcp`,
    close: async () => {
      for (const tr of sessions.values()) await tr.close().catch(() => {});
      http.closeAllConnections();
      await new Promise<void>((r) => http.close(() => r()));
    },
  };
}
