// The child-process helper runs the compiled CLI only when no dist/ file is older than its source
// (test/security/airlock-process.ts): a stale build would test other code than the tree holds.
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { staleOutput } from './airlock-process.js';

t.test('a missing or older output is named; a current build passes', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'airlock-stale-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const src = join(root, 'src');
  const dist = join(root, 'dist');
  mkdirSync(join(src, 'cli'), { recursive: true });
  mkdirSync(join(dist, 'cli'), { recursive: true });
  writeFileSync(join(src, 'cli', 'main.ts'), 'export {};\n');
  writeFileSync(join(src, 'notes.md'), 'not compiled\n');
  t.equal(staleOutput(src, dist), join(dist, 'cli', 'main.js'), 'not built: named');

  writeFileSync(join(dist, 'cli', 'main.js'), 'export {};\n');
  const now = Date.now() / 1000;
  utimesSync(join(src, 'cli', 'main.ts'), now - 10, now - 10);
  utimesSync(join(dist, 'cli', 'main.js'), now, now);
  t.equal(staleOutput(src, dist), undefined, 'built after its source: current');

  utimesSync(join(src, 'cli', 'main.ts'), now + 10, now + 10);
  t.equal(staleOutput(src, dist), join(dist, 'cli', 'main.js'), 'source edited since: named');
});
