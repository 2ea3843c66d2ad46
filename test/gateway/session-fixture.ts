// A session-keeping MCP upstream (the SDK's McpServer over Streamable HTTP with session ids) whose
// sessions hold state — a counter, a log level, resource subscriptions — so tests can tell whose
// session a request reached; and a small policy that allows everything but the actions it is told
// to deny. Everything the upstream sees is recorded for the tests to assert on.
import { randomUUID } from 'node:crypto';
import { createServer, type Server as HttpServer } from 'node:http';
import { completable } from '@modelcontextprotocol/sdk/server/completable.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import {
  isInitializeRequest,
  LoggingLevelSchema,
  SubscribeRequestSchema,
  UnsubscribeRequestSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { buildBundle, Engine } from '../../src/engine/index.js';

export const INSTRUCTIONS = 'Counts per session. Call count to add one.';

/** A JSON-RPC error this upstream answers for `quota://exhausted`. */
export const QUOTA_ERROR = { code: -32050, message: 'quota exhausted', data: { retry_after: 5 } };

export interface SessionUpstream {
  url: string;
  /** Session ids the upstream has seen end (DELETE or close), in order. */
  ended: string[];
  /** Resolves when the next session ends. */
  nextEnd: () => Promise<string>;
  /** Resolves with the request id of the next `wait` call the upstream sees cancelled. */
  nextCancel: () => Promise<string>;
  /** Resolves when the next `wait` call has started upstream. */
  nextWait: () => Promise<void>;
  /** Sessions open now. */
  open: () => number;
  /** `_meta` of each tools/call received. */
  metas: unknown[];
  /** JSON-RPC methods received, in order. */
  methods: string[];
  /** Forgets every session (as a restart would): requests naming one then get 404. */
  forget: () => void;
  close: () => Promise<void>;
}

export async function sessionUpstream(): Promise<SessionUpstream> {
  const sessions = new Map<string, { transport: StreamableHTTPServerTransport; server: McpServer }>();
  const ended: string[] = [];
  const waiting: ((id: string) => void)[] = [];
  const metas: unknown[] = [];
  const methods: string[] = [];
  const cancels: ((id: string) => void)[] = [];
  const waits: (() => void)[] = [];
  const end = (id: string) => {
    if (!sessions.delete(id)) return;
    ended.push(id);
    for (const w of waiting.splice(0)) w(id);
  };

  const build = () => {
    let count = 0;
    const s = new McpServer(
      { name: 'counter', version: '1.0.0' },
      { instructions: INSTRUCTIONS, capabilities: { logging: {}, resources: { subscribe: true } } },
    );
    const subscribed = new Set<string>();
    s.server.setRequestHandler(SubscribeRequestSchema, async (r) => {
      subscribed.add(r.params.uri);
      return {};
    });
    s.server.setRequestHandler(UnsubscribeRequestSchema, async (r) => {
      subscribed.delete(r.params.uri);
      return {};
    });
    // Logs `text` at `level` on the session (the SDK drops it below the session's level).
    s.registerTool(
      'log',
      { inputSchema: { level: LoggingLevelSchema, text: z.string() } },
      async (args, extra) => {
        await s.sendLoggingMessage(
          { level: args.level, logger: 'counter', data: args.text },
          extra.sessionId,
        );
        return { content: [{ type: 'text', text: 'logged' }] };
      },
    );
    // Announces that `uri` changed, when this session subscribed to it.
    s.registerTool('touch', { inputSchema: { uri: z.string() } }, async (args) => {
      if (subscribed.has(args.uri)) await s.server.sendResourceUpdated({ uri: args.uri });
      return { content: [{ type: 'text', text: subscribed.has(args.uri) ? 'announced' : 'nobody listens' }] };
    });
    s.registerResource('state', 'counter://state', { mimeType: 'text/plain' }, async (uri) => ({
      contents: [{ uri: uri.href, text: `count ${count}` }],
    }));
    // Completes its argument with the session's count: whose session a completion reached.
    s.registerPrompt(
      'tally',
      { argsSchema: { at: completable(z.string(), () => [`count ${count}`]) } },
      ({ at }) => ({ messages: [{ role: 'user', content: { type: 'text', text: at } }] }),
    );
    s.registerTool('count', { inputSchema: {} }, async () => {
      count += 1;
      return { content: [{ type: 'text', text: `count ${count}` }] };
    });
    s.registerTool('echo-meta', { inputSchema: {} }, async (_args, extra) => {
      metas.push(extra._meta);
      return { content: [{ type: 'text', text: 'ok' }], _meta: { 'upstream.example/trace': 't-1' } };
    });
    s.registerTool('slow', { inputSchema: { steps: z.number(), ms: z.number() } }, async (args, extra) => {
      const token = extra._meta?.progressToken;
      for (let i = 1; i <= args.steps; i++) {
        await new Promise((r) => setTimeout(r, args.ms));
        if (token !== undefined)
          await extra.sendNotification({
            method: 'notifications/progress',
            params: { progressToken: token, progress: i, total: args.steps, message: `step ${i}` },
          });
      }
      return { content: [{ type: 'text', text: `done after ${args.steps} steps` }] };
    });
    s.registerTool('wait', { inputSchema: {} }, async (_args, extra) => {
      await new Promise<void>((resolve) => {
        extra.signal.addEventListener('abort', () => {
          for (const c of cancels.splice(0)) c(String(extra.requestId));
          resolve();
        });
        for (const w of waits.splice(0)) w();
      });
      return { content: [{ type: 'text', text: 'stopped' }] };
    });
    s.registerResource('quota', 'quota://exhausted', { mimeType: 'text/plain' }, async () => {
      throw Object.assign(new Error(QUOTA_ERROR.message), { code: QUOTA_ERROR.code, data: QUOTA_ERROR.data });
    });
    // Listed with `execution.taskSupport: "required"`: callable only as a task.
    const job = s.registerTool('background-job', { inputSchema: {} }, async () => ({
      content: [{ type: 'text', text: 'ran' }],
    }));
    Object.assign(job, { execution: { taskSupport: 'required' } });
    return s;
  };

  const http: HttpServer = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString()) : undefined;
    for (const m of Array.isArray(body) ? body : [body])
      if (typeof m?.method === 'string') methods.push(m.method);
    const sid = req.headers['mcp-session-id'];
    if (typeof sid === 'string') {
      const entry = sessions.get(sid);
      if (!entry) {
        res.writeHead(404, { 'content-type': 'application/json' }).end(
          JSON.stringify({
            jsonrpc: '2.0',
            id: null,
            error: { code: -32001, message: 'Session not found' },
          }),
        );
        return;
      }
      await entry.transport.handleRequest(req, res, body);
      return;
    }
    if (req.method !== 'POST' || !isInitializeRequest(body)) {
      res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":"no session"}');
      return;
    }
    const server = build();
    const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => {
        sessions.set(id, { transport, server });
      },
      onsessionclosed: (id) => end(id),
    });
    transport.onclose = () => {
      if (transport.sessionId) end(transport.sessionId);
    };
    await server.connect(transport);
    await transport.handleRequest(req, res, body);
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(http.address() as { port: number }).port}/mcp`,
    ended,
    nextEnd: () => new Promise<string>((r) => waiting.push(r)),
    nextCancel: () => new Promise<string>((r) => cancels.push(r)),
    nextWait: () => new Promise<void>((r) => waits.push(r)),
    open: () => sessions.size,
    metas,
    methods,
    forget: () => sessions.clear(),
    close: () =>
      new Promise<void>((r) => {
        http.closeAllConnections();
        http.close(() => r());
      }),
  };
}

const POLICY = `package airlock
import rego.v1

decision := {"effect": "deny", "reasons": [sprintf("%s is not allowed here", [input.action])]} if {
	input.action in data.denied
} else := {
	"effect": "allow",
	"reasons": [],
	"visible_tools": [x.name | some x in object.get(input.result, "tools", [])],
	"visible_resources": [x.uri | some x in object.get(input.result, "resources", [])],
	"visible_prompts": [x.name | some x in object.get(input.result, "prompts", [])],
} if {
	input.phase == "response"
	endswith(input.action, "/list")
} else := {"effect": "allow", "reasons": []}
`;

/** Allows everything (lists show all), except the actions named in `denied`. */
export async function allowingEngine(denied: string[] = []): Promise<Engine> {
  const built = buildBundle(
    { sources: [{ file: 'allow.rego', text: POLICY }], data: { denied } },
    { entrypoints: ['airlock/decision'] },
  );
  const engine = new Engine();
  await engine.activate(built.bundle, 'relay-test');
  return engine;
}
