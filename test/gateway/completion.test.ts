// completion/complete through Airlock to server-everything (stdio): prompt arguments (by the
// gateway's prompt name) and resource template arguments reach the right upstream under its own
// names, each decided and audited; a hidden prompt completes like an absent one; a policy that denies
// completion stops it before the upstream.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  Client as V2Client,
  StreamableHTTPClientTransport as V2Transport,
} from '@modelcontextprotocol/client';
import t, { type Test } from 'tap';
import type { AuditEvent, AuditStore } from '../../src/audit/index.js';
import { loadPolicyTree } from '../../src/cli/policy-files.js';
import { buildBundle, Engine } from '../../src/engine/index.js';
import { GatewayErrorCode, parseGatewayConfig, TEST_PRINCIPAL_HEADER } from '../../src/gateway/index.js';
import { openAudit, StdioEverything, startGateway } from './everything-fixture.js';
import { connectClient, rpcError } from './harness.js';

const EVERYTHING = 'everything';
const VIRTUAL = 'lab';
const PROMPT = 'completable-prompt';
const TEMPLATE = 'demo://resource/dynamic/text/{resourceId}';
const LAB = {
  user: { sub: 'lee', email: 'lee@corp.example', groups: ['lab'], claims: {} },
  agent: { id: 'lab-agent', client_id: 'lab-agent', claims: {} },
  model: { provider: 'anthropic', name: 'claude-sonnet-4', attested: false },
};

/** The reference policies; the lab agent may use `prompts` of server-everything. */
async function referenceEngine(prompts: string[]): Promise<Engine> {
  const tree = await loadPolicyTree([new URL('../../policies', import.meta.url).pathname]);
  const data = structuredClone(tree.data) as Record<string, Record<string, unknown>>;
  data.agents!['lab-agent'] = { virtual_server: VIRTUAL, tools: {}, resources: ['demo://*'], prompts };
  data.groups!.lab = { tools: {} };
  data.servers![EVERYTHING] = { external: true };
  const built = buildBundle({ ...tree, data }, { entrypoints: ['airlock/decision'] });
  const engine = new Engine();
  await engine.activate(built.bundle, 'completion');
  return engine;
}

/** Everything visible; completion denied. */
const NO_COMPLETION = `package airlock

import rego.v1

visible := {"visible_prompts": [p.name | some p in input.result.prompts]} if input.action == "prompts/list" else := {}

decision := object.union({"effect": "allow", "reasons": []}, visible) if input.action != "completion/complete"

decision := {"effect": "deny", "reasons": ["no completions here"]} if input.action == "completion/complete"
`;

async function denyingEngine(): Promise<Engine> {
  const built = buildBundle(
    { sources: [{ file: 'no-completion.rego', text: NO_COMPLETION }], data: {} },
    { entrypoints: ['airlock/decision'] },
  );
  const engine = new Engine();
  await engine.activate(built.bundle, 'no-completion');
  return engine;
}

async function setup(t: Test, engine: Engine) {
  const dir = mkdtempSync(join(tmpdir(), 'airlock-completion-'));
  const everything = new StdioEverything(join(dir, 'stdio.log'));
  const { store, drop } = await openAudit('pglite');
  const config = parseGatewayConfig({
    upstreams: [{ name: EVERYTHING, transport: 'stdio', ...everything.command, timeout_ms: 15_000 }],
    virtual_servers: [{ name: VIRTUAL, upstreams: [EVERYTHING] }],
  });
  const gateway = await startGateway(config, engine, store);
  const client = await connectClient(gateway.base, VIRTUAL, LAB);
  t.teardown(async () => {
    await client.close();
    await gateway.close();
    await drop();
    rmSync(dir, { recursive: true, force: true });
  });
  return { store, client, everything, base: gateway.base };
}

const detail = (e: AuditEvent | undefined, key: string): unknown =>
  (e?.details as Record<string, unknown> | null | undefined)?.[key];

async function completions(store: AuditStore, after: number): Promise<AuditEvent[]> {
  return (await store.query({ after })).events.filter((e) => detail(e, 'action') === 'completion/complete');
}

async function head(store: AuditStore): Promise<number> {
  return (await store.query({ order: 'desc', limit: 1 })).events[0]?.seq ?? 0;
}

t.test('prompt and resource template arguments complete through Airlock, decided and audited', async (t) => {
  const { store, client } = await setup(t, await referenceEngine([PROMPT]));
  t.ok(client.getServerCapabilities()?.completions, 'Airlock offers completions');
  let before = await head(store);
  const departments = await client.complete({
    ref: { type: 'ref/prompt', name: `${EVERYTHING}__${PROMPT}` },
    argument: { name: 'department', value: 'S' },
  });
  t.same(departments.completion.values, ['Sales', 'Support'], "the upstream's completions");
  t.ok(departments._meta?.['airlock.dev/decision_id'], 'the decision id travels with the result');
  const names = await client.complete({
    ref: { type: 'ref/prompt', name: `${EVERYTHING}__${PROMPT}` },
    argument: { name: 'name', value: '' },
    context: { arguments: { department: 'Engineering' } },
  });
  t.same(names.completion.values, ['Alice', 'Bob', 'Charlie'], 'the context reached the upstream');
  const trail = await completions(store, before);
  t.match(trail, [
    {
      kind: 'decision',
      phase: 'request',
      effect: 'allow',
      upstreamServer: EVERYTHING,
      targetType: 'prompt',
      targetName: PROMPT,
      arguments: { argument: { name: 'department', value: 'S' } },
    },
    { kind: 'call_result', phase: 'response', result: { completion: { values: ['Sales', 'Support'] } } },
    { kind: 'decision', arguments: { context: { arguments: { department: 'Engineering' } } } },
    { kind: 'call_result' },
  ]);

  before = await head(store);
  const ids = await client.complete({
    ref: { type: 'ref/resource', uri: TEMPLATE },
    argument: { name: 'resourceId', value: '7' },
  });
  t.same(ids.completion.values, ['7']);
  t.match(await completions(store, before), [
    { effect: 'allow', targetType: 'resource', targetName: TEMPLATE },
    { kind: 'call_result' },
  ]);

  const unknown = await rpcError(
    client.complete({
      ref: { type: 'ref/resource', uri: 'demo://nowhere/{x}' },
      argument: { name: 'x', value: '' },
    }),
  );
  t.equal(unknown.code, GatewayErrorCode.NotFound, 'a template no upstream lists');
});

t.test('a hidden prompt completes exactly like an absent one; the trail says why', async (t) => {
  const { store, client } = await setup(t, await referenceEngine([]));
  const before = await head(store);
  const hidden = await rpcError(
    client.complete({
      ref: { type: 'ref/prompt', name: `${EVERYTHING}__${PROMPT}` },
      argument: { name: 'department', value: '' },
    }),
  );
  const absent = await rpcError(
    client.complete({
      ref: { type: 'ref/prompt', name: `${EVERYTHING}__nope` },
      argument: { name: 'a', value: '' },
    }),
  );
  t.equal(hidden.code, absent.code);
  t.match(hidden.message, /Prompt everything__completable-prompt not found/);
  t.match(await completions(store, before), [
    { effect: 'deny', reasons: [/is hidden from agent lab-agent by policy/] },
    { effect: 'deny', reasons: [/offers no prompt nope/] },
  ]);
});

t.test('a policy that denies completion: nothing reaches the upstream, the deny is audited', async (t) => {
  const { store, client, everything } = await setup(t, await denyingEngine());
  const before = await head(store);
  const err = await rpcError(
    client.complete({
      ref: { type: 'ref/prompt', name: `${EVERYTHING}__${PROMPT}` },
      argument: { name: 'department', value: 'S' },
    }),
  );
  t.equal(err.code, GatewayErrorCode.Denied);
  t.match(err.message, /no completions here/);
  t.match(await completions(store, before), [{ effect: 'deny', reasons: ['no completions here'] }]);
  t.notOk(
    everything.seen().some((m) => m.method === 'completion/complete'),
    'server-everything never received completion/complete',
  );
});

t.test('a 2026-07-28 client completes a prompt argument through Airlock, decided and audited', async (t) => {
  const { store, base } = await setup(t, await referenceEngine([PROMPT]));
  const modern = new V2Client(
    { name: 'modern-agent', version: '2.4.0' },
    { versionNegotiation: { mode: { pin: '2026-07-28' } } },
  );
  await modern.connect(
    new V2Transport(new URL(`${base}/mcp/${VIRTUAL}`), {
      requestInit: { headers: { [TEST_PRINCIPAL_HEADER]: JSON.stringify(LAB) } },
    }),
  );
  t.teardown(() => modern.close());
  t.ok(modern.getServerCapabilities()?.completions, 'server/discover offers completions');
  const before = await head(store);
  const departments = await modern.complete({
    ref: { type: 'ref/prompt', name: `${EVERYTHING}__${PROMPT}` },
    argument: { name: 'department', value: 'S' },
  });
  t.same(departments.completion.values, ['Sales', 'Support'], "the upstream's completions");
  t.match(await completions(store, before), [
    { kind: 'decision', effect: 'allow', targetType: 'prompt', targetName: PROMPT },
    { kind: 'call_result' },
  ]);
});
