import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import {
  bundleFromFiles,
  fileDigest,
  filesFromDirectory,
  filesFromTarball,
  verifyBundleFiles,
} from '../../src/engine/index.js';
import { fixtureBundle, repack } from './fixture.js';

const rsa = () => {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    pub: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    priv: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
};

t.test('a tarball bundle reads into manifest, module, entrypoints and data', async (t) => {
  const files = await filesFromTarball(await fixtureBundle('r7'));
  t.ok(files.has('/.manifest'));
  t.ok(files.has('/policy.wasm'));
  const b = await bundleFromFiles(files);
  t.equal(b.manifest.revision, 'r7');
  t.same(b.entrypoints, [
    'airlock/decision',
    'airlock/admin',
    'airlock/echo',
    'airlock/division',
    'broken/always',
  ]);
  t.same((b.data.fixture as { revision: string }).revision, 'r7');
  t.equal(b.signed, false);
});

t.test('a bundle directory on disk reads the same as its tarball', async (t) => {
  const files = await filesFromTarball(await fixtureBundle('dir-1'));
  const dir = mkdtempSync(join(tmpdir(), 'airlock-bundle-dir-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  for (const [path, body] of files) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), body);
  }
  writeFileSync(join(dir, '.DS_Store'), 'junk'); // hidden files are skipped
  const fromDir = await filesFromDirectory(dir);
  t.same([...fromDir.keys()].sort(), [...files.keys()].sort());
  const b = await bundleFromFiles(fromDir);
  t.equal(b.manifest.revision, 'dir-1');
});

t.test('manifest validation', async (t) => {
  const base = await filesFromTarball(await fixtureBundle('m'));
  const withManifest = (m: unknown) => {
    const f = new Map(base);
    f.set('/.manifest', Buffer.from(JSON.stringify(m)));
    return f;
  };
  const wasm = [{ entrypoint: 'airlock/decision', module: '/policy.wasm' }];
  await t.rejects(
    bundleFromFiles(withManifest({ revision: 3, roots: ['airlock'], wasm })),
    /revision must be a string/,
  );
  await t.rejects(
    bundleFromFiles(withManifest({ revision: 'x', roots: 'airlock', wasm })),
    /roots must be an array/,
  );
  await t.rejects(
    bundleFromFiles(withManifest({ revision: 'x', roots: ['airlock', 'airlock/sub', 'fixture'], wasm })),
    /roots "airlock" and "airlock\/sub" overlap/,
  );
  await t.rejects(
    bundleFromFiles(withManifest({ revision: 'x', roots: ['airlock', 'fixture'] })),
    /declares no wasm module/,
  );
  await t.rejects(
    bundleFromFiles(
      withManifest({
        revision: 'x',
        roots: ['airlock', 'fixture'],
        wasm: [{ entrypoint: 'a', module: '/other.wasm' }],
      }),
    ),
    /names \/other.wasm, which the bundle does not hold/,
  );
  await t.rejects(
    bundleFromFiles(withManifest({ revision: 'x', roots: ['airlock'], wasm })),
    /data at fixture is outside the bundle's roots/,
  );
  const noManifest = new Map(base);
  noManifest.delete('/.manifest');
  await t.rejects(bundleFromFiles(noManifest), /no \.manifest/);
  const badWasm = new Map(base);
  badWasm.set('/policy.wasm', Buffer.from('not wasm at all'));
  await t.rejects(bundleFromFiles(badWasm), /not a WebAssembly module/);
});

t.test('tarball limits and bad archives', async (t) => {
  await t.rejects(filesFromTarball(Buffer.from('plain text')), /not a gzipped tarball/);
  await t.rejects(filesFromTarball(await fixtureBundle('big'), { maxBytes: 1024 }), /more than 1024 bytes/);
  await t.rejects(filesFromTarball(await fixtureBundle('many'), { maxFiles: 2 }), /more than 2 files/);
});

t.test('signatures: signed bundles verify, unsigned and tampered ones are refused', async (t) => {
  const key = rsa();
  const other = rsa();
  const signed = await filesFromTarball(
    await fixtureBundle('s1', { signing: { key: key.priv, keyId: 'k1' } }),
  );
  t.ok(signed.has('/.signatures.json'));
  const b = await bundleFromFiles(signed, { key: key.pub, keyId: 'k1' });
  t.equal(b.signed, true);

  const unsigned = await filesFromTarball(await fixtureBundle('s1'));
  await t.rejects(bundleFromFiles(unsigned, { key: key.pub }), /not signed/);
  t.ok(await bundleFromFiles(unsigned), 'without a key, unsigned bundles load');

  await t.rejects(bundleFromFiles(signed, { key: other.pub }), /signature does not verify/);
  await t.rejects(
    bundleFromFiles(signed, { key: key.pub, keyId: 'k2' }),
    /signed with key "k1", expected "k2"/,
  );

  const tampered = new Map(signed);
  tampered.set(
    '/data.json',
    Buffer.from('{"fixture": {"allowed_tools": {"devops-agent": ["delete_repo"]}}}'),
  );
  await t.rejects(bundleFromFiles(tampered, { key: key.pub }), /\/data.json does not match its signed hash/);

  const extra = new Map(signed);
  extra.set('/airlock/data.json', Buffer.from('{}'));
  await t.rejects(bundleFromFiles(extra, { key: key.pub }), /not covered by the signature/);

  const missing = new Map(signed);
  missing.delete('/data.json');
  await t.rejects(verifyBundleFiles(missing, { key: key.pub }), /missing from the bundle: \/data.json/);

  // Re-packed by another tool (different white space in JSON): canonical hashing still verifies.
  const reformatted = new Map(signed);
  reformatted.set(
    '/.manifest',
    Buffer.from(JSON.stringify(JSON.parse(signed.get('/.manifest')!.toString()))),
  );
  await t.resolves(bundleFromFiles(await filesFromTarball(await repack(reformatted)), { key: key.pub }));
});

t.test('HMAC signatures', async (t) => {
  const files = await filesFromTarball(
    await fixtureBundle('h', { signing: { key: 'shared-secret', algorithm: 'HS256' } }),
  );
  await t.resolves(bundleFromFiles(files, { key: 'shared-secret', algorithm: 'HS256' }));
  await t.rejects(bundleFromFiles(files, { key: 'wrong-secret', algorithm: 'HS256' }), /does not verify/);
});

t.test('JSON files hash over their canonical form, other files over their bytes', async (t) => {
  t.equal(
    fileDigest('/data.json', Buffer.from('{"b":1, "a":2}')),
    fileDigest('/data.json', Buffer.from('{"a":2,"b":1}')),
  );
  t.not(fileDigest('/x.rego', Buffer.from('a ')), fileDigest('/x.rego', Buffer.from('a')));
});
