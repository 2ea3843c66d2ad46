// Server→client requests for a caller on protocol revision 2026-07-28 (multi round-trip requests):
// an upstream of our own (v1 SDK server over HTTP, a session revision) elicits, samples and lists
// roots during a call; Airlock answers the SDK's v2 client, pinned to 2026-07-28, with
// `input_required`, takes the client's retry with its answers back to the waiting upstream
// request, and decides and audits each request as on the other revisions. Denied: the upstream
// gets the error, the trail holds the decision. Bad retries get precise errors; what waits is bounded.
import { createServer, type Server as HttpServer } from 'node:http';
import {
  Client as V2Client,
  StreamableHTTPClientTransport as V2Transport,
} from '@modelcontextprotocol/client';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import {
  CreateMessageResultSchema,
  ElicitRequestSchema,
  ElicitResultSchema,
  ListRootsResultSchema,
  SubscribeRequestSchema,
  UnsubscribeRequestSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { acceptedContent, inputRequired, McpServer as V2McpServer } from '@modelcontextprotocol/server';
import t from 'tap';
import { z } from 'zod';
import { buildBundle, Engine } from '../../../src/engine/index.js';
import { GatewayErrorCode, TEST_PRINCIPAL_HEADER } from '../../../src/gateway/index.js';
import { InputRounds } from '../../../src/gateway/relay/input-rounds.js';
import { startAirlock } from '../harness.js';
import { servePerRequest } from './per-request-upstream.js';

const REVISION = '2026-07-28';
const VIRTUAL = 'lab';
const PRINCIPAL = {
  user: { sub: 'ada', email: 'ada@corp.example', groups: ['lab'], claims: {} },
  agent: { id: 'lab-agent', client_id: 'lab-agent', claims: {} },
  model: { provider: 'anthropic', name: 'claude-sonnet-4', attested: false },
};
const OTHER = { ...PRINCIPAL, user: { ...PRINCIPAL.user, sub: 'bob', email: 'bob@corp.example' } };

/** Everything allowed, except that sampling the caller's model is denied. */
const POLICY = `package airlock

import rego.v1

visible := {"visible_tools": [t.name | some t in input.result.tools]} if input.action == "tools/list"
else := {"visible_resources": [x | some r in input.result.resources; some x in [r.uri, r.name]]} if input.action == "resources/list"
else := {}

decision := object.union({"effect": "allow", "reasons": []}, visible) if input.action != "sampling/createMessage"

decision := {"effect": "deny", "reasons": ["the upstream may not sample the user's model"]} if input.action == "sampling/createMessage"
`;

async function engine(): Promise<Engine> {
  const built = buildBundle(
    { sources: [{ file: 'mrtr.rego', text: POLICY }], data: {} },
    { entrypoints: ['airlock/decision'] },
  );
  const e = new Engine();
  await e.activate(built.bundle, 'mrtr');
  return e;
}

type Extra = {
  sendRequest: McpServer['server']['request'];
  sendNotification: McpServer['server']['notification'];
};

/** A session-keeping upstream whose tools ask the calling client for things during the call. */
async function askingUpstream() {
  const answers: unknown[] = [];
  const subscriptions: string[] = [];
  const sessions = new Map<string, StreamableHTTPServerTransport>();
  const failed = (err: unknown) => {
    answers.push({ error: (err as { code?: number }).code, message: (err as Error).message });
    return { content: [{ type: 'text' as const, text: 'refused' }], isError: true };
  };
  const build = () => {
    const s = new McpServer({ name: 'asking', version: '1.0.0' });
    s.registerResource('status', 'status://deploy', {}, async () => ({
      contents: [{ uri: 'status://deploy', text: 'ok' }],
    }));
    s.server.registerCapabilities({ resources: { subscribe: true } });
    s.server.setRequestHandler(SubscribeRequestSchema, async (r) => {
      subscriptions.push(`+${r.params.uri}`);
      setTimeout(() => void s.server.sendResourceUpdated({ uri: r.params.uri }).catch(() => {}), 100);
      return {};
    });
    s.server.setRequestHandler(UnsubscribeRequestSchema, async (r) => {
      subscriptions.push(`-${r.params.uri}`);
      return {};
    });
    s.registerTool('ask_name', { inputSchema: {} }, (async (_a: unknown, extra: Extra) => {
      try {
        const answer = await extra.sendRequest(
          {
            method: 'elicitation/create',
            params: {
              message: 'Your name, please',
              requestedSchema: {
                type: 'object',
                properties: { name: { type: 'string' } },
                required: ['name'],
              },
            },
          },
          ElicitResultSchema,
        );
        answers.push(answer);
        return { content: [{ type: 'text', text: `hello ${JSON.stringify(answer.content)}` }] };
      } catch (err) {
        return failed(err);
      }
    }) as never);
    s.registerTool('summarise', { inputSchema: {} }, (async (_a: unknown, extra: Extra) => {
      try {
        const answer = await extra.sendRequest(
          {
            method: 'sampling/createMessage',
            params: {
              messages: [{ role: 'user', content: { type: 'text', text: 'summarise' } }],
              maxTokens: 10,
            },
          },
          CreateMessageResultSchema,
        );
        answers.push(answer);
        return { content: [{ type: 'text', text: 'summarised' }] };
      } catch (err) {
        return failed(err);
      }
    }) as never);
    // Two requests in turn: roots, then a name; two rounds for the caller.
    s.registerTool('roots_then_name', { inputSchema: {} }, (async (_a: unknown, extra: Extra) => {
      try {
        const roots = await extra.sendRequest({ method: 'roots/list' }, ListRootsResultSchema);
        const name = await extra.sendRequest(
          {
            method: 'elicitation/create',
            params: {
              message: 'Name?',
              requestedSchema: { type: 'object', properties: { name: { type: 'string' } } },
            },
          },
          ElicitResultSchema,
        );
        answers.push(roots, name);
        return {
          content: [{ type: 'text', text: `${roots.roots.length} roots, ${JSON.stringify(name.content)}` }],
        };
      } catch (err) {
        return failed(err);
      }
    }) as never);
    s.registerTool('count', { inputSchema: {} }, (async (
      _a: unknown,
      extra: Extra & { _meta?: { progressToken?: string | number } },
    ) => {
      const token = extra._meta?.progressToken;
      if (token !== undefined)
        for (const progress of [1, 2])
          await extra.sendNotification({
            method: 'notifications/progress',
            params: { progressToken: token, progress, total: 2, message: `step ${progress}` },
          });
      return { content: [{ type: 'text', text: 'counted' }] };
    }) as never);
    return s;
  };
  const http: HttpServer = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString()) : undefined;
    const sid = req.headers['mcp-session-id'] as string | undefined;
    let transport = sid ? sessions.get(sid) : undefined;
    if (!transport) {
      const created: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => crypto.randomUUID(),
        onsessioninitialized: (id: string) => {
          sessions.set(id, created);
        },
      });
      transport = created;
      await build().connect(created);
    }
    await (transport as StreamableHTTPServerTransport).handleRequest(req, res, body);
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(http.address() as { port: number }).port}/mcp`,
    answers,
    subscriptions,
    close: () =>
      new Promise<void>((r) => {
        http.closeAllConnections();
        http.close(() => r());
      }),
  };
}

/** A 2026-07-28-only upstream (v2 SDK server) whose tools answer input_required until given what they asked. */
async function modernUpstream() {
  const retries: unknown[] = [];
  const served = await servePerRequest(() => {
    const s = new V2McpServer({ name: 'modern', version: '2.0.0' });
    s.registerTool('confirm', { inputSchema: z.object({ what: z.string() }) }, async ({ what }, ctx) => {
      const responses = ctx.mcpReq.inputResponses;
      if (responses) retries.push(responses);
      const content = acceptedContent(responses, 'confirm');
      if (!content)
        return inputRequired({
          inputRequests: {
            confirm: inputRequired.elicit({
              message: `Confirm ${what}?`,
              requestedSchema: { type: 'object', properties: { name: { type: 'string' } } },
            }),
          },
          requestState: `state-for-${what}`,
        });
      return {
        content: [
          {
            type: 'text',
            text: `confirmed ${what} by ${JSON.stringify(content)}; state ${typeof ctx.mcpReq.requestState === 'function' ? (ctx.mcpReq.requestState as () => unknown)() : ctx.mcpReq.requestState}`,
          },
        ],
      };
    });
    s.registerTool('summarise', { inputSchema: z.object({}) }, async (_a, ctx) => {
      if (!ctx.mcpReq.inputResponses?.summary)
        return inputRequired({
          inputRequests: {
            summary: inputRequired.createMessage({
              messages: [{ role: 'user', content: { type: 'text', text: 'summarise' } }],
              maxTokens: 10,
            }),
          },
        });
      return { content: [{ type: 'text', text: 'summarised' }] };
    });
    return s;
  });
  return { ...served, retries };
}

const upstream = await askingUpstream();
const modern = await modernUpstream();
const airlock = await startAirlock(upstream.url, {
  engine: await engine(),
  topology: {
    upstreams: [
      { name: 'asking', transport: 'http', url: upstream.url, timeout_ms: 10_000 },
      {
        name: 'modern',
        transport: 'http',
        url: modern.url,
        timeout_ms: 10_000,
        protocol_revision: '2026-07-28',
      },
    ],
    virtual_servers: [{ name: VIRTUAL, upstreams: ['asking', 'modern'] }],
  } as Parameters<typeof startAirlock>[1]['topology'],
});
const url = `${airlock.base}/mcp/${VIRTUAL}`;
t.teardown(async () => {
  await airlock.close();
  await upstream.close();
  await modern.close();
});

/** The v2 SDK client pinned to 2026-07-28, answering elicitation, sampling and roots. */
async function v2Client(asked: string[]) {
  const client = new V2Client(
    { name: 'v2-agent', version: '2.4.0' },
    {
      versionNegotiation: { mode: { pin: REVISION } },
      capabilities: { elicitation: { form: {} }, sampling: {}, roots: {} },
    },
  );
  client.setRequestHandler('elicitation/create', async () => {
    asked.push('elicitation/create');
    return { action: 'accept', content: { name: 'Ada' } };
  });
  client.setRequestHandler('sampling/createMessage', async () => {
    asked.push('sampling/createMessage');
    return { role: 'assistant', content: { type: 'text', text: 'a summary' }, model: 'm' };
  });
  client.setRequestHandler('roots/list', async () => {
    asked.push('roots/list');
    return { roots: [{ uri: 'file:///work', name: 'work' }] };
  });
  await client.connect(
    new V2Transport(new URL(url), {
      requestInit: { headers: { [TEST_PRINCIPAL_HEADER]: JSON.stringify(PRINCIPAL) } },
    }),
  );
  return client;
}

const text = (r: { content?: unknown }) => JSON.stringify(r.content);

t.test(
  'an elicitation during a call reaches the 2026-07-28 client as input_required and its answer the upstream',
  async (t) => {
    const asked: string[] = [];
    const client = await v2Client(asked);
    t.teardown(() => client.close());
    const from = airlock.events.length;
    const r = await client.callTool({ name: 'asking__ask_name', arguments: {} });
    t.match(text(r), /hello \{\\"name\\":\\"Ada\\"\}/, "the upstream got the client's answer");
    t.same(asked, ['elicitation/create']);
    t.same(upstream.answers.at(-1), { action: 'accept', content: { name: 'Ada' } });
    const relayed = airlock.events
      .slice(from)
      .filter((e) => (e.details as { action?: string })?.action === 'elicitation/create');
    t.same(
      relayed.map((e) => [e.kind, e.phase, e.effect]),
      [
        ['decision', 'request', 'allow'],
        ['call_result', 'response', 'allow'],
      ],
      'the request and the answer were decided and audited',
    );
    t.equal((relayed[0]?.details as { call_action?: string } | undefined)?.call_action, 'tools/call');
    t.same(relayed[1]?.result, { action: 'accept', content: { name: 'Ada' } });
    const call = airlock.events
      .slice(from)
      .filter(
        (e) =>
          e.target?.name === 'ask_name' && !(e.details as { action?: string })?.action?.includes('/create'),
      );
    t.ok(
      call.some((e) => e.kind === 'call_result'),
      'the call itself was audited',
    );
  },
);

t.test(
  'sampling denied by policy: the upstream gets the error, the trail the decision, the client nothing',
  async (t) => {
    const asked: string[] = [];
    const client = await v2Client(asked);
    t.teardown(() => client.close());
    const from = airlock.events.length;
    const r = await client.callTool({ name: 'asking__summarise', arguments: {} });
    t.equal(r.isError, true);
    t.same(asked, [], 'the client was never asked');
    t.match(upstream.answers.at(-1), {
      error: GatewayErrorCode.Denied,
      message: /sampling\/createMessage denied by policy/,
    });
    const decision = airlock.events
      .slice(from)
      .find((e) => (e.details as { action?: string })?.action === 'sampling/createMessage');
    t.match(decision, {
      kind: 'decision',
      effect: 'deny',
      reasons: ["the upstream may not sample the user's model"],
      upstreamServer: 'asking',
    });
  },
);

t.test('two requests in turn: two rounds, both answered', async (t) => {
  const asked: string[] = [];
  const client = await v2Client(asked);
  t.teardown(() => client.close());
  const r = await client.callTool({ name: 'asking__roots_then_name', arguments: {} });
  t.match(text(r), /1 roots/);
  t.same(asked, ['roots/list', 'elicitation/create']);
});

t.test("an upstream's own progress reaches the 2026-07-28 caller", async (t) => {
  const client = await v2Client([]);
  t.teardown(() => client.close());
  const seen: { progress: number; message?: string }[] = [];
  const r = await client.callTool(
    { name: 'asking__count', arguments: {} },
    { onprogress: (p) => seen.push({ progress: p.progress, ...(p.message ? { message: p.message } : {}) }) },
  );
  t.match(text(r), /counted/);
  t.same(seen, [
    { progress: 1, message: 'step 1' },
    { progress: 2, message: 'step 2' },
  ]);
});

t.test("a 2026-07-28 upstream's input_required round trip, relayed under policy", async (t) => {
  const asked: string[] = [];
  const client = await v2Client(asked);
  t.teardown(() => client.close());
  const from = airlock.events.length;
  const r = await client.callTool({ name: 'modern__confirm', arguments: { what: 'deploy' } });
  t.match(
    text(r),
    /confirmed deploy by \{\\"name\\":\\"Ada\\"\}; state state-for-deploy/,
    'the upstream got the answer and its own requestState',
  );
  t.same(asked, ['elicitation/create']);
  t.same(modern.retries.at(-1), { confirm: { action: 'accept', content: { name: 'Ada' } } });
  const relayed = airlock.events
    .slice(from)
    .filter((e) => (e.details as { action?: string })?.action === 'elicitation/create');
  t.same(
    relayed.map((e) => [e.kind, e.effect, e.upstreamServer]),
    [
      ['decision', 'allow', 'modern'],
      ['call_result', 'allow', 'modern'],
    ],
  );

  const before = modern.retries.length;
  const denied = await client.callTool({ name: 'modern__summarise', arguments: {} }).then(
    () => undefined,
    (err: { code?: number; message?: string }) => err,
  );
  t.equal(denied?.code, GatewayErrorCode.Denied, 'the call ends with the denial');
  t.match(denied?.message, /sampling\/createMessage denied by policy/);
  t.equal(modern.retries.length, before, 'the upstream is not sent the call again');
  t.same(asked, ['elicitation/create'], 'the client was not asked to sample');
  const decision = airlock.events.at(-2);
  t.match(decision, {
    kind: 'decision',
    effect: 'deny',
    upstreamServer: 'modern',
    details: { action: 'sampling/createMessage' },
  });
});

t.test(
  "a session-revision client answers a 2026-07-28 upstream's input request on the call's stream",
  async (t) => {
    const client = new Client({ name: 'v1-agent', version: '1.0.0' }, { capabilities: { elicitation: {} } });
    client.setRequestHandler(ElicitRequestSchema, async () => ({
      action: 'accept',
      content: { name: 'Lin' },
    }));
    await client.connect(
      new StreamableHTTPClientTransport(new URL(url), {
        requestInit: { headers: { [TEST_PRINCIPAL_HEADER]: JSON.stringify(PRINCIPAL) } },
      }),
    );
    t.teardown(() => client.close());
    const r = await client.callTool({ name: 'modern__confirm', arguments: { what: 'restart' } });
    t.match(JSON.stringify(r.content), /confirmed restart by .*Lin/);
  },
);

t.test(
  'resource updates reach a 2026-07-28 caller on subscriptions/listen (resourceSubscriptions)',
  async (t) => {
    const from = airlock.events.length;
    const controller = new AbortController();
    const res = await fetch(url, {
      method: 'POST',
      signal: controller.signal,
      headers: {
        'content-type': 'application/json',
        accept: 'text/event-stream',
        [TEST_PRINCIPAL_HEADER]: JSON.stringify(PRINCIPAL),
        'mcp-protocol-version': REVISION,
        'mcp-method': 'subscriptions/listen',
      },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 'listen-1',
        method: 'subscriptions/listen',
        params: {
          notifications: { resourceSubscriptions: ['status://deploy', 'secret://nope'] },
          _meta: envelope({}),
        },
      }),
    });
    t.equal(res.status, 200);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const frames: Record<string, unknown>[] = [];
    let buffer = '';
    while (frames.length < 2) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += new TextDecoder().decode(value);
      let cut = buffer.indexOf('\n\n');
      while (cut >= 0) {
        const data = buffer
          .slice(0, cut)
          .split('\n')
          .find((l) => l.startsWith('data:'));
        if (data) frames.push(JSON.parse(data.slice(5)));
        buffer = buffer.slice(cut + 2);
        cut = buffer.indexOf('\n\n');
      }
    }
    t.match(
      frames[0],
      {
        method: 'notifications/subscriptions/acknowledged',
        params: { notifications: { resourceSubscriptions: ['status://deploy'] } },
      },
      'the resource that cannot be subscribed to is not acknowledged',
    );
    t.match(frames[1], {
      method: 'notifications/resources/updated',
      params: { uri: 'status://deploy', _meta: { 'io.modelcontextprotocol/subscriptionId': 'listen-1' } },
    });
    t.ok(upstream.subscriptions.includes('+status://deploy'), 'the upstream session was subscribed');
    const subscribeEvents = airlock.events
      .slice(from)
      .filter((e) => (e.details as { action?: string })?.action === 'resources/subscribe');
    t.ok(
      subscribeEvents.some((e) => e.effect === 'allow' && e.target?.name === 'status://deploy'),
      'decided and audited as resources/subscribe',
    );
    t.ok(
      subscribeEvents.some((e) => e.effect === 'deny'),
      'the unknown resource refused and audited',
    );
    controller.abort();
    await reader.cancel().catch(() => {});
    for (let i = 0; i < 50 && !upstream.subscriptions.includes('-status://deploy'); i++)
      await new Promise((r) => setTimeout(r, 50));
    t.ok(upstream.subscriptions.includes('-status://deploy'), 'unsubscribed when the stream closed');
  },
);

const envelope = (capabilities: Record<string, unknown> = { elicitation: { form: {} } }) => ({
  'io.modelcontextprotocol/protocolVersion': REVISION,
  'io.modelcontextprotocol/clientInfo': { name: 'raw-agent', version: '1.0.0' },
  'io.modelcontextprotocol/clientCapabilities': capabilities,
});

/** One raw 2026-07-28 tools/call, as `principal`. */
async function call(id: number, params: Record<string, unknown>, principal = PRINCIPAL) {
  const res = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      [TEST_PRINCIPAL_HEADER]: JSON.stringify(principal),
      'mcp-protocol-version': REVISION,
      'mcp-method': 'tools/call',
      'mcp-name': String(params.name),
    },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id,
      method: 'tools/call',
      params: { ...params, _meta: envelope() },
    }),
  });
  return {
    status: res.status,
    body: (await res.json()) as {
      result?: Record<string, unknown>;
      error?: { code: number; message: string; data?: Record<string, unknown> };
    },
  };
}

t.test(
  'the wire: input_required, then precise errors for retries that do not fit, then the answer',
  async (t) => {
    const first = await call(1, { name: 'asking__ask_name', arguments: {} });
    t.equal(first.status, 200);
    const result = first.body.result as {
      resultType: string;
      inputRequests: Record<string, { method: string; params: { message: string } }>;
      requestState: string;
    };
    t.equal(result.resultType, 'input_required');
    const keys = Object.keys(result.inputRequests);
    t.equal(keys.length, 1);
    const key = keys[0] as string;
    t.equal(result.inputRequests[key]?.method, 'elicitation/create');
    t.equal(result.inputRequests[key]?.params.message, 'Your name, please');
    t.type(result.requestState, 'string');
    const state = result.requestState;
    const answer = { action: 'accept', content: { name: 'Grace' } };

    const unknownKey = await call(2, {
      name: 'asking__ask_name',
      arguments: {},
      requestState: state,
      inputResponses: { nope: answer },
    });
    t.equal(unknownKey.body.error?.code, -32602);
    t.match(unknownKey.body.error, {
      message: /no input request "nope" awaits an answer/,
      data: { unknown_keys: ['nope'], awaiting: [key] },
    });

    const wrapped = await call(3, {
      name: 'asking__ask_name',
      arguments: {},
      requestState: state,
      inputResponses: { [key]: { method: 'elicitation/create', result: answer } },
    });
    t.match(wrapped.body.error, { code: -32602, message: /expected the result object/ });

    const edited = await call(4, {
      name: 'asking__ask_name',
      arguments: { extra: 1 },
      requestState: state,
      inputResponses: { [key]: answer },
    });
    t.match(edited.body.error, { code: -32602, message: /the retry differs from the call/ });

    const stranger = await call(
      5,
      { name: 'asking__ask_name', arguments: {}, requestState: state, inputResponses: { [key]: answer } },
      OTHER,
    );
    t.match(
      stranger.body.error,
      { code: -32602, message: /requestState names no call of this caller/ },
      "another user cannot answer someone's call",
    );

    const made = await call(6, {
      name: 'asking__ask_name',
      arguments: {},
      requestState: 'made-up',
      inputResponses: { [key]: answer },
    });
    t.match(made.body.error, { code: -32602, message: /requestState names no call/ });

    const orphan = await call(7, {
      name: 'asking__ask_name',
      arguments: {},
      inputResponses: { [key]: answer },
    });
    t.match(orphan.body.error, { code: -32602, message: /inputResponses without requestState/ });

    const done = await call(8, {
      name: 'asking__ask_name',
      arguments: {},
      requestState: state,
      inputResponses: { [key]: answer },
    });
    t.equal(done.body.result?.resultType, 'complete');
    t.match(JSON.stringify(done.body.result?.content), /Grace/);
    const again = await call(9, {
      name: 'asking__ask_name',
      arguments: {},
      requestState: state,
      inputResponses: { [key]: answer },
    });
    t.match(
      again.body.error,
      { code: -32602, message: /requestState names no call/ },
      'a round is answered once',
    );
  },
);

t.test(
  'a client that did not declare the capability is not asked; the upstream gets the refusal',
  async (t) => {
    const res = await fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        [TEST_PRINCIPAL_HEADER]: JSON.stringify(PRINCIPAL),
        'mcp-protocol-version': REVISION,
        'mcp-method': 'tools/call',
        'mcp-name': 'asking__ask_name',
      },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/call',
        params: { name: 'asking__ask_name', arguments: {}, _meta: envelope({}) },
      }),
    });
    const body = (await res.json()) as { result: { resultType: string; isError?: boolean } };
    t.equal(body.result.resultType, 'complete');
    t.equal(body.result.isError, true);
    t.match(upstream.answers.at(-1), { message: /did not declare the elicitation capability/ });
  },
);

t.test('what waits is bounded: an unanswered round is given up, the upstream request fails', async (t) => {
  const rounds = new InputRounds({ waitMs: 100, perCaller: 1, total: 8, perRound: 2, rounds: 2 });
  const io = () => ({ signal: new AbortController().signal });
  let upstreamSaw: unknown;
  const shape = { method: 'tools/call', params: { name: 'x', arguments: {} } };
  const first = await rounds.begin(
    'me',
    shape,
    async (hooks) => {
      try {
        await hooks.sender('elicitation/create', { message: 'm' });
      } catch (err) {
        upstreamSaw = err;
      }
      return { content: [] };
    },
    io(),
  );
  t.equal(first.kind, 'input_required');
  t.equal(rounds.size, 1);
  // A second call of the same caller cannot wait as well (perCaller 1).
  const second = await rounds.begin(
    'me',
    shape,
    async (hooks) => {
      await hooks.sender('roots/list', {});
      return {};
    },
    io(),
  );
  t.match(second, { kind: 'failed', error: { code: GatewayErrorCode.LimitExceeded } });
  await new Promise((r) => setTimeout(r, 200));
  t.match(upstreamSaw, { message: /did not answer within 100 ms/ });
  t.equal(rounds.size, 0, 'nothing is kept once given up');
  const state = first.kind === 'input_required' ? first.requestState : '';
  t.throws(
    () =>
      rounds.resume('me', { method: 'tools/call', params: { ...shape.params, requestState: state } }, io()),
    {
      code: -32602,
    },
  );
  // Requests per round are bounded too.
  const many = await rounds.begin(
    'me',
    shape,
    async (hooks) => {
      const all = await Promise.allSettled([1, 2, 3].map(() => hooks.sender('roots/list', {})));
      upstreamSaw = all.map((a) => a.status);
      return {};
    },
    io(),
  );
  t.equal(many.kind === 'input_required' ? Object.keys(many.inputRequests).length : 0, 2);
  rounds.closeAll();
  await new Promise((r) => setTimeout(r, 20));
  t.same(upstreamSaw, ['rejected', 'rejected', 'rejected']);
});
