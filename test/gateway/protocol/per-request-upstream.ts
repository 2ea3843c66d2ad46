// A 2026-07-28-only upstream for the protocol tests: the SDK's v2 server behind its own HTTP
// handler (session revisions refused), on loopback, recording what each request carried.
import { createServer, type Server as HttpServer } from 'node:http';
import { createMcpHandler, type McpServer } from '@modelcontextprotocol/server';

export interface Seen {
  method: string | undefined;
  version: string | undefined;
  mcpMethod: string | undefined;
  mcpName: string | undefined;
  authorization: string | undefined;
  /** The request's `_meta`, as sent. */
  meta: unknown;
}

export async function servePerRequest(
  build: () => McpServer,
  /** When it says so, the request is answered 401 before MCP sees it. */
  unauthorized: () => boolean = () => false,
  /** `auto`: a request's related messages (log messages, progress) stream before its result. */
  responseMode: 'json' | 'auto' = 'json',
) {
  const seen: Seen[] = [];
  const handler = createMcpHandler(build, { legacy: 'reject', responseMode });
  const http: HttpServer = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    const parsed = body.length
      ? (JSON.parse(body.toString()) as { method?: string; params?: { _meta?: unknown } })
      : undefined;
    const h = (name: string) => req.headers[name] as string | undefined;
    seen.push({
      method: parsed?.method,
      version: h('mcp-protocol-version'),
      mcpMethod: h('mcp-method'),
      mcpName: h('mcp-name'),
      authorization: h('authorization'),
      meta: parsed?.params?._meta,
    });
    if (unauthorized()) {
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"invalid_token"}');
      return;
    }
    const headers = new Headers();
    for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers.set(k, v);
    const response = await handler.fetch(
      new Request(`http://127.0.0.1${req.url}`, {
        method: req.method ?? 'GET',
        headers,
        ...(req.method === 'POST' ? { body } : {}),
      }),
    );
    res.writeHead(response.status, Object.fromEntries(response.headers));
    // Streamed as it comes: a listen stream (SSE) stays open, writing each notification.
    const reader = response.body?.getReader();
    res.on('close', () => void reader?.cancel().catch(() => {}));
    for (;;) {
      const chunk = await reader?.read().catch(() => undefined);
      if (!chunk || chunk.done) break;
      res.write(chunk.value);
    }
    res.end();
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(http.address() as { port: number }).port}/mcp`,
    seen,
    /** Publishes list changes and resource updates to the upstream's listen streams. */
    notify: handler.notify,
    close: async () => {
      await handler.close();
      await new Promise<void>((r) => {
        http.closeAllConnections();
        http.close(() => r());
      });
    },
  };
}
