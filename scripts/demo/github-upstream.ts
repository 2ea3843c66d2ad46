// The demo's "github" upstream: a real MCP server over stateless Streamable HTTP on loopback. It
// accepts only access tokens the demo IdP issued for its own audience, and records, for every tool
// call, who the token says the call is for (`sub`) and who acts for them (`act.sub`).
import { createServer, type Server as HttpServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import {
  CallToolRequestSchema,
  ErrorCode,
  ListToolsRequestSchema,
  McpError,
  type Tool,
} from '@modelcontextprotocol/sdk/types.js';
import { createRemoteJWKSet, type JWTPayload, jwtVerify } from 'jose';

export const GITHUB_AUDIENCE = 'https://api.github.example';

export interface GithubCall {
  tool: string;
  arguments: Record<string, unknown>;
  /** Claims of the bearer token the call arrived with. */
  token: { sub: string; act: string | undefined; aud: string; scope: string | undefined };
}

export interface GithubUpstream {
  url: string;
  calls: GithubCall[];
  /** Requests refused for a missing or invalid token. */
  refused: number;
  close(): Promise<void>;
}

const object = (properties: Record<string, object>, required: string[] = []) => ({
  type: 'object' as const,
  properties,
  required,
});

const TOOLS: Tool[] = [
  {
    name: 'list_repos',
    description: "List the organisation's repositories",
    inputSchema: object({ org: { type: 'string' } }, ['org']),
    annotations: { readOnlyHint: true },
  },
  {
    name: 'get_file',
    description: 'Read a file from a repository',
    inputSchema: object({ repo: { type: 'string' }, path: { type: 'string' } }, ['repo', 'path']),
    annotations: { readOnlyHint: true },
  },
  {
    name: 'create_issue',
    description: 'Open an issue',
    inputSchema: object({ repo: { type: 'string' }, title: { type: 'string' }, body: { type: 'string' } }, [
      'repo',
      'title',
    ]),
  },
  {
    name: 'delete_repo',
    description: 'Delete a repository for good',
    inputSchema: object({ repo: { type: 'string' } }, ['repo']),
    annotations: { destructiveHint: true },
  },
  {
    name: 'transfer_repo',
    description: 'Transfer a repository to another owner',
    inputSchema: object({ repo: { type: 'string' }, new_owner: { type: 'string' } }, ['repo', 'new_owner']),
    annotations: { destructiveHint: true },
  },
];

const REPOS = ['corp/payments', 'corp/website', 'corp/legacy-site'];

function answer(tool: string, args: Record<string, unknown>): string {
  switch (tool) {
    case 'list_repos':
      return REPOS.join('\n');
    case 'get_file':
      return `# ${String(args.repo)}/${String(args.path)}\nHello from the demo repository.`;
    case 'create_issue':
      return `opened ${String(args.repo)}#42: ${String(args.title)}`;
    case 'delete_repo':
      return `deleted ${String(args.repo)}`;
    case 'transfer_repo':
      return `transferred ${String(args.repo)} to ${String(args.new_owner)}`;
    default:
      throw new McpError(ErrorCode.InvalidParams, `Tool ${tool} not found`);
  }
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return chunks.length > 0 ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : undefined;
}

/** Starts the upstream; tokens are checked against `issuer`'s keys (its `/jwks`). */
export async function startGithubUpstream(issuer: string): Promise<GithubUpstream> {
  const keys = createRemoteJWKSet(new URL(`${issuer}/jwks`));
  const calls: GithubCall[] = [];
  let refused = 0;

  const mcpServer = (claims: JWTPayload) => {
    const server = new Server({ name: 'github', version: '1.0.0' }, { capabilities: { tools: {} } });
    server.setRequestHandler(ListToolsRequestSchema, async () => ({ tools: TOOLS }));
    server.setRequestHandler(CallToolRequestSchema, async (request) => {
      const args = (request.params.arguments ?? {}) as Record<string, unknown>;
      const text = answer(request.params.name, args);
      const act = (claims.act as { sub?: unknown } | undefined)?.sub;
      calls.push({
        tool: request.params.name,
        arguments: args,
        token: {
          sub: String(claims.sub),
          act: typeof act === 'string' ? act : undefined,
          aud: String(claims.aud),
          scope: typeof claims.scope === 'string' ? claims.scope : undefined,
        },
      });
      return { content: [{ type: 'text', text }] };
    });
    return server;
  };

  const http: HttpServer = createServer((req, res) => {
    void (async () => {
      const body = await readBody(req);
      const messages = Array.isArray(body) ? body : [body];
      const calling = messages.some((m) => (m as { method?: unknown } | null)?.method === 'tools/call');
      // Listing is public (the gateway lists once for all its users); every call needs a valid token.
      const bearer = /^Bearer (.+)$/i.exec(req.headers.authorization ?? '')?.[1];
      let claims: JWTPayload = {};
      try {
        if (bearer)
          ({ payload: claims } = await jwtVerify(bearer, keys, { issuer, audience: GITHUB_AUDIENCE }));
        else if (calling) throw new Error('no bearer token');
      } catch {
        refused++;
        res.writeHead(401, { 'www-authenticate': 'Bearer' }).end();
        return;
      }
      const server = mcpServer(claims);
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
    })().catch(() => {
      if (!res.headersSent) res.writeHead(500).end();
    });
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const { port } = http.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    calls,
    get refused() {
      return refused;
    },
    close: () =>
      new Promise<void>((resolve) => {
        http.closeAllConnections();
        http.close(() => resolve());
      }),
  };
}
