// The whole product for the console tests: a real OpenID provider with a browser sign-in client and
// its own login page, `airlock serve` with the reference policies, a gateway in front of an MCP
// upstream (delete_repo needs approval by group security), and the console built as `prepare` builds it.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { buildConsole } from '../../scripts/build-console.mjs';
import { CLIENTS, startIdp } from '../../scripts/demo/idp.js';
import { startServer } from '../../src/cli/commands/serve.js';
import { loadPolicyTree } from '../../src/cli/policy-files.js';
import { validateServeConfig } from '../../src/cli/serve-config.js';
import { buildBundle } from '../../src/engine/index.js';
import { githubUpstream } from '../gateway/harness.js';
import { freshPgliteDir } from '../helpers/pglite-dir.js';

export const RESOURCE = 'http://127.0.0.1/mcp';
export const CONSOLE_CLIENT = { id: 'airlock-console', secret: 'console-secret-0123456789' };

export const ACCOUNTS = {
  alice: { groups: ['eng'], email: 'alice@corp.example', name: 'Alice' },
  bob: { groups: ['security'], email: 'bob@corp.example', name: 'Bob' },
  // An engineer on the security team: may make the call and may answer approvals, not her own.
  sasha: { groups: ['eng', 'security'], email: 'sasha@corp.example', name: 'Sasha' },
  // An administrator: edits live data (revocations) through airlock/admin.
  ada: { groups: ['admins'], email: 'ada@corp.example', name: 'Ada' },
};

export async function startConsoleStack(options: { session?: { idle_seconds?: number; max?: number } } = {}) {
  await buildConsole();
  const dir = mkdtempSync(join(tmpdir(), 'airlock-console-'));
  const idp = await startIdp({
    browserClient: {
      ...CONSOLE_CLIENT,
      // Any port: the provider treats this loopback URI as a native client's (RFC 8252 §7.3).
      redirectUri: 'http://127.0.0.1/console/callback',
    },
    accounts: ACCOUNTS,
  });
  const github = await githubUpstream();
  process.env.AIRLOCK_TEST_GATEWAY_SECRET = CLIENTS.gateway.secret;
  process.env.AIRLOCK_TEST_AGENT_SECRET = CLIENTS.agent.secret;
  process.env.AIRLOCK_TEST_CONSOLE_SECRET = CONSOLE_CLIENT.secret;
  const server = await startServer(
    validateServeConfig(
      {
        addr: '127.0.0.1:0',
        log_level: 'silent',
        bundle: { source: join(dir, 'airlock.tar.gz'), policies: 'policies' },
        database: { data_dir: await freshPgliteDir(join(dir, 'data')) },
        identity: {
          resource: RESOURCE,
          allow_insecure_http: true,
          issuers: [
            {
              issuer: idp.issuer,
              exchange_client: {
                client_id: CLIENTS.gateway.id,
                client_secret: { env: 'AIRLOCK_TEST_GATEWAY_SECRET' },
              },
            },
          ],
          agents: { [CLIENTS.agent.id]: { client_secret: { env: 'AIRLOCK_TEST_AGENT_SECRET' } } },
          upstreams: {
            github: {
              mode: 'on_behalf_of',
              audience: 'https://api.github.example',
              scopes: ['repo:read', 'repo:write', 'issues:write', 'repo:admin'],
            },
          },
        },
        gateway: {
          addr: '127.0.0.1:0',
          upstreams: [{ name: 'github', transport: 'http', url: github.url }],
          virtual_servers: [{ name: 'devops', upstreams: ['github'] }],
        },
        console: {
          client_id: CONSOLE_CLIENT.id,
          client_secret: { env: 'AIRLOCK_TEST_CONSOLE_SECRET' },
          scopes: ['openid', 'email', 'profile', 'groups'],
          ...(options.session ? { session: options.session } : {}),
        },
      },
      'test',
    ),
  );
  const url = server.gatewayUrl!;
  const agents: Client[] = [];
  /** An MCP SDK client for `sub` through the gateway (devops-agent, a stated model). */
  const agentFor = async (sub: keyof typeof ACCOUNTS) => {
    const token = await idp.userToken({ sub, audience: RESOURCE, extra: { groups: ACCOUNTS[sub].groups } });
    const client = new Client({ name: 'devops-agent', version: '1.0.0' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${url}/mcp/devops`), {
        requestInit: {
          headers: { authorization: `Bearer ${token}`, 'x-airlock-model': 'anthropic/claude-sonnet-4' },
        },
      }),
    );
    agents.push(client);
    return client;
  };
  return {
    url,
    idp,
    /** The bundle file `airlock serve` polls (2 s). */
    bundlePath: join(dir, 'airlock.tar.gz'),
    github,
    server,
    agentFor,
    deletes: () => github.seen.filter((s) => s.method === 'tools/call').length,
    async close() {
      await Promise.allSettled(agents.map((a) => a.close()));
      await server.close();
      await github.close();
      await idp.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Signs in through the provider's real login page without a browser: follows the redirects by hand,
 * carrying cookies per origin, posting the login and consent forms. Returns the console cookie header.
 */
export async function signInWithoutBrowser(consoleUrl: string, sub: string): Promise<string> {
  const jars = new Map<string, Map<string, string>>();
  const jar = (u: URL) => {
    let j = jars.get(u.origin);
    if (!j) jars.set(u.origin, (j = new Map()));
    return j;
  };
  const send = async (url: URL, init: RequestInit = {}) => {
    const j = jar(url);
    const res = await fetch(url, {
      ...init,
      redirect: 'manual',
      headers: {
        ...(init.headers as Record<string, string>),
        cookie: [...j].map(([k, v]) => `${k}=${v}`).join('; '),
      },
    });
    for (const c of res.headers.getSetCookie()) {
      const [pair = ''] = c.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      if (/max-age=0/i.test(c) || value === '') j.delete(name);
      else j.set(name, value);
    }
    return res;
  };
  let url = new URL('/console/login', consoleUrl);
  let res = await send(url);
  for (let hops = 0; hops < 20; hops++) {
    if (res.status >= 300 && res.status < 400) {
      url = new URL(res.headers.get('location')!, url);
      res = await send(url);
      continue;
    }
    if (url.origin === new URL(consoleUrl).origin) break;
    const html = await res.text();
    const action = /action="([^"]+)"/.exec(html)?.[1];
    if (!action) throw new Error(`no form on ${url.pathname}: ${html.slice(0, 200)}`);
    const prompt = /name="prompt" value="(\w+)"/.exec(html)?.[1] ?? 'consent';
    const body = new URLSearchParams({
      prompt,
      ...(prompt === 'login' ? { login: sub, password: 'x' } : {}),
    });
    url = new URL(action.replace(/&amp;/g, '&'), url);
    res = await send(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body,
    });
  }
  const j = jar(new URL(consoleUrl));
  return [...j].map(([k, v]) => `${k}=${v}`).join('; ');
}

/** The part of policies/data.json the candidates change. */
export interface PolicyData {
  groups: Record<string, { tools: Record<string, string[]> }>;
}

/**
 * A candidate bundle tarball built with Airlock's own compiler (as `airlock build` builds it) from a
 * copy of the reference policies whose data.json `change` edits.
 */
export async function candidateTarball(
  change: (data: PolicyData) => void,
  revision: string,
): Promise<Buffer> {
  const dir = mkdtempSync(join(tmpdir(), 'airlock-candidate-'));
  try {
    cpSync('policies', dir, { recursive: true });
    const file = join(dir, 'data.json');
    const data = JSON.parse(readFileSync(file, 'utf8'));
    change(data);
    writeFileSync(file, JSON.stringify(data, null, 2));
    const tree = await loadPolicyTree([dir]);
    return buildBundle(tree, { entrypoints: ['airlock/decision', 'airlock/approve'], revision }).tarball;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The candidate the what-if tests upload: engineers may no longer list repositories on github. */
export const noRepoListingForEng = (data: PolicyData) => {
  data.groups.eng!.tools.github = ['delete_repo', 'create_issue'];
};
