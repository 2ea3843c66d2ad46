// How virtual servers name their upstreams' tools and prompts (names.ts): prefixed by default, bare
// on request, aliases either way; collisions and over-long names refused at start-up (and, for an
// upstream first listed later, when its list is fetched). Real upstreams over Streamable HTTP.
import { createServer } from 'node:http';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import Fastify from 'fastify';
import t from 'tap';
import { z } from 'zod';
import {
  type GatewayConfig,
  GatewayConfigError,
  GatewayErrorCode,
  gatewayPlugin,
  parseGatewayConfig,
} from '../../src/gateway/index.js';
import { MAX_NAME_LENGTH, NameConflictError } from '../../src/gateway/names.js';
import { allowAllEngine } from './allow-all.js';
import { connectClient, rpcError, startAirlock } from './harness.js';

const engine = await allowAllEngine();

/** An upstream `name` offering `tools` (each answers `<name>:<tool>`) and `prompts`; `down` answers 503. */
async function upstream(name: string, tools: string[], prompts: string[] = []) {
  const state = { down: false, calls: [] as string[] };
  const http = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    if (state.down) return void res.writeHead(503).end();
    const body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString()) : undefined;
    const server = new McpServer({ name, version: '1.0.0' });
    for (const tool of tools)
      server.registerTool(tool, { inputSchema: { x: z.string().optional() } }, async () => {
        state.calls.push(tool);
        return { content: [{ type: 'text', text: `${name}:${tool}` }] };
      });
    for (const prompt of prompts)
      server.registerPrompt(prompt, {}, async () => ({
        messages: [{ role: 'user', content: { type: 'text', text: `${name}:${prompt}` } }],
      }));
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: undefined,
      enableJsonResponse: true,
    });
    res.on('close', () => void server.close());
    await server.connect(transport);
    await transport.handleRequest(req, res, body);
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(http.address() as { port: number }).port}/mcp`;
  t.teardown(
    () =>
      new Promise<void>((r) => {
        http.closeAllConnections();
        http.close(() => r());
      }),
  );
  return { url, state };
}

const alpha = await upstream('alpha', ['search', 'echo'], ['summary', 'greet']);
const beta = await upstream('beta', ['echo', 'count'], ['greet']);

function topology(
  virtual: Partial<GatewayConfig['virtual_servers'][number]>,
  upstreams = [alpha, beta],
): Pick<GatewayConfig, 'upstreams' | 'virtual_servers'> {
  const names = ['alpha', 'beta', 'gamma'];
  return {
    upstreams: upstreams.map((u, i) => ({ name: names[i]!, transport: 'http' as const, url: u.url })),
    virtual_servers: [{ name: 'v', upstreams: names.slice(0, upstreams.length), ...virtual }],
  };
}

/** The error registering the gateway with `config` fails with (a start-up error). */
async function startupError(config: Pick<GatewayConfig, 'upstreams' | 'virtual_servers'>): Promise<Error> {
  const app = Fastify();
  try {
    await app.register(gatewayPlugin, {
      config: parseGatewayConfig(config),
      engine,
      audit: { record: async () => ({}) as never },
      trustTestPrincipalHeader: true,
    });
    await app.ready();
  } catch (err) {
    return err as Error;
  } finally {
    await app.close().catch(() => {});
  }
  throw new Error('expected a start-up error');
}

const text = (r: unknown) => (r as { content: { text: string }[] }).content[0]?.text;
const promptText = (r: unknown) =>
  (r as { messages: { content: { text: string } }[] }).messages[0]?.content.text;

t.test('prefixed (the default): <upstream>__<name> for tools and prompts', async (t) => {
  const airlock = await startAirlock('', { engine, topology: topology({}) });
  const client = await connectClient(airlock.base, 'v');
  t.teardown(async () => {
    await client.close();
    await airlock.close();
  });
  const { tools } = await client.listTools();
  t.same(tools.map((x) => x.name).sort(), ['alpha__echo', 'alpha__search', 'beta__count', 'beta__echo']);
  t.equal(text(await client.callTool({ name: 'beta__echo', arguments: {} })), 'beta:echo');
  const { prompts } = await client.listPrompts();
  t.same(prompts.map((p) => p.name).sort(), ['alpha__greet', 'alpha__summary', 'beta__greet']);
  t.equal(promptText(await client.getPrompt({ name: 'beta__greet' })), 'beta:greet');
  const bare = await rpcError(client.callTool({ name: 'search', arguments: {} }));
  t.equal(bare.code, GatewayErrorCode.NotFound, 'a bare name is unknown in prefixed mode');
});

t.test('bare: upstream names kept, aliases resolve the collisions', async (t) => {
  const airlock = await startAirlock('', {
    engine,
    topology: topology({
      tool_names: 'bare',
      aliases: { tools: { beta: { echo: 'beta_echo' } }, prompts: { alpha: { greet: 'hello' } } },
    }),
  });
  const client = await connectClient(airlock.base, 'v');
  t.teardown(async () => {
    await client.close();
    await airlock.close();
  });
  const { tools } = await client.listTools();
  t.same(tools.map((x) => x.name).sort(), ['beta_echo', 'count', 'echo', 'search']);
  t.equal(text(await client.callTool({ name: 'echo', arguments: {} })), 'alpha:echo');
  t.equal(text(await client.callTool({ name: 'beta_echo', arguments: {} })), 'beta:echo');
  t.equal(text(await client.callTool({ name: 'count', arguments: {} })), 'beta:count');
  for (const name of ['beta__echo', 'alpha__search', 'nothing']) {
    const err = await rpcError(client.callTool({ name, arguments: {} }));
    t.equal(err.code, GatewayErrorCode.NotFound, `${name} is unknown`);
    t.equal(err.message, `MCP error -32602: Tool ${name} not found`);
  }
  const { prompts } = await client.listPrompts();
  t.same(prompts.map((p) => p.name).sort(), ['greet', 'hello', 'summary']);
  t.equal(promptText(await client.getPrompt({ name: 'greet' })), 'beta:greet');
  t.equal(promptText(await client.getPrompt({ name: 'hello' })), 'alpha:greet');
  // Policies and the audit trail see the upstream's own name.
  const row = airlock.events.findLast((e) => e.kind === 'decision' && e.phase === 'request');
  t.same(row?.target, { type: 'prompt', name: 'greet' });
  t.equal(row?.upstreamServer, 'alpha');
});

t.test('prefixed with an alias: the alias replaces the prefixed name', async (t) => {
  const airlock = await startAirlock('', {
    engine,
    topology: topology({ aliases: { tools: { alpha: { search: 'find' } } } }),
  });
  const client = await connectClient(airlock.base, 'v');
  t.teardown(async () => {
    await client.close();
    await airlock.close();
  });
  const { tools } = await client.listTools();
  t.same(tools.map((x) => x.name).sort(), ['alpha__echo', 'beta__count', 'beta__echo', 'find']);
  t.equal(text(await client.callTool({ name: 'find', arguments: {} })), 'alpha:search');
  const err = await rpcError(client.callTool({ name: 'alpha__search', arguments: {} }));
  t.equal(err.code, GatewayErrorCode.NotFound);
});

t.test('a bare collision is a start-up error naming both upstreams', async (t) => {
  const err = await startupError(topology({ tool_names: 'bare' }));
  t.type(err, NameConflictError);
  t.match(err.message, /tool name echo is offered by upstream alpha \(echo\) and by upstream beta \(echo\)/);
  const prompts = await startupError(
    topology({ tool_names: 'bare', aliases: { tools: { beta: { echo: 'e2' } } } }),
  );
  t.match(prompts.message, /prompt name greet is offered by upstream alpha .* and by upstream beta/);
  const alias = await startupError(
    topology({ tool_names: 'bare', aliases: { tools: { beta: { echo: 'search' } } } }),
  );
  t.match(
    alias.message,
    /tool name search is offered by upstream alpha \(search\) and by upstream beta \(echo\)/,
  );
});

t.test('names longer than 64 characters are a start-up error; an alias fixes them', async (t) => {
  const long = 'x'.repeat(MAX_NAME_LENGTH - 'gamma__'.length + 1);
  const gamma = await upstream('gamma', [long]);
  const bad = await startupError({
    upstreams: [{ name: 'gamma', transport: 'http', url: gamma.url }],
    virtual_servers: [{ name: 'v', upstreams: ['gamma'], aliases: { prompts: { gamma: { p: 'q' } } } }],
  });
  t.match(bad.message, new RegExp(`tool name gamma__${long} of upstream gamma has 65 characters`));
  const airlock = await startAirlock('', {
    engine,
    topology: {
      upstreams: [{ name: 'gamma', transport: 'http', url: gamma.url }],
      virtual_servers: [
        { name: 'v', upstreams: ['gamma'], aliases: { tools: { gamma: { [long]: 'short' } } } },
      ],
    },
  });
  const client = await connectClient(airlock.base, 'v');
  t.teardown(async () => {
    await client.close();
    await airlock.close();
  });
  t.same(
    (await client.listTools()).tools.map((x) => x.name),
    ['short'],
  );
  t.equal(text(await client.callTool({ name: 'short', arguments: {} })), `gamma:${long}`);
});

t.test('an upstream not listed at start is checked when first listed: the list fails closed', async (t) => {
  beta.state.down = true;
  let airlock: Awaited<ReturnType<typeof startAirlock>>;
  try {
    airlock = await startAirlock('', { engine, topology: topology({ tool_names: 'bare' }) });
  } finally {
    beta.state.down = false;
  }
  const client = await connectClient(airlock.base, 'v');
  t.teardown(async () => {
    await client.close();
    await airlock.close();
  });
  const err = await rpcError(client.listTools());
  t.equal(err.code, GatewayErrorCode.Internal);
  t.equal(
    err.message,
    'MCP error -32603: internal error',
    'the collision is the operator’s to read in the log',
  );
  const before = alpha.state.calls.length;
  const call = await rpcError(client.callTool({ name: 'search', arguments: {} }));
  t.equal(call.code, GatewayErrorCode.Internal, 'no bare name resolves while two upstreams collide');
  t.equal(alpha.state.calls.length, before, 'nothing forwarded');
});

t.test('configuration checks', async (t) => {
  const parse =
    (v: Record<string, unknown>, upstreams = ['alpha', 'beta']) =>
    () =>
      parseGatewayConfig({
        upstreams: upstreams.map((name) => ({ name, transport: 'http', url: 'http://127.0.0.1:1/mcp' })),
        virtual_servers: [{ name: 'v', upstreams, ...v }],
      });
  t.doesNotThrow(parse({ tool_names: 'bare', aliases: { tools: { alpha: { a: 'b' } } } }));
  t.throws(parse({ tool_names: 'short' }), GatewayConfigError);
  t.throws(parse({ aliases: { tools: { gamma: { a: 'b' } } } }), {
    message: /aliases.tools names upstream gamma, which it does not aggregate/,
  });
  t.throws(parse({ aliases: { tools: { alpha: { a: 'same' }, beta: { b: 'same' } } } }), {
    message: /aliases.tools.alpha.a and aliases.tools.beta.b are both same/,
  });
  t.throws(parse({ aliases: { tools: { alpha: { a: 'beta__b' } } } }), {
    message: /looks like a prefixed name of upstream beta/,
  });
  t.doesNotThrow(parse({ tool_names: 'bare', aliases: { tools: { alpha: { a: 'beta__b' } } } }));
  t.throws(parse({ aliases: { tools: { alpha: { a: 'has space' } } } }), GatewayConfigError);
  t.throws(parse({ aliases: { tools: { alpha: { a: 'y'.repeat(65) } } } }), GatewayConfigError);
  const longUpstream = 'u'.repeat(62);
  t.throws(parse({}, [longUpstream]), { message: /leaves no room for a prefixed name within 64 characters/ });
  t.doesNotThrow(parse({ tool_names: 'bare' }, [longUpstream]));
});
