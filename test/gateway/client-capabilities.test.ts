import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { ClientCapabilities } from '@modelcontextprotocol/sdk/types.js';
import t, { type Test } from 'tap';
import type { AuditEvent, AuditStore } from '../../src/audit/index.js';
import { buildBundle, Engine } from '../../src/engine/index.js';
import { parseGatewayConfig, TEST_PRINCIPAL_HEADER } from '../../src/gateway/index.js';
import { type SessionHttpUpstream, sessionHttpUpstream } from '../helpers/session-http-upstream.js';
import { openAudit, StdioEverything, startGateway } from './everything-fixture.js';

const VIRTUAL = 'lab';
const OWN = 'own';
const EVERYTHING = 'everything';

/** Allows and shows everything; `client/capabilities` as `capabilities` says (Rego body of a rule). */
function policy(capabilities: string): string {
  return `package airlock

import rego.v1

listed(kind, key) := [item[key] | some item in object.get(input, ["result", kind], [])]

decision := {
	"effect": "allow",
	"reasons": [],
	"visible_tools": listed("tools", "name"),
	"visible_resources": listed("resources", "uri"),
	"visible_prompts": listed("prompts", "name"),
} if input.action != "client/capabilities"

${capabilities}
`;
}

/** No word on capabilities: an allow keeps everything offered. */
const DEFAULT = 'decision := {"effect": "allow", "reasons": []} if input.action == "client/capabilities"';

/** Sampling only for alice; a shared session (no user) gets none. */
const ALICE_SAMPLES = `decision := {"effect": "allow", "reasons": ["sampling for alice only"], "client_capabilities": allowed} if input.action == "client/capabilities"

allowed := input.arguments.offered if input.user.sub == "alice"

allowed := [c | some c in input.arguments.offered; c != "sampling"] if not input.user.sub == "alice"`;

const DENY =
  'decision := {"effect": "deny", "reasons": ["no capabilities"]} if input.action == "client/capabilities"';

async function engineOf(capabilities: string): Promise<Engine> {
  const built = buildBundle(
    { sources: [{ file: 'caps.rego', text: policy(capabilities) }], data: {} },
    { entrypoints: ['airlock/decision'] },
  );
  const engine = new Engine();
  await engine.activate(built.bundle, 'caps');
  return engine;
}

/** A session-keeping upstream whose `seen` tool answers the capabilities its session was given. */
function ownUpstream(): Promise<SessionHttpUpstream> {
  return sessionHttpUpstream(() => {
    const s = new McpServer({ name: OWN, version: '1.0.0' });
    s.registerTool('seen', { inputSchema: {} }, async () => ({
      content: [{ type: 'text', text: JSON.stringify(s.server.getClientCapabilities() ?? null) }],
    }));
    return s;
  });
}

const principal = (sub: string) => ({
  user: { sub, email: `${sub}@corp.example`, groups: ['lab'], claims: {} },
  agent: { id: 'lab-agent', client_id: 'lab-agent', claims: {} },
  model: { provider: 'anthropic', name: 'claude-sonnet-4', attested: false },
});

const EVERY: ClientCapabilities = { sampling: {}, elicitation: { form: {} }, roots: { listChanged: true } };

async function connect(
  t: Test,
  base: string,
  sub: string,
  capabilities: ClientCapabilities,
): Promise<Client> {
  const client = new Client({ name: 'caps-client', version: '1.0.0' }, { capabilities });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(`${base}/mcp/${VIRTUAL}`), {
      requestInit: { headers: { [TEST_PRINCIPAL_HEADER]: JSON.stringify(principal(sub)) } },
    }),
  );
  t.teardown(() => client.close());
  return client;
}

async function setup(t: Test, capabilities: string, withStdio = false) {
  const own = await ownUpstream();
  const dir = mkdtempSync(join(tmpdir(), 'airlock-caps-'));
  const everything = new StdioEverything(join(dir, 'stdio.log'));
  const { store, drop } = await openAudit('pglite');
  const config = parseGatewayConfig({
    upstreams: [
      { name: OWN, transport: 'http', url: own.url, timeout_ms: 15_000 },
      ...(withStdio
        ? [{ name: EVERYTHING, transport: 'stdio', ...everything.command, timeout_ms: 15_000 }]
        : []),
    ],
    virtual_servers: [{ name: VIRTUAL, upstreams: withStdio ? [OWN, EVERYTHING] : [OWN] }],
  });
  const gateway = await startGateway(config, await engineOf(capabilities), store);
  t.teardown(async () => {
    await gateway.close();
    await own.close();
    await drop();
    rmSync(dir, { recursive: true, force: true });
  });
  return { base: gateway.base, store };
}

/** The capabilities the own upstream's session of this caller was initialized with. */
async function seen(client: Client): Promise<unknown> {
  const r = (await client.callTool({ name: `${OWN}__seen`, arguments: {} })) as {
    content: { text: string }[];
  };
  return JSON.parse(r.content[0]!.text);
}

async function decisions(store: AuditStore): Promise<AuditEvent[]> {
  return (await store.query({})).events.filter(
    (e) => (e.details as { action?: string } | null)?.action === 'client/capabilities',
  );
}

t.test('by default the upstream sees what Airlock relays of what the client declared', async (t) => {
  const { base, store } = await setup(t, DEFAULT);
  const full = await connect(t, base, 'alice', EVERY);
  t.same(
    await seen(full),
    { sampling: {}, elicitation: { form: {} }, roots: {} },
    'sampling, elicitation (the client’s modes) and roots; not roots.listChanged, which Airlock does not relay',
  );
  const rootsOnly = await connect(t, base, 'bob', { roots: {} });
  t.same(await seen(rootsOnly), { roots: {} }, 'never what the client did not declare');
  t.match(await decisions(store), [
    {
      kind: 'decision',
      phase: 'request',
      effect: 'allow',
      userSub: 'alice',
      upstreamServer: OWN,
      virtualServer: VIRTUAL,
      arguments: {
        capabilities: { sampling: {}, elicitation: { form: {} }, roots: { listChanged: true } },
        offered: ['elicitation', 'roots', 'sampling'],
        shared: false,
      },
      details: { declared: ['elicitation', 'roots', 'sampling'], shared: false },
    },
    { userSub: 'bob', arguments: { offered: ['roots'] }, details: { declared: ['roots'] } },
  ]);
});

t.test(
  'a policy that strips sampling: the upstream never sees it; the trail holds the decision',
  async (t) => {
    const { base, store } = await setup(t, ALICE_SAMPLES);
    const alice = await connect(t, base, 'alice', EVERY);
    const bob = await connect(t, base, 'bob', EVERY);
    t.same(await seen(bob), { elicitation: { form: {} }, roots: {} }, "bob's session declares no sampling");
    t.same(await seen(alice), { sampling: {}, elicitation: { form: {} }, roots: {} }, "alice's does");
    const rows = await decisions(store);
    t.match(
      rows.find((e) => e.userSub === 'bob'),
      {
        effect: 'allow',
        reasons: ['sampling for alice only'],
        details: { declared: ['elicitation', 'roots'] },
      },
    );
    t.equal(rows.length, 2, 'one decision per caller session, when it opened');
    await seen(bob);
    t.equal((await decisions(store)).length, 2, 'not decided again while the session lives');
  },
);

t.test('a denied decision declares nothing', async (t) => {
  const { base, store } = await setup(t, DENY);
  const client = await connect(t, base, 'alice', EVERY);
  t.same(await seen(client), {}, 'the upstream sees no relayed capability');
  t.match(await decisions(store), [
    { effect: 'deny', reasons: ['no capabilities'], details: { declared: [] } },
  ]);
});

t.test('a shared session (stdio) is decided once, for no caller in particular', async (t) => {
  const { base, store } = await setup(t, ALICE_SAMPLES, true);
  const alice = await connect(t, base, 'alice', EVERY);
  const names = (await alice.listTools()).tools.map((x) => x.name);
  t.ok(names.includes(`${EVERYTHING}__get-roots-list`), 'the shared session declared roots');
  t.notOk(
    names.includes(`${EVERYTHING}__trigger-sampling-request`),
    'not sampling: the policy allows it to alice only, and the shared session serves everybody',
  );
  const bob = await connect(t, base, 'bob', EVERY);
  t.notOk((await bob.listTools()).tools.some((x) => x.name === `${EVERYTHING}__trigger-sampling-request`));
  const shared = (await decisions(store)).filter((e) => e.upstreamServer === EVERYTHING);
  t.match(shared, [
    {
      effect: 'allow',
      userSub: null,
      agentId: null,
      arguments: { capabilities: null, offered: ['elicitation', 'roots', 'sampling'], shared: true },
      details: { declared: ['elicitation', 'roots'], shared: true },
    },
  ]);
  t.equal(shared.length, 1, 'decided once for the one shared process');
});

t.test(
  'a policy that does not decide client/capabilities: nothing declared, the session still opens',
  async (t) => {
    const { base, store } = await setup(t, '');
    const client = await connect(t, base, 'alice', EVERY);
    t.same(await seen(client), {}, 'no relayed capability, and the call went through');
    t.match(await decisions(store), [
      {
        kind: 'decision',
        effect: 'deny',
        reasons: [/^evaluation failed/],
        details: { evaluation_failed: true },
      },
    ]);
  },
);
