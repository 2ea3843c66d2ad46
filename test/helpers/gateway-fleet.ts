// Real `airlock serve` processes with the MCP gateway, for the tests of what must hold across
// processes (a kill -9 under load, revocation seen by another replica): a real OpenID provider and a
// real MCP upstream in this process, the reference bundle built once, and each replica a child
// process (test/security/airlock-process.ts) on the database it is given — a PGlite directory or a
// fresh database on the Postgres server of DATABASE_URL.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import pg from 'pg';
import pino from 'pino';
import { z } from 'zod';
import { CLIENTS, startIdp, type TestIdp } from '../../scripts/demo/idp.js';
import { buildDevBundle } from '../../src/cli/commands/serve.js';
import { type AirlockProcess, runAirlock, startAirlockProcess } from '../security/airlock-process.js';
import { freshPgliteDir } from './pglite-dir.js';

export const RESOURCE = 'http://127.0.0.1/mcp';

/** Where a replica keeps its audit trail and live data. */
export interface FleetDatabase {
  name: 'pglite' | 'postgres';
  /** The serve configuration's `database` section. */
  config: Record<string, string>;
  /** The same database for `airlock audit …`. */
  flags: string[];
  drop(): Promise<void>;
}

export interface Replica extends AirlockProcess {
  /** The agents' listener (MCP, approvals). */
  gatewayUrl: string;
}

export interface Fleet {
  idp: TestIdp;
  /** `search_code` calls the upstream has answered. */
  upstreamCalls(): number;
  token(sub: string, groups: string[]): Promise<string>;
  /** An `airlock serve` on `db`; `extra` is merged into its configuration. */
  start(db: FleetDatabase, extra?: Record<string, unknown>): Promise<Replica>;
  /** An SDK client of the devops virtual server, as `sub` (group eng). */
  agent(replica: Replica, bearer: string): Promise<Client>;
  airlock(args: string[]): ReturnType<typeof runAirlock>;
  close(): Promise<void>;
}

/** An MCP upstream named github whose `search_code` answers after `delayMs`, naming its query. */
async function searchUpstream(delayMs: number) {
  let calls = 0;
  const build = () => {
    const s = new McpServer({ name: 'github', version: '1.0.0' });
    s.registerTool('search_code', { inputSchema: { query: z.string() } }, async ({ query }) => {
      await new Promise((r) => setTimeout(r, delayMs));
      calls++;
      return { content: [{ type: 'text', text: `found ${query}` }] };
    });
    return s;
  };
  const http = createServer(async (req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString()) : undefined;
    const server = build();
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: undefined,
      enableJsonResponse: true,
    });
    res.on('close', () => {
      void transport.close();
      void server.close();
    });
    await server.connect(transport);
    await transport.handleRequest(req, res, body);
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(http.address() as { port: number }).port}/mcp`,
    calls: () => calls,
    close: () =>
      new Promise<void>((r) => {
        http.closeAllConnections();
        http.close(() => r());
      }),
  };
}

export async function startFleet(options: { upstreamDelayMs?: number } = {}): Promise<Fleet> {
  const dir = mkdtempSync(join(tmpdir(), 'airlock-fleet-'));
  const bundle = join(dir, 'airlock.tar.gz');
  await buildDevBundle('policies', bundle, pino({ level: 'silent' }));
  const idp = await startIdp();
  const upstream = await searchUpstream(options.upstreamDelayMs ?? 5);
  const env = {
    DATABASE_URL: '', // the configuration names the database
    FLEET_GATEWAY_SECRET: CLIENTS.gateway.secret,
    FLEET_AGENT_SECRET: CLIENTS.agent.secret,
  };
  const replicas: Replica[] = [];
  const clients: Client[] = [];
  return {
    idp,
    upstreamCalls: () => upstream.calls(),
    token: (sub, groups) => idp.userToken({ sub, audience: RESOURCE, extra: { groups } }),
    async start(db, extra = {}) {
      const proc = await startAirlockProcess({
        config: {
          addr: '127.0.0.1:0',
          bundle: { source: bundle, poll_interval_ms: 0 },
          database: db.config,
          identity: {
            resource: RESOURCE,
            allow_insecure_http: true,
            issuers: [
              {
                issuer: idp.issuer,
                exchange_client: {
                  client_id: CLIENTS.gateway.id,
                  client_secret: { env: 'FLEET_GATEWAY_SECRET' },
                },
              },
            ],
            agents: { [CLIENTS.agent.id]: { client_secret: { env: 'FLEET_AGENT_SECRET' } } },
            upstreams: {
              github: { mode: 'on_behalf_of', audience: 'https://api.github.example', scopes: ['repo:read'] },
            },
          },
          gateway: {
            addr: '127.0.0.1:0',
            upstreams: [{ name: 'github', transport: 'http', url: upstream.url, timeout_ms: 10_000 }],
            virtual_servers: [{ name: 'devops', upstreams: ['github'] }],
          },
          ...extra,
        },
        env,
        timeoutMs: 120_000,
      });
      const replica = { ...proc, gatewayUrl: String(proc.listening.gateway_address) };
      replicas.push(replica);
      return replica;
    },
    async agent(replica, bearer) {
      const client = new Client({ name: 'devops-agent', version: '1.0.0' });
      await client.connect(
        new StreamableHTTPClientTransport(new URL(`${replica.gatewayUrl}/mcp/devops`), {
          requestInit: { headers: { authorization: `Bearer ${bearer}` } },
        }),
      );
      clients.push(client);
      return client;
    },
    airlock: (args) => runAirlock(args, { DATABASE_URL: '' }),
    async close() {
      for (const c of clients) await c.close().catch(() => {});
      for (const r of replicas) await r.stop(5000);
      await upstream.close();
      await idp.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A PGlite directory of its own. */
export async function pgliteDatabase(): Promise<FleetDatabase> {
  const dir = mkdtempSync(join(tmpdir(), 'airlock-fleet-db-'));
  const dataDir = await freshPgliteDir(join(dir, 'data'));
  return {
    name: 'pglite',
    config: { data_dir: dataDir },
    flags: ['--data-dir', dataDir],
    async drop() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A fresh database on the server of DATABASE_URL, or why there is none. */
export async function postgresDatabase(label: string): Promise<FleetDatabase | string> {
  const url = process.env.DATABASE_URL;
  if (!url) return 'DATABASE_URL is not set';
  const admin = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  admin.on('error', () => {});
  try {
    await admin.connect();
  } catch (err) {
    return `Postgres is unreachable (${(err as Error).message})`;
  }
  const name = `airlock_${label}_${randomBytes(5).toString('hex')}`;
  await admin.query(`CREATE DATABASE ${name}`);
  const u = new URL(url);
  u.pathname = `/${name}`;
  return {
    name: 'postgres',
    config: { url: u.toString() },
    flags: ['--database-url', u.toString()],
    async drop() {
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
    },
  };
}
