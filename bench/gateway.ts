// tools/call latency and throughput through Airlock's MCP gateway versus straight to the same
// upstream, in one run: the reference policies decide every call and the audit trail records it
// (PGlite in a temporary directory, or Postgres in a fresh database when $DATABASE_URL is set).
// The upstream and the gateway each run in a child process, so the clients measuring them do not
// share their event loop. Callers are identified by the test principal header: token
// verification is NOT in the measured path.
//
//   npm run bench:gateway             BENCH_GATEWAY_N=500 sequential calls per path (after warm-up)
//                                     BENCH_GATEWAY_CONCURRENCY=10 clients for the calls/s run
//                                     BENCH_GATEWAY_AUDIT_PATH=transaction: the audit writer's old path
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import pg from 'pg';
import { z } from 'zod';

const N = Number(process.env.BENCH_GATEWAY_N ?? 500);
const CONCURRENCY = Number(process.env.BENCH_GATEWAY_CONCURRENCY ?? 10);
const WARMUP = Math.min(200, Math.max(20, Math.floor(N / 5)));

/** The upstream and tool measured: one the reference policies allow the support agent and user. */
const UPSTREAM = 'crm';
const VIRTUAL = 'support';
const TOOL = 'lookup_customer';
const ARGS = { id: 'C-1042' };
const PRINCIPAL = {
  user: { sub: 'sam', email: 'sam@corp.example', groups: ['support'], claims: {} },
  agent: { id: 'support-agent', client_id: 'support-agent', claims: {} },
  model: { provider: 'anthropic', name: 'claude-sonnet-4', attested: false },
};

// ----------------------------------------------------------------------------------- upstream

/** A CRM-like MCP server over Streamable HTTP with sessions (one McpServer per session). */
async function serveUpstream(): Promise<void> {
  const sessions = new Map<string, StreamableHTTPServerTransport>();
  const session = () => {
    const server = new McpServer({ name: 'crm', version: '1.0.0' });
    server.registerTool(
      TOOL,
      { inputSchema: { id: z.string() }, annotations: { readOnlyHint: true } },
      async ({ id }) => ({
        content: [
          {
            type: 'text',
            text: `customer ${id}: Acme Logistics GmbH, plan enterprise (annual), 12 open tickets, account owner R. Okafor, renewal due 2027-03-01`,
          },
        ],
      }),
    );
    const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomBytes(16).toString('hex'),
      enableJsonResponse: true,
      onsessioninitialized: (id) => {
        sessions.set(id, transport);
      },
    });
    transport.onclose = () => {
      if (transport.sessionId) sessions.delete(transport.sessionId);
    };
    return { server, transport };
  };
  const http = createServer(async (req: IncomingMessage, res) => {
    const id = req.headers['mcp-session-id'];
    const existing = typeof id === 'string' ? sessions.get(id) : undefined;
    if (existing) return existing.handleRequest(req, res);
    if (id !== undefined) {
      res.writeHead(404).end();
      return;
    }
    const { server, transport } = session();
    await server.connect(transport);
    await transport.handleRequest(req, res);
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  process.send?.({ url: `http://127.0.0.1:${(http.address() as { port: number }).port}/mcp` });
}

// ------------------------------------------------------------------------------------ gateway

/** Per-call work inside the gateway, summed while measuring. */
interface Split {
  calls: number;
  evaluations: number;
  evaluateMs: number;
  records: number;
  recordMs: number;
  upstreamMs: number;
}

/** The gateway configuration: the one place that spells its field names. */
function gatewayConfig(upstreamUrl: string) {
  return {
    upstreams: [{ name: UPSTREAM, transport: 'http', url: upstreamUrl, timeout_ms: 10_000 }],
    virtual_servers: [{ name: VIRTUAL, upstreams: [UPSTREAM] }],
  };
}

async function serveGateway(): Promise<void> {
  // The upstream starts meanwhile; its URL arrives once it listens.
  const upstreamUrl = new Promise<string>((resolve) => {
    const onMessage = (m: { op: string; url?: string }) => {
      if (m.op !== 'upstream' || !m.url) return;
      process.off('message', onMessage);
      resolve(m.url);
    };
    process.on('message', onMessage);
  });
  const Fastify = (await import('fastify')).default;
  const { loadPolicyTree } = await import('../src/cli/policy-files.js');
  const { buildBundle, Engine } = await import('../src/engine/index.js');
  const { AuditStore } = await import('../src/audit/index.js');
  const { gatewayPlugin, parseGatewayConfig } = await import('../src/gateway/index.js');

  const tree = await loadPolicyTree(['policies']);
  const built = buildBundle(tree, { entrypoints: ['airlock/decision'], revision: 'bench' });
  const engine = new Engine();
  await engine.activate(built.bundle, 'policies/');

  const target = await auditTarget();
  // BENCH_GATEWAY_AUDIT_PATH=transaction: the audit writer's old four-round-trip path, for comparison.
  const auditPath = process.env.BENCH_GATEWAY_AUDIT_PATH === 'transaction' ? 'transaction' : 'function';
  const store = await AuditStore.open({ ...target.options, writer: { path: auditPath } });

  const split: Split = { calls: 0, evaluations: 0, evaluateMs: 0, records: 0, recordMs: 0, upstreamMs: 0 };
  // Policy evaluations and audit commits timed from outside the gateway, by wrapping what it is given.
  const evaluate = engine.evaluate.bind(engine);
  engine.evaluate = (async (...args: Parameters<typeof evaluate>) => {
    const t0 = performance.now();
    try {
      return await evaluate(...args);
    } finally {
      split.evaluateMs += performance.now() - t0;
      split.evaluations++;
    }
  }) as typeof engine.evaluate;
  const audit = {
    record: async (event: Parameters<typeof store.record>[0]) => {
      const t0 = performance.now();
      try {
        return await store.record(event);
      } finally {
        split.recordMs += performance.now() - t0;
        split.records++;
        if (event.kind === 'call_result') {
          split.calls++;
          split.upstreamMs += (event.timings as { upstream_ms?: number } | undefined)?.upstream_ms ?? 0;
        }
      }
    },
  };

  const app = Fastify();
  await app.register(gatewayPlugin, {
    config: parseGatewayConfig(gatewayConfig(await upstreamUrl)),
    engine,
    audit,
    trustTestPrincipalHeader: true,
  });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  process.on('message', async (m: { op: string }) => {
    if (m.op === 'reset')
      Object.assign(split, {
        calls: 0,
        evaluations: 0,
        evaluateMs: 0,
        records: 0,
        recordMs: 0,
        upstreamMs: 0,
      });
    if (m.op === 'split') process.send?.({ split });
    if (m.op === 'stop') {
      await app.close();
      await store.close();
      await target.cleanup();
      process.send?.({ stopped: true });
    }
  });
  process.send?.({ url, audit: `${target.label}, audit append path: ${auditPath}` });
}

/** PGlite in a temporary directory; with $DATABASE_URL, a fresh Postgres database (dropped after). */
async function auditTarget(): Promise<{
  options: { dataDir: string } | { databaseUrl: string };
  label: string;
  cleanup: () => Promise<void>;
}> {
  const url = process.env.DATABASE_URL;
  if (!url) {
    const dir = mkdtempSync(join(tmpdir(), 'airlock-bench-gateway-'));
    return {
      options: { dataDir: dir },
      label: `PGlite (embedded, ${dir})`,
      cleanup: async () => rmSync(dir, { recursive: true, force: true }),
    };
  }
  const name = `airlock_bench_gateway_${randomBytes(5).toString('hex')}`;
  const admin = async (sql: string) => {
    const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
    await c.connect();
    try {
      await c.query(sql);
    } finally {
      await c.end();
    }
  };
  await admin(`CREATE DATABASE ${name}`);
  const db = new URL(url);
  db.pathname = `/${name}`;
  return {
    options: { databaseUrl: db.toString() },
    label: `Postgres (${db.host}${db.pathname}, fresh database)`,
    cleanup: () => admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
  };
}

// ------------------------------------------------------------------------------- measurement

type Path = 'direct' | 'gateway';

function child(role: 'upstream' | 'gateway') {
  const proc = fork(new URL(import.meta.url).pathname, [], {
    env: { ...process.env, BENCH_GATEWAY_ROLE: role },
    execArgv: process.execArgv,
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const next = <T>(key: string) =>
    new Promise<T>((resolve, reject) => {
      const onMessage = (m: Record<string, unknown>) => {
        if (!(key in m)) return;
        proc.off('message', onMessage);
        resolve(m as T);
      };
      proc.on('message', onMessage);
      proc.once('exit', (code) => reject(new Error(`${role} process exited with ${code}`)));
    });
  return { proc, next };
}

async function connect(path: Path, url: string): Promise<Client> {
  const client = new Client({ name: `bench-${path}`, version: '1.0.0' });
  const headers: Record<string, string> =
    path === 'gateway' ? { 'x-airlock-test-principal': JSON.stringify(PRINCIPAL) } : {};
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } }));
  return client;
}

async function call(client: Client, path: Path): Promise<number> {
  const t0 = performance.now();
  const r = await client.callTool({
    name: path === 'gateway' ? `${UPSTREAM}__${TOOL}` : TOOL,
    arguments: ARGS,
  });
  const ms = performance.now() - t0;
  if (r.isError) throw new Error(`${path}: the tool answered an error: ${JSON.stringify(r.content)}`);
  return ms;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

interface Row {
  path: Path;
  p50: number;
  p99: number;
  mean: number;
  perSecond: number;
}

/** `CONCURRENCY` clients sharing N calls as fast as each gets answers; calls/s. */
async function throughput(path: Path, url: string): Promise<number> {
  const clients = await Promise.all(Array.from({ length: CONCURRENCY }, () => connect(path, url)));
  await Promise.all(clients.map((c) => call(c, path)));
  let left = N;
  const t0 = performance.now();
  await Promise.all(
    clients.map(async (c) => {
      while (left-- > 0) await call(c, path);
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  await Promise.all(clients.map((c) => c.close()));
  return N / seconds;
}

async function main(): Promise<void> {
  const began = performance.now();
  const upstream = child('upstream');
  const gateway = child('gateway');
  const { url: upstreamUrl } = await upstream.next<{ url: string }>('url');
  gateway.proc.send({ op: 'upstream', url: upstreamUrl });
  const started = await gateway.next<{ url: string; audit: string }>('url');
  const gatewayUrl = `${started.url}/mcp/${VIRTUAL}`;
  const urls: Record<Path, string> = { direct: upstreamUrl, gateway: gatewayUrl };
  const setupSeconds = (performance.now() - began) / 1000;

  console.log(
    `tools/call ${UPSTREAM}/${TOOL}, SDK Client over Streamable HTTP, loopback; ${N} sequential calls per path after ${WARMUP} warm-up (interleaved), then ${N} calls shared by ${CONCURRENCY} concurrent clients per path`,
  );
  console.log(
    `machine: ${cpus().length} cores, load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')} at start`,
  );
  console.log(`policy: reference policies (policies/), audit ON: ${started.audit}`);
  console.log(
    'identity: test principal header (x-airlock-test-principal); token verification is NOT in this path',
  );

  const clients = {
    direct: await connect('direct', urls.direct),
    gateway: await connect('gateway', urls.gateway),
  };
  for (let i = 0; i < WARMUP; i++) {
    await call(clients.direct, 'direct');
    await call(clients.gateway, 'gateway');
  }
  // Interleaved, so that drift (JIT, GC, the audit table growing) weighs on both paths alike.
  gateway.proc.send({ op: 'reset' });
  const samples: Record<Path, number[]> = { direct: [], gateway: [] };
  for (let i = 0; i < N; i++) {
    samples.direct.push(await call(clients.direct, 'direct'));
    samples.gateway.push(await call(clients.gateway, 'gateway'));
  }
  gateway.proc.send({ op: 'split' });
  const { split } = await gateway.next<{ split: Split }>('split');
  await clients.direct.close();
  await clients.gateway.close();

  const rows: Row[] = [];
  for (const path of ['direct', 'gateway'] as const) {
    const sorted = [...samples[path]].sort((a, b) => a - b);
    const perSecond = await throughput(path, urls[path]);
    rows.push({
      path,
      p50: percentile(sorted, 50),
      p99: percentile(sorted, 99),
      mean: sorted.reduce((a, b) => a + b, 0) / sorted.length,
      perSecond,
    });
  }

  const header = ['path', 'p50 ms', 'p99 ms', 'mean ms', `calls/s (${CONCURRENCY} clients)`];
  const lines = rows.map((r) => [
    r.path === 'direct' ? 'direct to upstream' : 'through Airlock',
    r.p50.toFixed(2),
    r.p99.toFixed(2),
    r.mean.toFixed(2),
    r.perSecond.toFixed(0),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const fmt = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  console.log();
  console.log(fmt(header));
  for (const l of lines) console.log(fmt(l));
  console.log();
  const [d, g] = rows as [Row, Row];
  console.log(
    `overhead p50 ×${(g.p50 / d.p50).toFixed(2)} (gateway ${g.p50.toFixed(2)} ms vs direct ${d.p50.toFixed(2)} ms)`,
  );
  console.log(
    `overhead p99 ×${(g.p99 / d.p99).toFixed(2)} (gateway ${g.p99.toFixed(2)} ms vs direct ${d.p99.toFixed(2)} ms)`,
  );
  console.log(
    `throughput ×${(g.perSecond / d.perSecond).toFixed(2)} (gateway ${g.perSecond.toFixed(0)} calls/s vs direct ${d.perSecond.toFixed(0)} calls/s)`,
  );
  if (split.calls > 0) {
    const per = (x: number) => (x / split.calls).toFixed(3);
    console.log(
      `inside the gateway, per call (mean of ${split.calls} sequential calls): policy ${per(split.evaluateMs)} ms over ${(split.evaluations / split.calls).toFixed(1)} evaluations, audit ${per(split.recordMs)} ms over ${(split.records / split.calls).toFixed(1)} commits, upstream ${per(split.upstreamMs)} ms`,
    );
  }

  console.log(
    `took ${((performance.now() - began) / 1000).toFixed(1)} s (${setupSeconds.toFixed(1)} s starting the upstream and the gateway)`,
  );
  gateway.proc.send({ op: 'stop' });
  await gateway.next('stopped');
  gateway.proc.kill();
  upstream.proc.kill();
}

const role = process.env.BENCH_GATEWAY_ROLE;
if (role === 'upstream') await serveUpstream();
else if (role === 'gateway') await serveGateway();
else await main();
