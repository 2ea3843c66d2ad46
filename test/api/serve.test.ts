// `airlock serve`: configuration (file, environment, flags; schema-checked) and start-up.
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import t from 'tap';
import { AuditStore } from '../../src/audit/index.js';
import { isLoopback, startServer } from '../../src/cli/commands/serve.js';
import { adminTokens, resolveServeConfig } from '../../src/cli/serve-config.js';
import { FIXTURE_DIR, fixtureBundle } from '../engine/fixture.js';
import { freshPgliteDir } from '../helpers/pglite-dir.js';
import { call } from './harness.js';

const dir = mkdtempSync(join(tmpdir(), 'airlock-serve-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

t.test('configuration: file < environment < flags, validated', async (t) => {
  const file = join(dir, 'airlock.yaml');
  writeFileSync(
    file,
    'addr: 127.0.0.1:9000\nbundle:\n  source: a.tar.gz\n  poll_interval_ms: 500\ndecision_log: background\n',
  );
  const c = await resolveServeConfig({ config: file }, {});
  t.same(c, {
    addr: '127.0.0.1:9000',
    bundle: { source: 'a.tar.gz', poll_interval_ms: 500 },
    decision_log: 'background',
  });
  const env = await resolveServeConfig(
    { config: file },
    { AIRLOCK_ADDR: '127.0.0.1:9001', AIRLOCK_BUNDLE: 'b.tar.gz' },
  );
  t.equal(env.addr, '127.0.0.1:9001');
  t.equal(env.bundle?.source, 'b.tar.gz');
  t.equal(env.bundle?.poll_interval_ms, 500);
  const flags = await resolveServeConfig(
    { config: file, addr: '127.0.0.1:9002' },
    { AIRLOCK_ADDR: '127.0.0.1:9001' },
  );
  t.equal(flags.addr, '127.0.0.1:9002');
  const db = await resolveServeConfig({}, { DATABASE_URL: 'postgres://u@h/db' });
  t.equal(db.database?.url, 'postgres://u@h/db');

  writeFileSync(file, 'addr: 8181\nbundel: {}\n');
  await t.rejects(
    resolveServeConfig({ config: file }, {}),
    /must match pattern|must NOT have additional properties/,
  );
  writeFileSync(file, 'limits: {body_bytes: 10}\n');
  await t.rejects(resolveServeConfig({ config: file }, {}), /body_bytes must be >= 1024/);
  writeFileSync(file, 'addr: [unclosed\n');
  await t.rejects(resolveServeConfig({ config: file }, {}), /invalid YAML/);
  await t.rejects(
    resolveServeConfig({ decisionLog: 'sometimes' }, {}),
    /decision_log must be equal to one of the allowed values/,
  );
  await t.rejects(resolveServeConfig({ config: join(dir, 'missing.yaml') }, {}), /cannot read/);

  const tokens = adminTokens(await resolveServeConfig({}, { AIRLOCK_ADMIN_TOKEN: 's3cret' }), {
    AIRLOCK_ADMIN_TOKEN: 's3cret',
  });
  t.same(tokens, [{ token: 's3cret', sub: 'admin', groups: ['admins'] }]);
});

t.test('serves a bundle file; with a verification key, an unsigned bundle is refused', async (t) => {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const pub = join(dir, 'bundle-key.pem');
  writeFileSync(pub, publicKey.export({ type: 'spki', format: 'pem' }));
  const priv = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const bundle = join(dir, 'served.tar.gz');
  writeFileSync(bundle, await fixtureBundle('unsigned'));
  const server = await startServer({
    addr: '127.0.0.1:0',
    log_level: 'silent',
    bundle: { source: bundle, poll_interval_ms: 50, verification: { key_file: pub, algorithm: 'ES256' } },
    database: { data_dir: await freshPgliteDir(join(dir, 'db1')) },
  });
  t.teardown(() => server.close());
  const health = await fetch(`${server.url}/health`);
  t.equal(health.status, 503, 'no bundle: not healthy');
  t.match(
    ((await health.json()) as { last_load_failure: { message: string } }).last_load_failure.message,
    /not signed/,
  );
  const denied = await fetch(`${server.url}/v1/data/airlock/decision`, {
    method: 'POST',
    body: JSON.stringify({ input: call('alice') }),
  });
  t.equal(denied.status, 503, 'decisions fail closed');

  writeFileSync(bundle, await fixtureBundle('signed-1', { signing: { key: priv, algorithm: 'ES256' } }));
  await new Promise<void>((resolve) => server.engine.once('activated', () => resolve()));
  const ok = await fetch(`${server.url}/v1/data/airlock/decision`, {
    method: 'POST',
    body: JSON.stringify({ input: call('alice') }),
  });
  t.equal(ok.status, 200);
  t.same(((await ok.json()) as { result: unknown }).result, {
    effect: 'allow',
    reasons: [],
    revision: 'signed-1',
  });
});

t.test('with no bundle file, builds one from the policies directory', async (t) => {
  const bundle = join(dir, 'bundles', 'airlock.tar.gz');
  const server = await startServer({
    addr: '127.0.0.1:0',
    log_level: 'silent',
    bundle: { source: bundle, policies: FIXTURE_DIR, poll_interval_ms: 0 },
    database: { data_dir: await freshPgliteDir(join(dir, 'db2')) },
  });
  t.teardown(() => server.close());
  t.ok(existsSync(bundle), 'the bundle was written');
  const r = await fetch(`${server.url}/v1/data/airlock/decision`, {
    method: 'POST',
    body: JSON.stringify({ input: call('alice') }),
  });
  t.equal(((await r.json()) as { result: { effect: string } }).result.effect, 'allow');
  await t.rejects(
    startServer({
      log_level: 'silent',
      bundle: { source: join(dir, 'nope.tar.gz'), policies: join(dir, 'no-policies') },
    }),
    /does not exist, and there is no .* directory/,
  );
});

t.test('no API credentials: served open on loopback only, every caller recorded as anonymous', async (t) => {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s)) });
  const bundle = join(dir, 'bundles', 'airlock.tar.gz'); // built by the test above
  const dataDir = await freshPgliteDir(join(dir, 'db-open'));
  const server = await startServer(
    { addr: '127.0.0.1:0', bundle: { source: bundle, poll_interval_ms: 0 }, database: { data_dir: dataDir } },
    logger,
  );
  const r = await fetch(`${server.url}/v1/data/airlock/decision`, {
    method: 'POST',
    body: JSON.stringify({ input: call('bob') }),
  });
  t.equal(r.status, 200, "the README's quick start works without a credential on loopback");
  const { decision_id } = (await r.json()) as { decision_id: string };
  t.ok(
    lines.some((l) => l.level === 40 && /the API has no authentication/.test(String(l.msg))),
    'a warning says the API is unauthenticated',
  );
  t.match(
    lines.find((l) => / listening$/.test(String(l.msg))),
    { api_access: 'unauthenticated' },
  );
  await server.close();
  const store = await AuditStore.open({ dataDir });
  t.teardown(() => store.close());
  const [event] = (await store.query({ decisionId: decision_id })).events;
  t.equal(event?.userSub, 'bob', 'the claimed user');
  t.equal(event?.requestedBy, 'anonymous', 'asked by an unauthenticated caller');
  t.match(event?.details, { requested_via: 'loopback' });
  t.ok((await store.verify()).ok, 'the chain verifies');

  t.ok(isLoopback('127.0.0.1') && isLoopback('::1') && isLoopback('localhost') && isLoopback('127.1.2.3'));
  t.notOk(isLoopback('0.0.0.0') || isLoopback('') || isLoopback('::') || isLoopback('10.0.0.1'));
  await t.rejects(
    startServer({ addr: '0.0.0.0:0', log_level: 'silent', bundle: { source: bundle } }),
    /addr 0\.0\.0\.0:0 is not a loopback address and the API has no authentication: .*api\.allow_unauthenticated: true/,
  );
});

t.test('an API credential but no authz entrypoint in the bundle: every request is refused', async (t) => {
  const bundle = join(dir, 'bundles', 'airlock.tar.gz'); // the fixture policies define no airlock/system/authz
  const closed = await startServer({
    addr: '127.0.0.1:0',
    log_level: 'silent',
    bundle: { source: bundle, poll_interval_ms: 0 },
    database: { data_dir: join(dir, 'db-closed') },
    api: { clients: [{ sub: 'root', groups: ['admins'], env: 'AIRLOCK_TEST_ROOT_TOKEN' }] },
  }).catch((err) => err as Error);
  t.match(closed, { message: /API client root: variable AIRLOCK_TEST_ROOT_TOKEN is not set/ });
  process.env.AIRLOCK_TEST_ROOT_TOKEN = 'root-secret-for-tests';
  t.teardown(() => delete process.env.AIRLOCK_TEST_ROOT_TOKEN);
  const guarded = await startServer({
    addr: '127.0.0.1:0',
    log_level: 'silent',
    bundle: { source: bundle, poll_interval_ms: 0 },
    database: { data_dir: join(dir, 'db-closed') },
    api: { clients: [{ sub: 'root', groups: ['admins'], env: 'AIRLOCK_TEST_ROOT_TOKEN' }] },
  });
  t.teardown(() => guarded.close());
  const anon = await fetch(`${guarded.url}/v1/data`);
  t.equal(anon.status, 401);
  const root = await fetch(`${guarded.url}/v1/data`, {
    headers: { authorization: 'Bearer root-secret-for-tests' },
  });
  t.equal(root.status, 403, 'no airlock/system/authz: refused (fail closed)');
  t.equal((await fetch(`${guarded.url}/health`)).status, 200, 'health stays open');
});

t.test('airlock build --signing-key writes a bundle the engine verifies', async (t) => {
  const { main } = await import('../../src/cli/main.js');
  const { bundleFromFiles, filesFromTarball } = await import('../../src/engine/index.js');
  const { readFileSync } = await import('node:fs');
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const keyFile = join(dir, 'signing.pem');
  writeFileSync(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }));
  const out = join(dir, 'signed.tar.gz');
  const errors: string[] = [];
  const code = await main(
    [
      'build',
      FIXTURE_DIR,
      '-e',
      'airlock/decision',
      '-o',
      out,
      '--revision',
      'b1',
      '--signing-key',
      keyFile,
      '--signing-alg',
      'ES256',
      '--signing-key-id',
      'ci',
    ],
    { out: () => {}, err: (m) => errors.push(m) },
  );
  t.equal(code, 0, errors.join(''));
  const files = await filesFromTarball(readFileSync(out));
  const pub = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const b = await bundleFromFiles(files, { key: pub, algorithm: 'ES256', keyId: 'ci' });
  t.equal(b.manifest.revision, 'b1');
  t.equal(b.signed, true);
});
