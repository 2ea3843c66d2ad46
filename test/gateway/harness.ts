// Shared by the gateway tests: the reference policies built once with test data, a real Streamable
// HTTP upstream (in process) and a real stdio upstream (test/fixtures/gateway), Airlock on loopback,
// and SDK clients speaking to it.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server as HttpServer, type IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpServer, ResourceTemplate } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import Fastify, { type FastifyInstance } from 'fastify';
import { z } from 'zod';
import { type AuditEventInput, AuditStore } from '../../src/audit/index.js';
import { loadPolicyTree } from '../../src/cli/policy-files.js';
import { buildBundle, Engine, type EngineOptions, type PolicyBundle } from '../../src/engine/index.js';
import { ApprovalStore, type ApprovalStoreOptions } from '../../src/gateway/approvals.js';
import {
  type GatewayConfig,
  type GatewayOptions,
  gatewayPlugin,
  originGuardPlugin,
  parseGatewayConfig,
  TEST_PRINCIPAL_HEADER,
} from '../../src/gateway/index.js';
import type { Identity } from '../../src/identity/index.js';
import { freshPgliteDir } from '../helpers/pglite-dir.js';

const POLICIES = fileURLToPath(new URL('../../policies', import.meta.url));
export const STDIO_UPSTREAM = fileURLToPath(
  new URL('../fixtures/gateway/stdio-upstream.mjs', import.meta.url),
);
export const CARD = '4111 1111 1111 1111';

/** An engine running the reference policies; crm is made external, zendesk redacts PII arguments. */
export async function referenceEngine(options: EngineOptions = {}): Promise<Engine> {
  const engine = new Engine(options);
  const bundle = await referenceBundle();
  // Each engine its own copy of the data document: the compiled module is what is shared.
  await engine.activate({ ...bundle, data: structuredClone(bundle.data) }, 'test');
  return engine;
}

let built: Promise<PolicyBundle> | undefined;
/** The reference bundle of referenceEngine, compiled once per test process. */
function referenceBundle(): Promise<PolicyBundle> {
  built ??= (async () => {
    const tree = await loadPolicyTree([POLICIES]);
    const data = structuredClone(tree.data) as { servers: Record<string, Record<string, unknown>> };
    data.servers.crm = { ...data.servers.crm, external: true };
    data.servers.zendesk = { ...data.servers.zendesk, pii_arguments: 'redact' };
    return buildBundle({ ...tree, data }, { entrypoints: ['airlock/decision', 'airlock/approve'] }).bundle;
  })();
  return built;
}

/**
 * Serves a fresh McpServer from `build` per request over stateless Streamable HTTP on loopback;
 * `onMessage` sees each JSON-RPC message with its HTTP request first.
 */
async function serveMcp(
  build: () => McpServer,
  onMessage: (message: { method?: string }, req: IncomingMessage) => void,
  /** When it says so, the request is answered 401 before MCP sees it. */
  unauthorized: () => boolean = () => false,
): Promise<{ url: string; close: () => Promise<void> }> {
  const http: HttpServer = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString()) : undefined;
    for (const m of Array.isArray(body) ? body : [body]) if (m) onMessage(m, req);
    if (unauthorized()) {
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"invalid_token"}');
      return;
    }
    const server = build();
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
    close: () =>
      new Promise<void>((r) => {
        http.closeAllConnections();
        http.close(() => r());
      }),
  };
}

/** The crm upstream: a real MCP server over stateless Streamable HTTP on loopback. */
export async function crmUpstream(): Promise<{
  url: string;
  calls: unknown[];
  /** JSON-RPC methods received, in order. */
  methods: string[];
  close: () => Promise<void>;
}> {
  const calls: unknown[] = [];
  const methods: string[] = [];
  const build = () => {
    const s = new McpServer({ name: 'crm', version: '1.0.0' });
    s.registerTool(
      'lookup_customer',
      { inputSchema: { id: z.string() }, annotations: { readOnlyHint: true } },
      async (args) => {
        calls.push({ tool: 'lookup_customer', args });
        return { content: [{ type: 'text', text: `customer ${args.id} pays with card ${CARD} monthly` }] };
      },
    );
    s.registerTool(
      'update_customer',
      { inputSchema: { id: z.string(), note: z.string() }, annotations: { destructiveHint: false } },
      async (args) => {
        calls.push({ tool: 'update_customer', args });
        return { content: [{ type: 'text', text: `updated ${args.id}` }] };
      },
    );
    s.registerTool(
      'delete_customer',
      { inputSchema: { id: z.string() }, annotations: { destructiveHint: true } },
      async (args) => {
        calls.push({ tool: 'delete_customer', args });
        return { content: [{ type: 'text', text: `deleted ${args.id}` }] };
      },
    );
    s.registerResource('refund-policy', 'kb://articles/refunds', { mimeType: 'text/plain' }, async (uri) => ({
      contents: [{ uri: uri.href, text: `Refunds within 30 days. Test card ${CARD} is never charged.` }],
    }));
    s.registerResource('customer-record', 'crm://customers/C-1', { mimeType: 'text/plain' }, async (uri) => ({
      contents: [{ uri: uri.href, text: 'C-1: Ada, VIP' }],
    }));
    s.registerResource(
      'article',
      new ResourceTemplate('kb://articles/{slug}', { list: undefined }),
      { mimeType: 'text/plain' },
      async (uri, { slug }) => ({ contents: [{ uri: uri.href, text: `article ${String(slug)}` }] }),
    );
    s.registerPrompt('ticket-reply', { argsSchema: { tone: z.string() } }, ({ tone }) => ({
      messages: [{ role: 'user', content: { type: 'text', text: `Reply to the ticket in a ${tone} tone.` } }],
    }));
    s.registerPrompt('internal-escalation', {}, () => ({
      messages: [{ role: 'user', content: { type: 'text', text: 'Escalate to the on-call manager.' } }],
    }));
    return s;
  };
  const served = await serveMcp(build, (m) => {
    if (m.method) methods.push(m.method);
  });
  return { ...served, calls, methods };
}

export interface Airlock {
  app: FastifyInstance;
  base: string;
  events: AuditEventInput[];
  /** The audit store (absent when the test passed its own `audit`). */
  store: AuditStore | undefined;
  approvals: ApprovalStore | undefined;
  close: () => Promise<void>;
}

export interface AirlockOptions {
  engine: Engine;
  audit?: GatewayOptions['audit'];
  timeoutMs?: number;
  /** Extra gateway configuration (limits, approvals). */
  gateway?: Partial<Pick<GatewayConfig, 'limits' | 'approvals' | 'http' | 'client_sessions'>>;
  identity?: Identity;
  /** Share an existing audit store (e.g. two gateways on one database). */
  store?: AuditStore;
  approvalOptions?: ApprovalStoreOptions;
  /** Upstreams and virtual servers instead of crm + zendesk behind `support`. */
  topology?: Pick<GatewayConfig, 'upstreams' | 'virtual_servers'>;
  /** Where the gateway's stage histogram goes. */
  metricsRegistry?: GatewayOptions['metricsRegistry'];
}

export async function startAirlock(upstreamUrl: string, options: AirlockOptions): Promise<Airlock> {
  const dir = mkdtempSync(join(tmpdir(), 'airlock-gateway-'));
  const store =
    options.store ??
    (options.audit
      ? undefined
      : await AuditStore.open({ dataDir: await freshPgliteDir(join(dir, 'audit')) }));
  const approvals = store
    ? await ApprovalStore.open(store.db, { pollIntervalMs: 100, ...options.approvalOptions })
    : undefined;
  const events: AuditEventInput[] = [];
  const audit: GatewayOptions['audit'] = options.audit ?? {
    record: async (e) => {
      const r = await store!.record(e);
      events.push(e);
      return r;
    },
  };
  const config = parseGatewayConfig({
    ...(options.topology ?? {
      upstreams: [
        { name: 'crm', transport: 'http', url: upstreamUrl, timeout_ms: options.timeoutMs ?? 5000 },
        { name: 'zendesk', transport: 'stdio', command: process.execPath, args: [STDIO_UPSTREAM] },
      ],
      virtual_servers: [{ name: 'support', upstreams: ['crm', 'zendesk'] }],
    }),
    ...options.gateway,
  });
  const app = Fastify();
  await app.register(originGuardPlugin, {
    settings: config.http,
    resource: options.identity?.settings.resource,
  });
  await app.register(gatewayPlugin, {
    config,
    engine: options.engine,
    audit,
    ...(approvals ? { approvals } : {}),
    ...(options.identity ? { identity: options.identity } : {}),
    trustTestPrincipalHeader: !options.identity,
    ...(options.metricsRegistry ? { metricsRegistry: options.metricsRegistry } : {}),
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const addr = app.server.address() as { port: number };
  return {
    app,
    base: `http://127.0.0.1:${addr.port}`,
    events,
    store,
    approvals,
    close: async () => {
      await app.close();
      await approvals?.close();
      if (!options.store) await store?.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const SUPPORT_PRINCIPAL = {
  user: { sub: 'sam', email: 'sam@corp.example', groups: ['support'], claims: {} },
  agent: { id: 'support-agent', client_id: 'support-agent', claims: {} },
  model: { provider: 'anthropic', name: 'claude-sonnet-4', attested: false },
};

export async function connectClient(
  base: string,
  virtual = 'support',
  principal: unknown = SUPPORT_PRINCIPAL,
) {
  const client = new Client({ name: 'test-agent', version: '1.0.0' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(`${base}/mcp/${virtual}`), {
      requestInit: { headers: { [TEST_PRINCIPAL_HEADER]: JSON.stringify(principal) } },
    }),
  );
  return client;
}

/** The JSON-RPC error a client call fails with; fails the test when the call succeeds. */
/** A raw POST's JSON-RPC response: the JSON body, or the last event's data when it answered as SSE (tools/call). */
export async function rpcBody(r: Response): Promise<unknown> {
  const text = await r.text();
  if (!r.headers.get('content-type')?.startsWith('text/event-stream')) return JSON.parse(text);
  const data = text.split('\n').filter((l) => l.startsWith('data: '));
  return JSON.parse(data.at(-1)?.slice('data: '.length) ?? 'null');
}

export async function rpcError(p: Promise<unknown>): Promise<McpError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof McpError) return err;
    throw err;
  }
  throw new Error('expected a JSON-RPC error');
}

/** A GitHub-like upstream over Streamable HTTP that records the Authorization header of each call (and can refuse some with 401). */
export async function githubUpstream() {
  const seen: { method: string; authorization: string | undefined }[] = [];
  const build = () => {
    const s = new McpServer({ name: 'github', version: '1.0.0' });
    s.registerTool('list_repos', { inputSchema: {}, annotations: { readOnlyHint: true } }, async () => ({
      content: [{ type: 'text', text: 'corp/payments, corp/web' }],
    }));
    s.registerTool(
      'delete_repo',
      { inputSchema: { repo: z.string() }, annotations: { destructiveHint: true } },
      async ({ repo }) => ({ content: [{ type: 'text', text: `deleted ${repo}` }] }),
    );
    return s;
  };
  const state = { unauthorizedNext: 0 };
  const served = await serveMcp(
    build,
    (m, req) => {
      if (m.method) seen.push({ method: m.method, authorization: req.headers.authorization });
    },
    () => state.unauthorizedNext > 0 && state.unauthorizedNext-- > 0,
  );
  return {
    ...served,
    seen,
    /** Answer the next N requests with 401. */
    refuseNext: (n: number) => {
      state.unauthorizedNext = n;
    },
  };
}
