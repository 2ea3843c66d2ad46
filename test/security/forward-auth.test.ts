// Forward-auth behind real proxies: nginx (auth_request) and Caddy (forward_auth) in front of a
// counting upstream, asking a real `airlock serve` process (identity from a real OpenID provider,
// the reference airlock/http policy) at /v1/authz/http. Nothing reaches the upstream unless Airlock
// answered 200; with Airlock down the proxies answer 5xx. The proxy configurations are read from
// docs/api.md ("Forward-auth for proxies"), with the addresses filled in.
import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { type AddressInfo, createConnection, createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import t from 'tap';
import { startIdp } from '../../scripts/demo/idp.js';
import { buildDevBundle } from '../../src/cli/commands/serve.js';
import { freshPgliteDir } from '../helpers/pglite-dir.js';
import { type AirlockProcess, startAirlockProcess } from './airlock-process.js';

const NGINX = '/usr/sbin/nginx';
const CADDY = '/usr/bin/caddy';
const haveNginx = existsSync(NGINX);
const haveCaddy = existsSync(CADDY);
t.setTimeout(1_200_000);
if (!haveNginx || !haveCaddy) {
  t.comment(
    `NOTICE: ${[!haveNginx && NGINX, !haveCaddy && CADDY].filter(Boolean).join(' and ')} not installed: those proxy tests are skipped (.ci/run installs nginx and caddy)`,
  );
}
if (!haveNginx && !haveCaddy) {
  t.plan(0, `${NGINX} and ${CADDY} are not installed (.ci/run installs them)`);
  process.exit(0);
}

const RESOURCE = 'http://127.0.0.1/app';
const ADMIN_TOKEN = 'forward-auth-admin-token-1f0c';
const dir = mkdtempSync(join(tmpdir(), 'airlock-fwdauth-'));
chmodSync(dir, 0o755);
const children: ChildProcess[] = [];
t.teardown(async () => {
  // SIGTERM first: nginx's master stops its workers (a SIGKILLed master would orphan them).
  for (const c of children) {
    if (c.exitCode !== null || c.signalCode !== null) continue;
    const exited = new Promise((resolve) => c.once('exit', resolve));
    c.kill('SIGTERM');
    const timer = setTimeout(() => c.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
  rmSync(dir, { recursive: true, force: true });
});

async function freePort(): Promise<number> {
  const s = createNetServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

/** Resolves once something accepts connections on the port (the proxy has started). */
async function listening(port: number, proc: ChildProcess, output: () => string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (proc.exitCode !== null) throw new Error(`proxy exited with ${proc.exitCode}:\n${output()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const c = createConnection({ port, host: '127.0.0.1' }, () => {
        c.end();
        resolve(true);
      });
      c.on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`nothing listens on ${port}:\n${output()}`);
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env) {
  const proc = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(proc);
  let out = '';
  proc.stdout?.on('data', (c: Buffer) => {
    out += c.toString();
  });
  proc.stderr?.on('data', (c: Buffer) => {
    out += c.toString();
  });
  return { proc, output: () => out };
}

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A raw HTTP request: the path goes on the wire exactly as given. */
function send(port: number, path: string, headers: Record<string, string> = {}, method = 'GET') {
  return new Promise<Answer>((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, method, headers }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => {
        body += c.toString();
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

// The upstream application: counts what reaches it.
const hits: { path: string; headers: IncomingHttpHeaders }[] = [];
const upstream = createServer((req, res) => {
  hits.push({ path: req.url ?? '', headers: req.headers });
  req.resume();
  res.writeHead(200, { 'content-type': 'text/plain' }).end('upstream says hello');
});
await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
const upstreamPort = (upstream.address() as AddressInfo).port;
t.teardown(() => new Promise<void>((resolve) => upstream.close(() => resolve())));

const idp = await startIdp();
t.teardown(() => idp.close());
const token = (sub: string, groups: string[]) =>
  idp.userToken({ sub, audience: RESOURCE, extra: { groups } });
const alice = await token('alice', ['eng']);
const bob = await token('bob', ['sre']);
const mallory = await token('mallory', ['eng']);

// The reference bundle, built once for this file (the same entrypoints serve builds in dev mode).
const bundle = join(dir, 'airlock.tar.gz');
await buildDevBundle('policies', bundle, pino({ level: 'silent' }));
const airlock: AirlockProcess = await startAirlockProcess({
  config: {
    addr: '127.0.0.1:0',
    bundle: { source: bundle },
    database: { data_dir: await freshPgliteDir(join(dir, 'data')) },
    identity: { resource: RESOURCE, allow_insecure_http: true, issuers: [{ issuer: idp.issuer }] },
  },
  // Its own embedded database, even when the suite runs with DATABASE_URL set (live data would persist).
  env: { AIRLOCK_ADMIN_TOKEN: ADMIN_TOKEN, AIRLOCK_ADMIN_GROUPS: 'security', DATABASE_URL: '' },
  timeoutMs: 540_000,
});
t.teardown(() => airlock.stop());
const airlockPort = Number(new URL(airlock.url).port);

// The proxy configurations are taken from docs/api.md, with the addresses replaced.
const DOC = readFileSync(new URL('../../docs/api.md', import.meta.url), 'utf8');
function fromDocs(heading: string, lang: string, replace: Record<string, string>): string {
  const section = DOC.indexOf(`\n### ${heading}\n`);
  const fence = `\`\`\`${lang}\n`;
  const start = DOC.indexOf(fence, section) + fence.length;
  let text = DOC.slice(start, DOC.indexOf('\n```', start));
  if (section < 0 || start < fence.length)
    throw new Error(`docs/api.md has no ${lang} block under ${heading}`);
  for (const [from, to] of Object.entries(replace)) {
    if (!text.includes(from)) throw new Error(`docs/api.md ${heading} block no longer contains ${from}`);
    text = text.replaceAll(from, to);
  }
  return text;
}

// nginx, as docs/api.md configures it.
const nginxPort = haveNginx ? await freePort() : 0;
if (haveNginx) {
  const prefix = join(dir, 'nginx');
  mkdirSync(prefix);
  writeFileSync(
    join(prefix, 'nginx.conf'),
    `worker_processes 1;
pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log info;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path ${prefix}/client_body;
  proxy_temp_path ${prefix}/proxy;
  fastcgi_temp_path ${prefix}/fastcgi;
  uwsgi_temp_path ${prefix}/uwsgi;
  scgi_temp_path ${prefix}/scgi;
  server {
    listen 127.0.0.1:${nginxPort};
${fromDocs('nginx', 'nginx', { 'http://app;': `http://127.0.0.1:${upstreamPort};`, '127.0.0.1:8181': `127.0.0.1:${airlockPort}` })}
  }
}
`,
  );
  const n = run(NGINX, [
    '-p',
    prefix,
    '-e',
    join(prefix, 'error.log'),
    '-c',
    join(prefix, 'nginx.conf'),
    '-g',
    'daemon off;',
  ]);
  await listening(nginxPort, n.proc, n.output);
}

// Caddy, as docs/api.md configures it.
const caddyPort = haveCaddy ? await freePort() : 0;
if (haveCaddy) {
  const home = join(dir, 'caddy');
  mkdirSync(home);
  writeFileSync(
    join(home, 'Caddyfile'),
    `{
	admin off
	auto_https off
}

${fromDocs('Caddy', 'caddyfile', {
  'app.corp.example {': `http://127.0.0.1:${caddyPort} {`,
  '127.0.0.1:8181': `127.0.0.1:${airlockPort}`,
  'app:8080': `127.0.0.1:${upstreamPort}`,
})}
`,
  );
  const c = run(CADDY, ['run', '--config', join(home, 'Caddyfile'), '--adapter', 'caddyfile'], {
    ...process.env,
    HOME: home,
    XDG_DATA_HOME: join(home, 'data'),
    XDG_CONFIG_HOME: join(home, 'config'),
  });
  await listening(caddyPort, c.proc, c.output);
}

const proxies = [
  ...(haveNginx ? [{ name: 'nginx', port: nginxPort }] : []),
  ...(haveCaddy ? [{ name: 'caddy', port: caddyPort }] : []),
];
const bearer = (tok: string) => ({ authorization: `Bearer ${tok}` });

for (const { name, port } of proxies) {
  t.test(`${name}: no token is 401 with a Bearer challenge, and the upstream is not reached`, async (t) => {
    const before = hits.length;
    const res = await send(port, '/docs/start');
    t.equal(res.status, 401);
    t.match(res.headers['www-authenticate'], /^Bearer /);
    const bad = await send(port, '/docs/start', { authorization: 'Bearer forged.token.value' });
    t.equal(bad.status, 401);
    t.equal(hits.length, before, 'nothing reached the upstream');
  });

  t.test(
    `${name}: an allowed user reaches the upstream, which learns who it is from the policy`,
    async (t) => {
      const before = hits.length;
      const res = await send(port, '/docs/start?page=2', { ...bearer(alice), 'x-airlock-user': 'root' });
      t.equal(res.status, 200, res.body);
      t.equal(res.body, 'upstream says hello');
      t.equal(hits.length, before + 1, 'the upstream was reached once');
      t.equal(hits.at(-1)?.path, '/docs/start?page=2');
      t.equal(hits.at(-1)?.headers['x-airlock-user'], 'alice', "the policy's header, not the client's");
    },
  );

  t.test(`${name}: a denied user gets 403 and the upstream is not reached`, async (t) => {
    const before = hits.length;
    const res = await send(port, '/admin/users', bearer(alice));
    t.equal(res.status, 403);
    const write = await send(port, '/docs/start', bearer(alice), 'POST');
    t.equal(write.status, 403, 'the root route is read-only');
    t.equal(hits.length, before, 'nothing reached the upstream');
    const admin = await send(port, '/admin/users', bearer(bob), 'DELETE');
    t.equal(admin.status, 200, 'an sre reaches /admin with any method');
    t.equal(hits.length, before + 1);
  });

  t.test(`${name}: a path the upstream could read another way is never let through`, async (t) => {
    const before = hits.length;
    for (const path of [
      '/docs/../admin/users',
      '/docs/%2e%2e/admin/users',
      '//admin/users',
      '/docs%2F..%2Fadmin',
    ]) {
      const res = await send(port, path, bearer(alice));
      t.not(res.status, 200, path);
      t.ok(res.status >= 400, `${path}: ${res.status}`);
    }
    t.equal(hits.length, before, 'nothing reached the upstream');
  });
}

if (haveCaddy)
  t.test('caddy: a client-supplied X-Original-URI cannot stand in for the real path', async (t) => {
    const before = hits.length;
    const res = await send(caddyPort, '/admin/users', {
      ...bearer(alice),
      'x-original-uri': '/docs/start',
      'x-original-method': 'GET',
    });
    t.equal(res.status, 400);
    t.match(JSON.parse(res.body), { type: /bad-original-request$/ });
    const denied = await send(caddyPort, '/admin/users', bearer(alice));
    t.match(JSON.parse(denied.body), { status: 403, reasons: ['user alice may not reach /admin/users'] });
    t.equal(hits.length, before, 'nothing reached the upstream');
  });

t.test('a revocation written live takes effect at the next request', async (t) => {
  for (const { port } of proxies) t.equal((await send(port, '/docs/start', bearer(mallory))).status, 200);
  const put = await fetch(`${airlock.url}/v1/data/revocations/users/mallory`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ reason: 'left the company' }),
  });
  t.equal(put.status, 204);
  const before = hits.length;
  for (const { name, port } of proxies)
    t.equal((await send(port, '/docs/start', bearer(mallory))).status, 403, name);
  t.equal(hits.length, before, 'nothing reached the upstream');
});

t.test('with Airlock down the proxies answer 5xx and the upstream is not reached', async (t) => {
  await airlock.stop();
  const before = hits.length;
  for (const { name, port } of proxies) {
    const res = await send(port, '/docs/start', bearer(alice));
    t.ok(res.status >= 500 && res.status < 600, `${name}: ${res.status}`);
  }
  t.equal(hits.length, before, 'nothing reached the upstream');
});
