// Airlock in front of the real MCP reference server (@modelcontextprotocol/server-everything), over
// stdio and Streamable HTTP behind one virtual server: what the policy shows and hides, what reaches
// the upstream, what the upstream's environment holds, and how crashes and timeouts surface — checked
// against what the upstream received and what the audit trail recorded.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import t from 'tap';
import type { AuditEvent, AuditStore } from '../../src/audit/index.js';
import { GatewayErrorCode } from '../../src/gateway/index.js';
import {
  AGENT_ONLY,
  auditBackends,
  everythingConfig,
  everythingEngine,
  GRANTED,
  HTTP,
  HttpEverything,
  LAB_PRINCIPAL,
  openAudit,
  STDIO,
  STDIO_ONLY,
  StdioEverything,
  startGateway,
  VIRTUAL,
} from './everything-fixture.js';
import { connectClient } from './harness.js';

/** A secret-looking value in the gateway's environment; no PII detector matches it, so redaction cannot hide a leak. */
const SECRET = `s3cr3t-${process.pid}-${Date.now().toString(36)}`;
process.env.AIRLOCK_TEST_SECRET = SECRET;

/** What the MCP SDK's stdio transport passes on by default (its getDefaultEnvironment on POSIX). */
const SAFE_ENV = ['PATH', 'HOME', 'LOGNAME', 'SHELL', 'TERM', 'USER'];

const HTTP_TIMEOUT_MS = 1500;
const STDIO_TIMEOUT_MS = 8000;

async function rpcError(p: Promise<unknown>): Promise<McpError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof McpError) return err;
    throw err;
  }
  throw new Error('expected a JSON-RPC error');
}

/** The first text block of a tool result. */
const text = (result: unknown): string =>
  (result as { content?: { text?: string }[] }).content?.[0]?.text ?? '';

/** One field of an audit event's `details`. */
const detail = (event: AuditEvent | undefined, key: string): unknown =>
  (event?.details as Record<string, unknown> | null | undefined)?.[key];

const engine = await everythingEngine();

for (const backend of auditBackends()) {
  t.test(`server-everything behind Airlock (audit on ${backend})`, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'airlock-everything-'));
    const stdio = new StdioEverything(join(dir, 'stdio.log'));
    const http = await HttpEverything.start();
    const audit = await openAudit(backend);
    const config = everythingConfig({
      stdio: {
        ...stdio.command,
        env: { AIRLOCK_EVERYTHING_CONFIGURED: 'from-config' },
        timeoutMs: STDIO_TIMEOUT_MS,
      },
      httpUrl: http.url,
      httpTimeoutMs: HTTP_TIMEOUT_MS,
    });
    const gateway = await startGateway(config, engine, audit.store);
    const client = await connectClient(gateway.base, VIRTUAL, LAB_PRINCIPAL);
    t.teardown(async () => {
      await client.close();
      await gateway.close();
      await http.close();
      await audit.drop();
      rmSync(dir, { recursive: true, force: true });
    });
    const store: AuditStore = audit.store;
    const seenBy = { [STDIO]: () => stdio.seen(), [HTTP]: () => http.seen } as const;
    const toolCalls = (upstream: keyof typeof seenBy) =>
      seenBy[upstream]().filter((s) => s.method === 'tools/call');

    t.test('tools/list shows exactly the granted tools of both upstreams', async (t) => {
      const { tools } = await client.listTools();
      const expected = [
        ...[STDIO, HTTP].flatMap((u) => GRANTED.map((name) => `${u}__${name}`)),
        `${STDIO}__${STDIO_ONLY}`,
      ].sort();
      // Left out here, asserted on its own below (a known gateway bug lists it).
      const listed = tools.map((x) => x.name).filter((n) => n !== `${HTTP}__${STDIO_ONLY}`);
      t.same(listed.sort(), expected);
      // Both upstreams really listed more than that: the filter is the policy's, not the server's.
      t.ok(
        stdio.seen().some((s) => s.method === 'tools/list'),
        'the stdio upstream was asked',
      );
      t.ok(
        http.seen.some((s) => s.method === 'tools/list'),
        'the HTTP upstream was asked',
      );
      const direct = new Client({ name: 'direct', version: '1' });
      await direct.connect(new StreamableHTTPClientTransport(new URL(http.directUrl)));
      const all = (await direct.listTools()).tools.map((x) => x.name);
      await direct.close();
      t.ok(
        all.includes(AGENT_ONLY) && all.includes('get-annotated-message') && all.length > GRANTED.length + 2,
      );
      // One decision per upstream (tool names are unique only within an upstream), newest first.
      const { events } = await store.query({ kind: 'decision', order: 'desc', limit: 2 });
      t.match(events[0], { phase: 'response', virtualServer: VIRTUAL, effect: 'allow' });
      t.same(detail(events[0], 'visible'), [...GRANTED].sort());
      t.same(detail(events[1], 'visible'), [...GRANTED, STDIO_ONLY].sort());
    });

    t.test('tools/list: a tool granted on one upstream only is not listed on the other', async (t) => {
      const { tools } = await client.listTools();
      t.notOk(
        tools.some((x) => x.name === `${HTTP}__${STDIO_ONLY}`),
        `${HTTP}__${STDIO_ONLY} is not listed`,
      );
    });

    for (const upstream of [STDIO, HTTP] as const) {
      t.test(`${upstream}: an allowed call returns the upstream's own result`, async (t) => {
        const before = toolCalls(upstream).length;
        const sum = await client.callTool({ name: `${upstream}__get-sum`, arguments: { a: 19, b: 23 } });
        t.equal(text(sum), 'The sum of 19 and 23 is 42.');
        const echo = await client.callTool({
          name: `${upstream}__echo`,
          arguments: { message: 'hello there' },
        });
        t.equal(text(echo), 'Echo: hello there');
        t.same(toolCalls(upstream).slice(before), [
          { method: 'tools/call', tool: 'get-sum', arguments: { a: 19, b: 23 } },
          { method: 'tools/call', tool: 'echo', arguments: { message: 'hello there' } },
        ]);
        const { events } = await store.query({
          kind: 'call_result',
          server: upstream,
          order: 'desc',
          limit: 1,
        });
        t.match(events[0], { targetName: 'echo', upstreamServer: upstream, effect: 'allow' });
        t.same(events[0]?.result, { content: echo.content }, 'the audit holds the result returned');
      });

      t.test(
        `${upstream}: a denied call is -32001 with decision id and reasons, never forwarded`,
        async (t) => {
          const before = toolCalls(upstream).length;
          const err = await rpcError(
            client.callTool({
              name: `${upstream}__echo`,
              arguments: { message: 'card 4111 1111 1111 1111' },
            }),
          );
          t.equal(err.code, GatewayErrorCode.Denied);
          const data = err.data as { decision_id: string; reasons: string[] };
          t.match(data.decision_id, /^[0-9a-f-]{36}$/);
          t.same(data.reasons, [
            `argument /message holds credit_card, which may not be sent to external server ${upstream}`,
          ]);
          t.equal(toolCalls(upstream).length, before, 'the upstream received no tools/call');
          const { events } = await store.query({ decisionId: data.decision_id });
          t.same(
            events.map((e) => [e.kind, e.effect, e.targetName]),
            [['decision', 'deny', 'echo']],
            'one deny decision recorded, no call_result',
          );
        },
      );

      t.test(`${upstream}: a hidden tool answers exactly like a tool that does not exist`, async (t) => {
        const before = seenBy[upstream]().length;
        const eventsBefore = (await store.query({ order: 'desc', limit: 1 })).events[0]?.seq ?? 0;
        const hiddenHere = [AGENT_ONLY, 'get-annotated-message', ...(upstream === HTTP ? [STDIO_ONLY] : [])];
        for (const hidden of hiddenHere) {
          const h = await rpcError(client.callTool({ name: `${upstream}__${hidden}`, arguments: {} }));
          const u = await rpcError(client.callTool({ name: `${upstream}__no-such-tool`, arguments: {} }));
          t.equal(h.code, u.code, 'same code');
          t.equal(h.code, GatewayErrorCode.NotFound);
          t.equal(
            h.message.replace(hidden, 'X'),
            u.message.replace('no-such-tool', 'X'),
            'same message but the name',
          );
          t.same(h.data, u.data, 'same data');
          t.same(Object.keys(h).sort(), Object.keys(u).sort(), 'same fields');
        }
        t.same(
          seenBy[upstream]()
            .slice(before)
            .filter((s) => s.method !== 'tools/list'),
          [],
          'nothing but (possibly) a list refresh reached the upstream',
        );
        const after = await store.query({ after: eventsBefore });
        // Every attempt is on the record (hidden and unknown alike), as a denied decision and nothing more.
        t.equal(after.events.length, hiddenHere.length * 2, 'one audit row per attempt');
        t.ok(
          after.events.every((e) => e.kind === 'decision' && e.effect === 'deny'),
          'each attempt recorded as a denied decision, no call_result',
        );
      });
    }

    t.test("stdio: the gateway's environment does not reach the upstream", async (t) => {
      const r = await client.callTool({ name: `${STDIO}__get-env`, arguments: {} });
      const env = JSON.parse(text(r)) as Record<string, string>;
      t.equal(env.AIRLOCK_EVERYTHING_CONFIGURED, 'from-config', "the upstream's own configured env is there");
      t.equal(env.AIRLOCK_TEST_SECRET, undefined, 'the secret variable is not set upstream');
      t.notMatch(JSON.stringify(r), SECRET, 'the secret value appears nowhere in the result');
      // tap's process-info hook wraps child_process.spawn in this test process and adds its own
      // variables (NODE_OPTIONS, _TAPJS_PROCESSINFO_*) to every child: those are not the gateway's doing.
      const injectedByTap = (k: string) => k === 'NODE_OPTIONS' || k.startsWith('_TAPJS_PROCESSINFO_');
      const leaked = Object.keys(process.env).filter(
        (k) => !SAFE_ENV.includes(k) && !injectedByTap(k) && env[k] !== undefined,
      );
      t.same(leaked, [], 'no variable of the gateway beyond the minimal safe set');
    });

    t.test('HTTP: a call outliving the upstream timeout fails fast with -32004, audited', async (t) => {
      const started = performance.now();
      const err = await rpcError(
        client.callTool({
          name: `${HTTP}__trigger-long-running-operation`,
          arguments: { duration: 5, steps: 1 },
        }),
      );
      const elapsed = performance.now() - started;
      t.equal(err.code, GatewayErrorCode.UpstreamFailed);
      t.match(err.data, { upstream: HTTP });
      t.match(err.message, /timed out/i);
      t.ok(
        elapsed >= HTTP_TIMEOUT_MS - 50 && elapsed < HTTP_TIMEOUT_MS + 1500,
        `answered in ${elapsed.toFixed(0)} ms`,
      );
      t.match(
        toolCalls(HTTP).at(-1),
        { tool: 'trigger-long-running-operation' },
        'the upstream did get the call',
      );
      const id = (err.data as { decision_id: string }).decision_id;
      const { events } = await store.query({ decisionId: id });
      t.same(
        events.map((e) => [e.kind, e.effect]),
        [
          ['decision', 'allow'],
          ['call_result', null],
        ],
      );
      t.match(detail(events[1], 'error'), /timed out/i);
      // The connection survives a slow call.
      t.equal(
        text(await client.callTool({ name: `${HTTP}__echo`, arguments: { message: 'still here' } })),
        'Echo: still here',
      );
    });

    t.test(
      'stdio: the upstream crashing mid-call is -32004, audited; the next call starts it again',
      async (t) => {
        const pending = rpcError(
          client.callTool({
            name: `${STDIO}__trigger-long-running-operation`,
            arguments: { duration: 3, steps: 1 },
          }),
        );
        // Wait until the server holds the call, then kill it.
        for (let i = 0; i < 100 && toolCalls(STDIO).at(-1)?.tool !== 'trigger-long-running-operation'; i++)
          await new Promise((r) => setTimeout(r, 20));
        const killed = stdio.crash();
        const started = performance.now();
        const err = await pending;
        t.ok(performance.now() - started < 2000, 'the failure is reported at once, not at the timeout');
        t.equal(err.code, GatewayErrorCode.UpstreamFailed);
        t.match(err.data, { upstream: STDIO });
        const id = (err.data as { decision_id: string }).decision_id;
        const { events } = await store.query({ decisionId: id, kind: 'call_result' });
        t.equal(events.length, 1);
        t.match(events[0], { upstreamServer: STDIO, targetName: 'trigger-long-running-operation' });
        t.type(detail(events[0], 'error'), 'string');
        const r = await client.callTool({ name: `${STDIO}__get-sum`, arguments: { a: 1, b: 2 } });
        t.equal(text(r), 'The sum of 1 and 2 is 3.');
        t.not(stdio.pids().at(-1), killed, 'a new server process answered');
      },
    );

    t.test(
      'HTTP: the server dying is -32004 on the next call, audited; a restart on the same port heals',
      async (t) => {
        await http.crash();
        const started = performance.now();
        const err = await rpcError(client.callTool({ name: `${HTTP}__get-sum`, arguments: { a: 2, b: 2 } }));
        t.ok(performance.now() - started < HTTP_TIMEOUT_MS, 'a refused connection, not a timeout');
        t.equal(err.code, GatewayErrorCode.UpstreamFailed);
        t.match(err.data, { upstream: HTTP });
        const id = (err.data as { decision_id?: string }).decision_id;
        t.type(id, 'string', 'the call was decided and allowed before it failed');
        const { events } = await store.query({ kind: 'call_result', server: HTTP, order: 'desc', limit: 1 });
        t.match(events[0], { upstreamServer: HTTP, targetName: 'get-sum', decisionId: id });
        t.type(detail(events[0], 'error'), 'string');
        await http.restart();
        const r = await client.callTool({ name: `${HTTP}__get-sum`, arguments: { a: 2, b: 2 } });
        t.equal(text(r), 'The sum of 2 and 2 is 4.');
      },
    );

    t.test('HTTP: after a restart no call noticed, the next call opens a new session', async (t) => {
      await http.crash();
      await http.restart();
      const answer = await client
        .callTool({ name: `${HTTP}__get-sum`, arguments: { a: 3, b: 4 } })
        .then(text, (err: Error) => `error: ${err.message}`);
      t.equal(answer, 'The sum of 3 and 4 is 7.');
    });

    t.test('the audit chain over all of it verifies', async (t) => {
      const report = await store.verify();
      t.match(report, { ok: true });
    });
  });
}
