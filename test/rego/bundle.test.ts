import { gzipSync } from 'node:zlib';
import t from 'tap';
import { BundleError, mergeAt, readBundle, writeBundle } from '../../src/rego/bundle.js';

const sample = {
  manifest: {
    revision: 'r7',
    roots: ['airlock'],
    wasm: [{ entrypoint: 'airlock/decision', module: '/policy.wasm' }],
  },
  wasm: new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]),
  data: { airlock: { admins: ['alice'] } },
  sources: new Map([
    ['z.rego', 'package z\n'],
    ['a/b.rego', 'package a.b\n'],
  ]),
};

t.test('a bundle round-trips through write and read', async (t) => {
  const bytes = writeBundle(sample);
  const back = await readBundle(bytes);
  t.same(back.manifest, sample.manifest);
  t.same([...(back.wasm ?? [])], [...sample.wasm]);
  t.same(back.data, sample.data);
  t.same([...back.sources.keys()].sort(), ['/a/b.rego', '/z.rego']);
});

t.test('writing is deterministic', async (t) => {
  const a = writeBundle(sample);
  const b = writeBundle({ ...sample, sources: new Map([...sample.sources].reverse()) });
  t.ok(Buffer.compare(a, b) === 0, 'same inputs in another order give the same bytes');
});

t.test('bad bundles are refused with a precise error', async (t) => {
  await t.rejects(readBundle(new Uint8Array([1, 2, 3])), {
    name: 'BundleError',
    message: /not a gzipped tarball/,
  });
  const badManifest = writeBundle({
    ...sample,
    manifest: { revision: 'x', roots: 'all' as unknown as string[] },
  });
  await t.rejects(readBundle(badManifest), { message: /roots must be an array of strings/ });
  await t.rejects(readBundle(gzipSync(Buffer.alloc(10))), BundleError);
});

t.test('data files merge by directory and refuse collisions', async (t) => {
  const target: Record<string, unknown> = {};
  mergeAt(target, ['roles'], { admins: ['alice'] }, 'roles/data.json');
  mergeAt(target, [], { roles: { readers: ['bob'] } }, 'data.json');
  t.same(target, { roles: { admins: ['alice'], readers: ['bob'] } });
  t.throws(() => mergeAt(target, [], { roles: { admins: [] } }, 'other.json'), /defined twice/);
});
