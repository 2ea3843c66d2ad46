// `airlock serve`: configuration (file, environment, flags; schema-checked) and start-up.
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { startServer } from '../../src/cli/commands/serve.js';
import { adminTokens, resolveServeConfig } from '../../src/cli/serve-config.js';
import { FIXTURE_DIR, fixtureBundle } from '../engine/fixture.js';
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
    database: { data_dir: join(dir, 'db1') },
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
    database: { data_dir: join(dir, 'db2') },
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
