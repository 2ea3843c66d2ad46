// Everything the demo stands up before the story: a temporary directory (bundle + embedded PGlite
// data), the reference policies built with the demo's data, a loopback OpenID provider (with the
// console's sign-in client and accounts), the two upstream MCP servers, and the Airlock configuration
// tying them together.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadPolicyTree } from '../../src/cli/policy-files.js';
import type { ServeConfig } from '../../src/cli/serve-config.js';
import { buildBundle } from '../../src/engine/index.js';
import { GITHUB_AUDIENCE } from './github-upstream.js';
import { CLIENTS } from './idp.js';

export const POLICIES = fileURLToPath(new URL('../../policies', import.meta.url));
export const OPS_DB_SERVER = fileURLToPath(new URL('./ops-db-server.mjs', import.meta.url));

/** Tools each upstream really has (the demo's own servers), to point out what policy hides. */
export const UPSTREAM_TOOLS: Record<string, string[]> = {
  github: ['list_repos', 'get_file', 'create_issue', 'delete_repo', 'transfer_repo'],
  'ops-db': ['query', 'list_tables', 'drop_table'],
};

/** Environment variables the gateway reads its OAuth client secrets from (the demo IdP's test clients). */
export const SECRET_ENV = {
  gateway: 'AIRLOCK_DEMO_GATEWAY_SECRET',
  agent: 'AIRLOCK_DEMO_AGENT_SECRET',
  console: 'AIRLOCK_DEMO_CONSOLE_SECRET',
} as const;

/** The console's sign-in client at the demo IdP (a throwaway secret, loopback only). */
export const CONSOLE_CLIENT = { id: 'airlock-console', secret: 'console-secret-demo-0123456789' };

/**
 * The people who can sign in to the console at the demo IdP's own login page (which checks no
 * password): bob answers approvals (group security), alice sees only her own parked calls.
 */
export const DEMO_ACCOUNTS = {
  alice: { groups: ['eng'], email: 'alice@corp.example', name: 'Alice' },
  bob: { groups: ['security'], email: 'bob@corp.example', name: 'Bob' },
};

/** The console's redirect URI on the agents' listener (registered at the IdP as well). */
export const consoleRedirectUri = (port: number) => `http://127.0.0.1:${port}/console/callback`;

export async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'airlock-demo-'));
}

/** A loopback port that was free a moment ago (Airlock's URL must be known before it starts: it is the token audience). */
export async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

/**
 * The reference policies with the demo's data: the stdio ops-db server takes no delegated token (a
 * stdio child has no request headers to carry one), so its credential mode is `none`.
 */
export async function writeDemoBundle(dir: string): Promise<string> {
  const tree = await loadPolicyTree([POLICIES]);
  const data = structuredClone(tree.data) as { servers: Record<string, Record<string, unknown>> };
  data.servers['ops-db'] = { ...data.servers['ops-db'], credentials: { mode: 'none', scopes: [] } };
  const built = buildBundle(
    { ...tree, data },
    {
      entrypoints: [
        'airlock/decision',
        'airlock/admin',
        'airlock/approve',
        'airlock/system/authz',
        'airlock/console',
      ],
      revision: 'demo',
    },
  );
  const file = join(dir, 'demo-bundle.tar.gz');
  await writeFile(file, built.tarball);
  return file;
}

export interface DemoConfigInput {
  port: number;
  bundle: string;
  dataDir: string;
  issuer: string;
  githubUrl: string;
}

/** The serve configuration (the same shape as an `airlock serve --config` file). */
export function demoConfig(c: DemoConfigInput): ServeConfig {
  const url = `http://127.0.0.1:${c.port}`;
  return {
    // The decision/admin API listens apart (any free loopback port); agents and approvers use c.port.
    addr: '127.0.0.1:0',
    log_level: 'silent',
    bundle: { source: c.bundle, poll_interval_ms: 0 },
    database: { data_dir: c.dataDir },
    decision_log: 'sync',
    identity: {
      resource: `${url}/mcp`,
      resource_name: 'Airlock demo',
      allow_insecure_http: true,
      issuers: [
        {
          issuer: c.issuer,
          exchange_client: { client_id: CLIENTS.gateway.id, client_secret: { env: SECRET_ENV.gateway } },
        },
      ],
      agents: { [CLIENTS.agent.id]: { client_secret: { env: SECRET_ENV.agent } } },
      upstreams: {
        // The scopes Airlock may request for github: every scope the policy's data names for its tools.
        github: {
          mode: 'on_behalf_of',
          audience: GITHUB_AUDIENCE,
          scopes: ['repo:read', 'repo:write', 'issues:write', 'repo:admin'],
        },
        'ops-db': { mode: 'none' },
      },
    },
    gateway: {
      addr: `127.0.0.1:${c.port}`,
      upstreams: [
        { name: 'github', transport: 'http', url: c.githubUrl, timeout_ms: 10_000 },
        {
          name: 'ops-db',
          transport: 'stdio',
          command: process.execPath,
          args: [OPS_DB_SERVER],
          timeout_ms: 10_000,
        },
      ],
      virtual_servers: [{ name: 'devops', upstreams: ['github', 'ops-db'] }],
      limits: { concurrent_calls_per_agent: 16 },
      approvals: { hold_seconds: 0 },
    },
    // The console at /console/ on the agents' listener, signing people in at the demo IdP.
    console: {
      client_id: CONSOLE_CLIENT.id,
      client_secret: { env: SECRET_ENV.console },
      redirect_uri: consoleRedirectUri(c.port),
      scopes: ['openid', 'email', 'profile', 'groups'],
    },
  };
}
