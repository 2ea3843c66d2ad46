import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import {
  CreateMessageRequestSchema,
  type CreateMessageResult,
  ElicitRequestSchema,
  ElicitResultSchema,
  EmptyResultSchema,
  ListRootsRequestSchema,
  PingRequestSchema,
} from '@modelcontextprotocol/sdk/types.js';
import t, { type Test } from 'tap';
import { z } from 'zod';
import type { AuditEvent, AuditStore } from '../../src/audit/index.js';
import { loadPolicyTree } from '../../src/cli/policy-files.js';
import { buildBundle, Engine } from '../../src/engine/index.js';
import { parseGatewayConfig, TEST_PRINCIPAL_HEADER } from '../../src/gateway/index.js';
import { sessionHttpUpstream } from '../helpers/session-http-upstream.js';
import { LAB_PRINCIPAL, openAudit, StdioEverything, startGateway } from './everything-fixture.js';

const EVERYTHING = 'everything';
const OWN = 'forms';
const VIRTUAL = 'lab';
const RELAY_TOOLS = ['trigger-sampling-request', 'trigger-elicitation-request', 'get-roots-list'];

/** Reference policies; the lab agent and group get the relaying tools; `sampling` opts everything in. */
async function referenceEngine(sampling: boolean): Promise<Engine> {
  const tree = await loadPolicyTree([new URL('../../policies', import.meta.url).pathname]);
  const data = structuredClone(tree.data) as Record<string, Record<string, unknown>>;
  const tools = { [EVERYTHING]: RELAY_TOOLS, [OWN]: ['*'] };
  data.agents!['lab-agent'] = { virtual_server: VIRTUAL, tools, resources: [], prompts: [] };
  data.groups!.lab = { tools };
  data.servers![EVERYTHING] = { external: true, sampling };
  data.servers![OWN] = { external: false };
  const built = buildBundle({ ...tree, data }, { entrypoints: ['airlock/decision'] });
  const engine = new Engine();
  await engine.activate(built.bundle, `relay-${sampling}`);
  return engine;
}

/**
 * A policy of this test's own: everything visible and allowed, except that roots are denied, and
 * sampling is redacted both ways (the prompt's text to the client, the model's text to the upstream).
 */
const STRICT = `package airlock

import rego.v1

visible := {"visible_tools": [t.name | some t in input.result.tools]} if input.action == "tools/list" else := {}

decision := object.union({"effect": "allow", "reasons": []}, visible) if {
	not input.action in {"roots/list", "sampling/createMessage"}
}

decision := {"effect": "deny", "reasons": ["roots stay with the client"]} if input.action == "roots/list"

decision := {"effect": "redact", "reasons": ["prompt text withheld"], "redact": {"arguments": ["/messages/0/content/text"], "result": []}} if {
	input.action == "sampling/createMessage"
	input.phase == "request"
}

decision := {"effect": "redact", "reasons": ["model text withheld"], "redact": {"arguments": [], "result": [{"path": "/content/text", "pattern": "all"}]}} if {
	input.action == "sampling/createMessage"
	input.phase == "response"
}
`;

async function strictEngine(): Promise<Engine> {
  const built = buildBundle(
    { sources: [{ file: 'strict.rego', text: STRICT }], data: {} },
    { entrypoints: ['airlock/decision'] },
  );
  const engine = new Engine();
  await engine.activate(built.bundle, 'strict');
  return engine;
}

/** A session-keeping HTTP upstream of our own: asks for a password, or for a name, during a call. */
type RequestExtra = { sendRequest: McpServer['server']['request'] };

async function formsUpstream(): Promise<{ url: string; answers: unknown[]; close: () => Promise<void> }> {
  const answers: unknown[] = [];
  const build = () => {
    const s = new McpServer({ name: 'forms', version: '1.0.0' });
    // Sent with the call's request id, so that it travels on the call's own response stream.
    const ask = (field: string) => async (_args: unknown, extra: RequestExtra) => {
      try {
        const answer = await extra.sendRequest(
          {
            method: 'elicitation/create',
            params: {
              message: `Your ${field}, please`,
              requestedSchema: {
                type: 'object',
                properties: { [field]: { type: 'string' } },
                required: [field],
              },
            },
          },
          ElicitResultSchema,
        );
        answers.push(answer);
        return { content: [{ type: 'text' as const, text: `got ${JSON.stringify(answer.content)}` }] };
      } catch (err) {
        answers.push({ error: (err as { code?: number }).code, message: (err as Error).message });
        return { content: [{ type: 'text' as const, text: 'refused' }], isError: true };
      }
    };
    s.registerTool('ask_name', { inputSchema: {} }, ask('name') as never);
    s.registerTool('ping_client', { inputSchema: {} }, (async (_args: unknown, extra: RequestExtra) => {
      await extra.sendRequest({ method: 'ping' }, EmptyResultSchema);
      return { content: [{ type: 'text', text: 'pong' }] };
    }) as never);
    // Sent without relating it to the call: it travels on the session's standalone stream.
    s.registerTool('ask_unrelated', { inputSchema: {} }, async () => {
      try {
        await s.server.elicitInput({
          message: 'Out of the blue',
          requestedSchema: { type: 'object', properties: { name: { type: 'string' } } },
        });
        answers.push({ answered: true });
      } catch (err) {
        answers.push({ error: (err as { code?: number }).code, message: (err as Error).message });
      }
      return { content: [{ type: 'text', text: 'done' }] };
    });
    s.registerTool('ask_password', { inputSchema: {} }, ask('password') as never);
    s.registerTool('echo', { inputSchema: { text: z.string() } }, async ({ text }) => ({
      content: [{ type: 'text', text }],
    }));
    return s;
  };
  const upstream = await sessionHttpUpstream(build);
  return { ...upstream, answers };
}

/** What the calling client was asked, and a client that answers like a user with a model would. */
interface Asked {
  sampling: unknown[];
  elicitation: unknown[];
  roots: number;
  pings: number;
}

async function labClient(
  base: string,
  /** Runs inside the elicitation handler, before it answers, with the request's id. */
  beforeAnswer?: (id: string | number) => Promise<void>,
): Promise<{ client: Client; asked: Asked }> {
  const asked: Asked = { sampling: [], elicitation: [], roots: 0, pings: 0 };
  const client = new Client(
    { name: 'lab-client', version: '1.0.0' },
    { capabilities: { sampling: {}, elicitation: { form: {} }, roots: {} } },
  );
  client.setRequestHandler(CreateMessageRequestSchema, async (r): Promise<CreateMessageResult> => {
    asked.sampling.push(r.params);
    return { role: 'assistant', model: 'lab-model', content: { type: 'text', text: 'the model says 42' } };
  });
  client.setRequestHandler(ElicitRequestSchema, async (r, extra) => {
    asked.elicitation.push(r.params);
    await beforeAnswer?.(extra.requestId);
    return { action: 'accept', content: { name: 'Ada' } };
  });
  client.setRequestHandler(PingRequestSchema, async () => {
    asked.pings++;
    return {};
  });
  client.setRequestHandler(ListRootsRequestSchema, async () => {
    asked.roots++;
    return { roots: [{ uri: 'file:///home/lee/project', name: 'project' }] };
  });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(`${base}/mcp/${VIRTUAL}`), {
      requestInit: { headers: { [TEST_PRINCIPAL_HEADER]: JSON.stringify(LAB_PRINCIPAL) } },
    }),
  );
  return { client, asked };
}

const text = (result: unknown): string =>
  (result as { content?: { text?: string }[] }).content?.[0]?.text ?? '';

const detail = (e: AuditEvent | undefined, key: string): unknown =>
  (e?.details as Record<string, unknown> | null | undefined)?.[key];

/** The audit events of relayed `action` after `after`. */
async function relayed(store: AuditStore, action: string, after: number): Promise<AuditEvent[]> {
  return (await store.query({ after })).events.filter((e) => detail(e, 'action') === action);
}

async function head(store: AuditStore): Promise<number> {
  return (await store.query({ order: 'desc', limit: 1 })).events[0]?.seq ?? 0;
}

/** Airlock in front of server-everything (stdio) and the forms upstream (HTTP), with `engine`. */
async function setup(t: Test, engine: Engine, beforeAnswer?: (id: string | number) => Promise<void>) {
  const dir = mkdtempSync(join(tmpdir(), 'airlock-relay-'));
  const everything = new StdioEverything(join(dir, 'stdio.log'));
  const forms = await formsUpstream();
  const { store, drop } = await openAudit('pglite');
  const config = parseGatewayConfig({
    upstreams: [
      { name: EVERYTHING, transport: 'stdio', ...everything.command, timeout_ms: 15_000 },
      { name: OWN, transport: 'http', url: forms.url, timeout_ms: 15_000 },
    ],
    virtual_servers: [{ name: VIRTUAL, upstreams: [EVERYTHING, OWN] }],
  });
  const gateway = await startGateway(config, engine, store);
  const { client, asked } = await labClient(gateway.base, beforeAnswer);
  t.teardown(async () => {
    await client.close();
    await gateway.close();
    await forms.close();
    await drop();
    rmSync(dir, { recursive: true, force: true });
  });
  return { store, client, asked, forms, base: gateway.base };
}

t.test('reference policy: sampling, elicitation and roots reach the client and back', async (t) => {
  const { store, client, asked, forms } = await setup(t, await referenceEngine(true));
  const { tools } = await client.listTools();
  for (const name of RELAY_TOOLS)
    t.ok(
      tools.some((x) => x.name === `${EVERYTHING}__${name}`),
      `${name} is listed: the upstream saw the capability`,
    );

  const start = await head(store);
  let before = start;
  const sampled = await client.callTool({
    name: `${EVERYTHING}__trigger-sampling-request`,
    arguments: { prompt: 'count the sheep', maxTokens: 50 },
  });
  t.match(text(sampled), /the model says 42/, "the client's answer went back to the upstream");
  t.match(asked.sampling, [{ messages: [{ content: { text: /count the sheep/ } }], maxTokens: 50 }]);
  const [decision, result] = await relayed(store, 'sampling/createMessage', before);
  t.match(decision, {
    kind: 'decision',
    phase: 'request',
    effect: 'allow',
    upstreamServer: EVERYTHING,
    targetType: 'tool',
    targetName: 'trigger-sampling-request',
    arguments: { maxTokens: 50 },
  });
  t.ok(detail(decision, 'call_decision_id'), 'the decision names the call it belongs to');
  t.match(result, { kind: 'call_result', effect: 'allow', result: { model: 'lab-model' } });

  before = await head(store);
  const elicited = await client.callTool({
    name: `${EVERYTHING}__trigger-elicitation-request`,
    arguments: {},
  });
  t.match(JSON.stringify(elicited), /Ada/, 'the elicited content reached the upstream');
  t.equal(asked.elicitation.length, 1);
  t.match(await relayed(store, 'elicitation/create', before), [
    { phase: 'request', effect: 'allow' },
    { phase: 'response', effect: 'allow', result: { action: 'accept' } },
  ]);

  const roots = await client.callTool({ name: `${EVERYTHING}__get-roots-list`, arguments: {} });
  t.match(text(roots), /file:\/\/\/home\/lee\/project/);
  t.ok(asked.roots >= 1);
  // server-everything asks for roots once per session, during whichever call comes first.
  t.match(await relayed(store, 'roots/list', start), [{ effect: 'allow' }, { kind: 'call_result' }]);

  // Over HTTP: a name may be elicited, a password may not (the upstream gets the policy's error).
  before = await head(store);
  t.match(text(await client.callTool({ name: `${OWN}__ask_name`, arguments: {} })), /Ada/);
  const count = asked.elicitation.length;
  const refused = await client.callTool({ name: `${OWN}__ask_password`, arguments: {} });
  t.equal(text(refused), 'refused');
  t.equal(asked.elicitation.length, count, 'the password request never reached the client');
  t.match(forms.answers.at(-1), {
    error: -32001,
    message: /may not elicit secrets from the user \(field password\)/,
  });
  const trail = await relayed(store, 'elicitation/create', before);
  t.match(trail.at(-1), {
    effect: 'deny',
    upstreamServer: OWN,
    targetName: 'ask_password',
    reasons: ['server forms may not elicit secrets from the user (field password)'],
  });
});

t.test('reference policy without the opt-in: the upstream never sees the sampling capability', async (t) => {
  const { store, client, asked } = await setup(t, await referenceEngine(false));
  const { tools } = await client.listTools();
  const names = tools.map((x) => x.name);
  t.notOk(names.includes(`${EVERYTHING}__trigger-sampling-request`), 'server-everything did not offer it');
  t.ok(names.includes(`${EVERYTHING}__trigger-elicitation-request`), 'elicitation was still declared');
  t.ok(names.includes(`${EVERYTHING}__get-roots-list`), 'roots were still declared');
  await t.rejects(
    client.callTool({ name: `${EVERYTHING}__trigger-sampling-request`, arguments: { prompt: 'x' } }),
    { code: -32602 },
  );
  t.equal(asked.sampling.length, 0, 'the client was never asked');
  const decided = await relayed(store, 'client/capabilities', 0);
  // The stdio upstream is one shared process: decided once, for no caller in particular.
  t.match(
    decided.filter((e) => e.upstreamServer === EVERYTHING),
    [
      {
        kind: 'decision',
        effect: 'allow',
        userSub: null,
        arguments: { capabilities: null, offered: ['elicitation', 'roots', 'sampling'], shared: true },
        details: { declared: ['elicitation', 'roots'], shared: true },
      },
    ],
  );
  // The HTTP upstream keeps sessions: decided for the caller, with what its client declared.
  t.match(
    decided.filter((e) => e.upstreamServer === OWN),
    [
      {
        effect: 'allow',
        userSub: LAB_PRINCIPAL.user.sub,
        arguments: { capabilities: { sampling: {}, roots: {} }, shared: false },
        details: { declared: ['elicitation', 'roots'], shared: false },
      },
    ],
  );
});

t.test('a policy that denies roots and redacts sampling both ways', async (t) => {
  const { store, client, asked } = await setup(t, await strictEngine());
  let before = await head(store);
  const roots = await client.callTool({ name: `${EVERYTHING}__get-roots-list`, arguments: {} });
  t.equal(asked.roots, 0, 'the client was never asked for its roots');
  t.notMatch(text(roots), /home\/lee/);
  t.match(await relayed(store, 'roots/list', before), [
    { effect: 'deny', reasons: ['roots stay with the client'] },
  ]);

  before = await head(store);
  const sampled = await client.callTool({
    name: `${EVERYTHING}__trigger-sampling-request`,
    arguments: { prompt: 'the secret plan', maxTokens: 20 },
  });
  t.match(
    asked.sampling,
    [{ messages: [{ content: { text: '[REDACTED]' } }] }],
    'the client saw the prompt masked',
  );
  t.notMatch(text(sampled), /the model says 42/, "the upstream got the model's text masked");
  t.match(text(sampled), /REDACTED/);
  const trail = await relayed(store, 'sampling/createMessage', before);
  t.match(trail, [
    { phase: 'request', effect: 'redact', arguments: { messages: [{ content: { text: '[REDACTED]' } }] } },
    { phase: 'response', effect: 'redact', result: { content: { text: '[REDACTED]' } } },
  ]);
  t.notMatch(JSON.stringify(trail), /secret plan|the model says/, 'the trail keeps what the policy kept');
});

t.test('only the caller asked may answer; a request outside any call is refused', async (t) => {
  const other = { ...LAB_PRINCIPAL, user: { ...LAB_PRINCIPAL.user, sub: 'mallory' } };
  const forged: number[] = [];
  let base = '';
  const ctx = await setup(t, await referenceEngine(true), async (id) => {
    // Another user answers the pending request first, with the id it would have to guess.
    const r = await fetch(`${base}/mcp/${VIRTUAL}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        [TEST_PRINCIPAL_HEADER]: JSON.stringify(other),
      },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id,
        result: { action: 'accept', content: { name: 'Mallory' } },
      }),
    });
    forged.push(r.status);
  });
  const { client, forms, asked, store } = ctx;
  base = ctx.base;
  const r = await client.callTool({ name: `${OWN}__ask_name`, arguments: {} });
  t.same(forged, [404], "another user's answer is refused as unknown");
  t.match(text(r), /Ada/, "the asked caller's answer is the one the upstream got");
  t.notMatch(text(r), /Mallory/);

  // A ping during a call reaches the calling client, undecided.
  const pinged = await client.callTool({ name: `${OWN}__ping_client`, arguments: {} });
  t.equal(text(pinged), 'pong');
  t.equal(asked.pings, 1, "the upstream's ping reached the calling client");

  const before = await head(store);
  const count = asked.elicitation.length;
  await client.callTool({ name: `${OWN}__ask_unrelated`, arguments: {} });
  t.equal(asked.elicitation.length, count, 'the client was not asked');
  t.match(forms.answers.at(-1), { error: -32600, message: /relayed only during a call it belongs to/ });
  t.same(
    await relayed(store, 'elicitation/create', before),
    [],
    'nothing to decide: no call to relate it to',
  );
});

t.test('over stdio, a request with several calls in flight belongs to none: refused', async (t) => {
  let release!: () => void;
  const gate = new Promise<void>((r) => {
    release = r;
  });
  let entered!: () => void;
  const inside = new Promise<void>((r) => {
    entered = r;
  });
  // The first call's elicitation is held at the client while a second call asks to sample.
  const { client, asked, store } = await setup(t, await referenceEngine(true), async () => {
    entered();
    await gate;
  });
  const first = client.callTool({ name: `${EVERYTHING}__trigger-elicitation-request`, arguments: {} });
  await inside;
  const before = await head(store);
  const second = await client.callTool({
    name: `${EVERYTHING}__trigger-sampling-request`,
    arguments: { prompt: 'whose call is this', maxTokens: 5 },
  });
  t.match(JSON.stringify(second), /several calls are in flight/, 'the upstream was refused');
  t.equal(asked.sampling.length, 0, 'the client was not asked');
  t.same(await relayed(store, 'sampling/createMessage', before), [], 'no call to attribute it to');
  release();
  t.match(JSON.stringify(await first), /Ada/, 'the first call completes once its client answers');
});

t.test('a client without the capability answers for itself; its error reaches the upstream', async (t) => {
  const { store, base } = await setup(t, await referenceEngine(true));
  const plain = new Client({ name: 'plain-client', version: '1.0.0' });
  await plain.connect(
    new StreamableHTTPClientTransport(new URL(`${base}/mcp/${VIRTUAL}`), {
      requestInit: { headers: { [TEST_PRINCIPAL_HEADER]: JSON.stringify(LAB_PRINCIPAL) } },
    }),
  );
  t.teardown(() => plain.close());
  const before = await head(store);
  const r = await plain.callTool({
    name: `${EVERYTHING}__trigger-sampling-request`,
    arguments: { prompt: 'anyone there', maxTokens: 5 },
  });
  t.match(JSON.stringify(r), /-32601|Method not found/, "the client's own error code reached the upstream");
  const [decision, outcome] = await relayed(store, 'sampling/createMessage', before);
  t.match(decision, { kind: 'decision', effect: 'allow' });
  t.match(outcome, { kind: 'call_result', details: { error_code: -32601 } });
});
