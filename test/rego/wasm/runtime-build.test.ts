// The committed runtime (src/rego/wasm/runtime/runtime-wasm.ts) is what its sources compile to.
import { execFileSync } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

t.test('rebuilding the runtime yields identical bytes', async (t) => {
  const out = execFileSync(process.execPath, ['scripts/build-runtime.mjs', '--check'], {
    cwd: root,
    encoding: 'utf8',
  });
  t.match(out, /up to date/);
});
