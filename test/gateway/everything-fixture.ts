// The real @modelcontextprotocol/server-everything behind Airlock: started over stdio (by the
// gateway, through a small recording shim) and over Streamable HTTP (a child process we own, with a
// recording proxy in front), the reference policies with data granting a lab agent some of its
// tools, an audit store on PGlite or Postgres, and the gateway mounted on loopback.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server as HttpServer, request } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import Fastify from 'fastify';
import pg from 'pg';
import { AuditStore } from '../../src/audit/index.js';
import { loadPolicyTree } from '../../src/cli/policy-files.js';
import { buildBundle, Engine } from '../../src/engine/index.js';
import { gatewayPlugin, parseGatewayConfig } from '../../src/gateway/index.js';
import { freshPgliteStore } from '../helpers/pglite-dir.js';

/** The installed server-everything entry point (`node <it> stdio|streamableHttp`). */
export const EVERYTHING_BIN = fileURLToPath(
  new URL('../../node_modules/@modelcontextprotocol/server-everything/dist/index.js', import.meta.url),
);
const POLICIES = fileURLToPath(new URL('../../policies', import.meta.url));

/** Upstream names as the gateway and the policy data know them. */
export const STDIO = 'everything';
export const HTTP = 'everything-http';
export const VIRTUAL = 'lab';

/** What the lab group may call on either upstream; everything else server-everything offers is hidden. */
export const GRANTED = ['echo', 'get-sum', 'trigger-long-running-operation'];
/** Granted on the stdio upstream only (the environment test runs there): hidden on the HTTP one. */
export const STDIO_ONLY = 'get-env';
/** Granted to the agent but not to the user's group: hidden by least privilege. */
export const AGENT_ONLY = 'get-tiny-image';

export const LAB_PRINCIPAL = {
  user: { sub: 'lee', email: 'lee@corp.example', groups: ['lab'], claims: {} },
  agent: { id: 'lab-agent', client_id: 'lab-agent', claims: {} },
  model: { provider: 'anthropic', name: 'claude-sonnet-4', attested: false },
};

/** The reference policies, with data registering both upstreams (external) and the lab agent and group. */
export async function everythingEngine(): Promise<Engine> {
  const tree = await loadPolicyTree([POLICIES]);
  const data = structuredClone(tree.data) as Record<string, Record<string, unknown>>;
  const grants = { [STDIO]: [...GRANTED, STDIO_ONLY], [HTTP]: GRANTED };
  data.agents!['lab-agent'] = {
    description: 'Exercises the MCP reference server.',
    virtual_server: VIRTUAL,
    tools: { [STDIO]: [...GRANTED, STDIO_ONLY, AGENT_ONLY], [HTTP]: [...GRANTED, AGENT_ONLY] },
    resources: [],
    prompts: [],
  };
  data.groups!.lab = { tools: grants };
  data.servers![STDIO] = { external: true };
  data.servers![HTTP] = { external: true };
  const built = buildBundle({ ...tree, data }, { entrypoints: ['airlock/decision'] });
  const engine = new Engine();
  await engine.activate(built.bundle, 'everything-test');
  return engine;
}

/**
 * The gateway configuration for the two upstreams behind one virtual server. The only place that
 * spells the configuration's field names.
 */
export function everythingConfig(o: {
  stdio: { command: string; args: string[]; env: Record<string, string>; timeoutMs: number };
  httpUrl: string;
  httpTimeoutMs: number;
}) {
  return parseGatewayConfig({
    upstreams: [
      {
        name: STDIO,
        transport: 'stdio',
        command: o.stdio.command,
        args: o.stdio.args,
        env: o.stdio.env,
        timeout_ms: o.stdio.timeoutMs,
      },
      { name: HTTP, transport: 'http', url: o.httpUrl, timeout_ms: o.httpTimeoutMs },
    ],
    virtual_servers: [{ name: VIRTUAL, upstreams: [STDIO, HTTP] }],
  });
}

export async function freePort(): Promise<number> {
  const s = createNetServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as { port: number };
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** A JSON-RPC message an upstream received: method, and for tools/call the tool and its arguments. */
export interface Seen {
  method: string;
  tool?: string;
  arguments?: unknown;
}

function seenOf(message: unknown): Seen | undefined {
  const m = message as { method?: unknown; params?: { name?: unknown; arguments?: unknown } } | null;
  if (typeof m?.method !== 'string') return undefined;
  if (m.method !== 'tools/call') return { method: m.method };
  return { method: m.method, tool: String(m.params?.name), arguments: m.params?.arguments };
}

// ---------------------------------------------------------------------------------------- stdio

/**
 * Run by node as the stdio upstream's command: starts server-everything over stdio with this
 * process's environment (exactly what the gateway gave it), copies every line it receives into a
 * log file, and notes the server's pid there so a test can kill the server itself.
 */
const STDIO_SHIM = `
const { spawn } = require('node:child_process');
const { appendFileSync } = require('node:fs');
const [log, bin] = process.argv.slice(1);
const child = spawn(process.execPath, [bin, 'stdio'], { stdio: ['pipe', 'pipe', 'ignore'] });
appendFileSync(log, JSON.stringify({ started: child.pid }) + '\\n');
let pending = '';
process.stdin.on('data', (chunk) => {
  child.stdin.write(chunk);
  pending += chunk;
  let end;
  while ((end = pending.indexOf('\\n')) >= 0) {
    appendFileSync(log, pending.slice(0, end) + '\\n');
    pending = pending.slice(end + 1);
  }
});
process.stdin.on('end', () => child.stdin.end());
child.stdin.on('error', () => {});
child.stdout.pipe(process.stdout);
child.on('exit', (code) => process.exit(code ?? 1));
process.on('SIGTERM', () => child.kill('SIGTERM'));
`;

/** The stdio upstream's command line and what it recorded. */
export class StdioEverything {
  constructor(readonly log: string) {
    writeFileSync(log, '');
  }

  get command(): { command: string; args: string[] } {
    return { command: process.execPath, args: ['-e', STDIO_SHIM, this.log, EVERYTHING_BIN] };
  }

  #lines(): Record<string, unknown>[] {
    return readFileSync(this.log, 'utf8')
      .split('\n')
      .filter((l) => l.length > 0)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  }

  /** Messages received by the server so far, in order. */
  seen(): Seen[] {
    return this.#lines()
      .map(seenOf)
      .filter((s): s is Seen => s !== undefined);
  }

  /** Pids of every server-everything process the gateway started. */
  pids(): number[] {
    return this.#lines()
      .filter((l) => typeof l.started === 'number')
      .map((l) => l.started as number);
  }

  /** Kills the newest server process with SIGKILL (a crash, no goodbye). */
  crash(): number {
    const pid = this.pids().at(-1);
    if (pid === undefined) throw new Error('the stdio upstream was never started');
    process.kill(pid, 'SIGKILL');
    return pid;
  }
}

// ----------------------------------------------------------------------------------------- HTTP

/**
 * server-everything over Streamable HTTP as a child process on a fixed port, with a recording proxy
 * in front. When the server is down the proxy drops the client's connection, as a dead server would.
 */
export class HttpEverything {
  readonly seen: Seen[] = [];
  #child: ChildProcess | undefined;
  #proxy: HttpServer | undefined;
  #proxyPort = 0;

  private constructor(readonly port: number) {}

  static async start(): Promise<HttpEverything> {
    const h = new HttpEverything(await freePort());
    await h.#startServer();
    await h.#startProxy();
    return h;
  }

  /** The URL the gateway uses (the proxy's). */
  get url(): string {
    return `http://127.0.0.1:${this.#proxyPort}/mcp`;
  }

  /** The server's own URL, bypassing the proxy. */
  get directUrl(): string {
    return `http://127.0.0.1:${this.port}/mcp`;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  async #startServer(): Promise<void> {
    const child = spawn(process.execPath, [EVERYTHING_BIN, 'streamableHttp'], {
      env: { PATH: process.env.PATH ?? '', PORT: String(this.port) },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    this.#child = child;
    await new Promise<void>((resolve, reject) => {
      let text = '';
      const timer = setTimeout(
        () => reject(new Error(`server-everything did not listen on ${this.port}`)),
        10_000,
      );
      child.stderr!.on('data', (d: Buffer) => {
        text += d.toString();
        if (text.includes(`listening on port ${this.port}`)) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`server-everything exited (${code}) before listening: ${text.slice(-500)}`));
      });
    });
    child.stderr!.resume();
  }

  async #startProxy(): Promise<void> {
    this.#proxy = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        if (body.length > 0) {
          try {
            const parsed = JSON.parse(body.toString()) as unknown;
            for (const m of Array.isArray(parsed) ? parsed : [parsed]) {
              const s = seenOf(m);
              if (s) this.seen.push(s);
            }
          } catch {
            // not JSON: the server will answer it
          }
        }
        const upstream = request(
          { host: '127.0.0.1', port: this.port, method: req.method, path: req.url, headers: req.headers },
          (answer) => {
            res.writeHead(answer.statusCode ?? 502, answer.headers);
            answer.pipe(res);
            answer.on('error', () => res.destroy());
            answer.on('aborted', () => res.destroy());
          },
        );
        upstream.on('error', () => res.destroy());
        res.on('close', () => upstream.destroy());
        upstream.end(body);
      });
    });
    await new Promise<void>((r) => this.#proxy!.listen(0, '127.0.0.1', r));
    this.#proxyPort = (this.#proxy.address() as { port: number }).port;
  }

  /** Kills the server process with SIGKILL and waits for it to be gone. */
  async crash(): Promise<void> {
    const child = this.#child;
    this.#child = undefined;
    if (!child || child.exitCode !== null) return;
    const gone = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await gone;
  }

  /** Starts a fresh server process on the same port. */
  restart(): Promise<void> {
    return this.#startServer();
  }

  async close(): Promise<void> {
    await this.crash();
    const proxy = this.#proxy;
    if (proxy)
      await new Promise<void>((r) => {
        proxy.closeAllConnections();
        proxy.close(() => r());
      });
  }
}

// ---------------------------------------------------------------------------------------- audit

export type AuditBackend = 'pglite' | 'postgres';

/** PGlite always; Postgres too when DATABASE_URL is set. */
export function auditBackends(): AuditBackend[] {
  return process.env.DATABASE_URL ? ['pglite', 'postgres'] : ['pglite'];
}

/** A fresh audit store: in-memory PGlite, or a Postgres database of its own dropped by `drop`. */
export async function openAudit(
  backend: AuditBackend,
): Promise<{ store: AuditStore; drop: () => Promise<void> }> {
  const tag = randomBytes(6).toString('hex');
  if (backend === 'pglite') {
    return freshPgliteStore();
  }
  const admin = new URL(process.env.DATABASE_URL!);
  const name = `airlock_everything_${tag}`;
  const run = async (sql: string) => {
    const c = new pg.Client({ connectionString: admin.toString() });
    await c.connect();
    try {
      await c.query(sql);
    } finally {
      await c.end();
    }
  };
  await run(`CREATE DATABASE ${name}`);
  const url = new URL(admin);
  url.pathname = `/${name}`;
  const store = await AuditStore.open({ databaseUrl: url.toString() });
  return {
    store,
    drop: async () => {
      await store.close();
      await run(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}

// -------------------------------------------------------------------------------------- gateway

/** Airlock serving `config` on loopback with the test principal header trusted; `base` + /mcp/lab. */
export async function startGateway(
  config: ReturnType<typeof everythingConfig>,
  engine: Engine,
  audit: AuditStore,
): Promise<{ base: string; close: () => Promise<void> }> {
  const app = Fastify();
  await app.register(gatewayPlugin, { config, engine, audit, trustTestPrincipalHeader: true });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as { port: number };
  return { base: `http://127.0.0.1:${port}`, close: () => app.close() };
}
