// An MCP upstream over stateless Streamable HTTP on loopback that keeps the trace headers each
// JSON-RPC request arrived with.
import { createServer } from 'node:http';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { z } from 'zod';

export interface TracedUpstream {
  url: string;
  /** Per JSON-RPC request: its method and the `traceparent` / `tracestate` headers it came with. */
  seen: { method: string; traceparent: string | undefined; tracestate: string | undefined }[];
  close(): Promise<void>;
}

export async function tracedUpstream(): Promise<TracedUpstream> {
  const seen: TracedUpstream['seen'] = [];
  const http = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString()) : undefined;
    for (const m of Array.isArray(body) ? body : [body])
      if (m?.method)
        seen.push({
          method: m.method,
          traceparent: req.headers.traceparent as string | undefined,
          tracestate: req.headers.tracestate as string | undefined,
        });
    const server = new McpServer({ name: 'crm', version: '1.0.0' });
    server.registerTool(
      'lookup_customer',
      { inputSchema: { id: z.string() }, annotations: { readOnlyHint: true } },
      async ({ id }) => ({ content: [{ type: 'text', text: `customer ${id}: Acme, plan enterprise` }] }),
    );
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: undefined,
      enableJsonResponse: true,
    });
    res.on('close', () => {
      void transport.close();
      void server.close();
    });
    await server.connect(transport);
    await transport.handleRequest(req, res, body);
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(http.address() as { port: number }).port}/mcp`,
    seen,
    close: () =>
      new Promise<void>((r) => {
        http.closeAllConnections();
        http.close(() => r());
      }),
  };
}
