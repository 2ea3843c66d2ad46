// The official MCP Inspector CLI (@modelcontextprotocol/inspector-cli, `--cli` mode) through a real
// Airlock: every method the CLI offers, run as a child process with a real bearer token from a real
// OpenID provider, against the conformance upstream (a real session-keeping MCP server over
// Streamable HTTP). Outputs are the CLI's own JSON; one call is denied by policy.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import t, { type Test } from 'tap';
import { CLIENTS, startIdp } from '../../scripts/demo/idp.js';
import { buildBundle, Engine } from '../../src/engine/index.js';
import { createIdentity } from '../../src/identity/index.js';
import { startConformanceUpstream } from '../fixtures/gateway/conformance-upstream.js';
import { startAirlock } from './harness.js';

const CLI = fileURLToPath(
  new URL('../../node_modules/@modelcontextprotocol/inspector-cli/build/cli.js', import.meta.url),
);
// The CLI finds its own package.json by a path it checks relative to the working directory but
// imports relative to its module: run from its build directory, both agree.
const CLI_DIR = fileURLToPath(new URL('.', `file://${CLI}`));
const RESOURCE = 'http://127.0.0.1/mcp';
const DENIED_TOOL = 'test_audio_content';

// Allows and shows everything but one tool's calls.
const POLICY = `package airlock
import rego.v1

listed(kind, key) := [item[key] | some item in object.get(input, ["result", kind], [])]

decision := {"effect": "deny", "reasons": ["audio is not for this agent"]} if {
	input.action == "tools/call"
	input.tool.name == "${DENIED_TOOL}"
} else := {
	"effect": "allow",
	"reasons": [],
	"visible_tools": listed("tools", "name"),
	"visible_resources": listed("resources", "uri"),
	"visible_prompts": listed("prompts", "name"),
}
`;

const engine = new Engine();
await engine.activate(
  buildBundle(
    { sources: [{ file: 'inspector.rego', text: POLICY }], data: {} },
    { entrypoints: ['airlock/decision'] },
  ).bundle,
  'inspector-test',
);
const idp = await startIdp();
const upstream = await startConformanceUpstream();
const identity = createIdentity(
  {
    resource: RESOURCE,
    allow_insecure_http: true,
    issuers: [
      {
        issuer: idp.issuer,
        exchange_client: { client_id: CLIENTS.gateway.id, client_secret: { env: 'GATEWAY_SECRET' } },
      },
    ],
    agents: { [CLIENTS.agent.id]: { client_secret: { env: 'AGENT_SECRET' } } },
    upstreams: { conformance: { mode: 'none' } },
  },
  { env: { GATEWAY_SECRET: CLIENTS.gateway.secret, AGENT_SECRET: CLIENTS.agent.secret } },
);
const airlock = await startAirlock('', {
  engine,
  identity,
  topology: {
    upstreams: [{ name: 'conformance', transport: 'http', url: upstream.url, timeout_ms: 10_000 }],
    virtual_servers: [{ name: 'lab', upstreams: ['conformance'], tool_names: 'bare' }],
  },
});
t.teardown(async () => {
  await airlock.close();
  await upstream.close();
  await idp.close();
});
const token = await idp.userToken({ sub: 'ines', audience: RESOURCE, extra: { groups: ['lab'] } });
const url = `${airlock.base}/mcp/lab`;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** The Inspector CLI in `--cli` mode against the lab virtual server, with the bearer token. */
function inspector(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, '--cli', url, '--transport', 'http', '--header', `Authorization: Bearer ${token}`, ...args],
      { timeout: 30_000, cwd: CLI_DIR },
      (err, stdout, stderr) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** The CLI's JSON output of a successful run (fails the test with its stderr otherwise). */
async function output(t: Test, ...args: string[]): Promise<Record<string, unknown>> {
  const run = await inspector(...args);
  t.equal(run.code, 0, `${args.join(' ')} exits 0`, { stderr: run.stderr });
  return JSON.parse(run.stdout) as Record<string, unknown>;
}

const events = (action: string) =>
  airlock.events.filter((e) => (e.details as { action?: string } | undefined)?.action === action);

t.test('tools/list: every tool of the upstream, with its own name and schema', async (t) => {
  const out = (await output(t, '--method', 'tools/list')) as {
    tools: { name: string; inputSchema: unknown }[];
  };
  const names = out.tools.map((x) => x.name);
  t.ok(names.includes('test_simple_text'));
  t.ok(names.includes('json_schema_2020_12_tool'));
  t.equal(names.length, 14, 'all fourteen tools');
  t.match(out.tools.find((x) => x.name === 'json_schema_2020_12_tool')?.inputSchema, {
    type: 'object',
    properties: { name: { type: 'string' } },
  });
  t.ok(events('tools/list').length > 0, 'the list decision is audited');
});

t.test('tools/call with --tool-arg: forwarded, the result and its decision id back', async (t) => {
  const out = (await output(
    t,
    '--method',
    'tools/call',
    '--tool-name',
    'json_schema_2020_12_tool',
    '--tool-arg',
    'name=Ada',
    'address={"street":"1 Main St","city":"Paris"}',
  )) as { content: { type: string; text: string }[]; _meta: Record<string, unknown> };
  t.same(out.content, [
    { type: 'text', text: 'Received {"name":"Ada","address":{"street":"1 Main St","city":"Paris"}}' },
  ]);
  t.type(out._meta['airlock.dev/decision_id'], 'string', 'the decision id travels with the result');
  const decision = airlock.events.find(
    (e) => e.kind === 'decision' && e.decisionId === out._meta['airlock.dev/decision_id'],
  );
  t.match(decision, { effect: 'allow', user: { sub: 'ines' }, target: { name: 'json_schema_2020_12_tool' } });
  t.same(decision?.arguments, { name: 'Ada', address: { street: '1 Main St', city: 'Paris' } });
});

t.test('tools/call of a tool the policy denies: the CLI fails with the refusal, audited', async (t) => {
  const run = await inspector('--method', 'tools/call', '--tool-name', DENIED_TOOL);
  t.equal(run.code, 1, 'the CLI exits 1');
  t.match(
    run.stderr,
    /Failed to call tool test_audio_content: MCP error -32001: denied by policy: audio is not for this agent/,
  );
  t.equal(run.stdout, '', 'no result printed');
  const denied = airlock.events.findLast((e) => e.kind === 'decision' && e.target?.name === DENIED_TOOL);
  t.match(denied, { effect: 'deny', reasons: ['audio is not for this agent'], user: { sub: 'ines' } });
  t.notOk(
    airlock.events.some((e) => e.kind === 'call_result' && e.target?.name === DENIED_TOOL),
    'nothing was forwarded, so there is no call result',
  );
});

t.test('resources/list', async (t) => {
  const out = (await output(t, '--method', 'resources/list')) as { resources: { uri: string }[] };
  t.same(out.resources.map((r) => r.uri).sort(), [
    'test://static-binary',
    'test://static-text',
    'test://watched-resource',
  ]);
});

t.test('resources/read of a listed resource and of a templated URI', async (t) => {
  const listed = (await output(t, '--method', 'resources/read', '--uri', 'test://static-text')) as {
    contents: unknown[];
  };
  t.match(listed.contents, [
    {
      uri: 'test://static-text',
      mimeType: 'text/plain',
      text: 'This is the content of the static text resource.',
    },
  ]);
  const templated = (await output(t, '--method', 'resources/read', '--uri', 'test://template/42/data')) as {
    contents: { text: string }[];
  };
  t.same(JSON.parse(templated.contents[0]!.text), { id: '42', templateTest: true, data: 'Data for ID: 42' });
  t.ok(
    airlock.events.some(
      (e) =>
        e.kind === 'call_result' &&
        e.target?.type === 'resource' &&
        e.target.name === 'test://template/42/data',
    ),
    'the read is audited',
  );
});

t.test('resources/templates/list', async (t) => {
  const out = (await output(t, '--method', 'resources/templates/list')) as {
    resourceTemplates: { uriTemplate: string }[];
  };
  t.same(
    out.resourceTemplates.map((x) => x.uriTemplate),
    ['test://template/{id}/data'],
  );
  t.ok(events('resources/templates/list').length > 0, 'decided and audited');
});

t.test('prompts/list', async (t) => {
  const out = (await output(t, '--method', 'prompts/list')) as { prompts: { name: string }[] };
  t.same(out.prompts.map((p) => p.name).sort(), [
    'test_prompt_with_arguments',
    'test_prompt_with_embedded_resource',
    'test_prompt_with_image',
    'test_simple_prompt',
  ]);
});

t.test('prompts/get with --prompt-args', async (t) => {
  const out = (await output(
    t,
    '--method',
    'prompts/get',
    '--prompt-name',
    'test_prompt_with_arguments',
    '--prompt-args',
    'arg1=alpha',
    'arg2=beta',
  )) as { messages: { content: { text: string } }[] };
  t.match(out.messages[0]?.content.text, /alpha/);
  t.match(out.messages[0]?.content.text, /beta/);
  const row = airlock.events.findLast(
    (e) => e.kind === 'decision' && e.target?.name === 'test_prompt_with_arguments',
  );
  t.same(row?.arguments, { arg1: 'alpha', arg2: 'beta' });
});

t.test('logging/setLevel with each level the CLI accepts that MCP defines', async (t) => {
  for (const level of ['debug', 'info', 'error']) {
    const before = events('logging/setLevel').length;
    const out = await output(t, '--method', 'logging/setLevel', '--log-level', level);
    t.same(out, {}, `${level}: the empty result`);
    const rows = events('logging/setLevel').slice(before);
    // The CLI sets "debug" on every connection before the method; then the level asked for.
    t.ok(
      rows.some((e) => e.kind === 'call_result' && (e.details as { forwarded?: boolean }).forwarded === true),
      `${level}: forwarded to the caller's upstream session`,
    );
    t.ok(
      rows.some((e) => e.kind === 'decision' && (e.arguments as { level?: string }).level === level),
      `${level}: decided with the level`,
    );
  }
});

t.test("the CLI's own levels that MCP does not define are refused as invalid params", async (t) => {
  // The CLI offers trace and warn; MCP's levels are debug … emergency (warning, not warn).
  const run = await inspector('--method', 'logging/setLevel', '--log-level', 'warn');
  t.equal(run.code, 1);
  t.match(
    run.stderr,
    /Failed to set logging level: MCP error -32602: Invalid params: params\.level: Invalid option: expected one of "debug"\|/,
  );
  t.notMatch(run.stderr, /invalid_value/, 'a message naming the field, not the validator dump');
});

t.test('without the token the CLI is refused before anything is relayed', async (t) => {
  const run = await new Promise<Run>((resolve) =>
    execFile(
      process.execPath,
      [CLI, '--cli', url, '--transport', 'http', '--method', 'tools/list'],
      { timeout: 30_000, cwd: CLI_DIR },
      (err, stdout, stderr) => resolve({ code: err ? 1 : 0, stdout, stderr }),
    ),
  );
  t.equal(run.code, 1);
  t.match(run.stderr, /Failed to connect to MCP server/);
});
