// scripts/tap-summary.mjs ends every CI log: the count line, and above it each failure by name,
// since the middle of a long log may be all that is cut.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';

const script = fileURLToPath(new URL('../../scripts/tap-summary.mjs', import.meta.url));

function summarise(stream: string): string[] {
  const file = join(mkdtempSync(join(tmpdir(), 'tap-summary-')), 'results.tap');
  writeFileSync(file, stream);
  return execFileSync(process.execPath, [script, file], { encoding: 'utf8' }).trim().split('\n');
}

t.test('failures are named by file, subtest and assertion; crashes count once', async (t) => {
  const lines = summarise(
    [
      'TAP version 14',
      '# Subtest: test/a.test.ts',
      '    # Subtest: group one',
      '        ok 1 - fine',
      '        not ok 2 - broken thing',
      '        ok 3 - skipped one # SKIP no server',
      '        1..3',
      '    not ok 1 - group one',
      '    1..1',
      'not ok 1 - test/a.test.ts',
      '# Subtest: test/b.test.ts',
      '    1..0',
      'not ok 2 - test/b.test.ts # timeout',
      '1..2',
      '',
    ].join('\n'),
  );
  t.same(lines, [
    'not ok: test/a.test.ts > group one > broken thing',
    'not ok: test/b.test.ts # timeout',
    '1 passed, 2 failed, 1 skipped',
  ]);
});

t.test('a clean run lists nothing but the count', async (t) => {
  const lines = summarise(['TAP version 14', 'ok 1 - one', 'ok 2 - two', '1..2', ''].join('\n'));
  t.same(lines, ['2 passed, 0 failed, 0 skipped']);
});
