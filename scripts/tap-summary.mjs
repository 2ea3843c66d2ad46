// Prints the plain line `N passed, M failed, K skipped` for a TAP stream written
// by `tap --reporter=tap`. Counts leaf test points (assertions), not the summary
// points that close subtests; a subtest that failed without any failing leaf
// (a crash, a timeout, a plan mismatch) counts as one failure. Each failure is
// listed above the count line by its full name (file > subtest > assertion), so a
// CI log whose middle is cut still says what failed.
import { readFileSync } from 'node:fs';
import { Parser } from 'tap-parser';

const file = process.argv[2];
if (!file) {
  process.stderr.write('usage: node scripts/tap-summary.mjs results.tap\n');
  process.exit(2);
}
const counts = { passed: 0, failed: 0, skipped: 0 };
const failures = [];

function watch(parser) {
  let pendingChild = null;
  parser.on('child', (child) => {
    const before = counts.failed;
    pendingChild = { before };
    watch(child);
  });
  parser.on('assert', (res) => {
    if (pendingChild) {
      const failedInside = counts.failed > pendingChild.before;
      pendingChild = null;
      if (!res.ok && !res.todo && !failedInside) fail(res);
      return;
    }
    if (res.skip || res.todo) counts.skipped++;
    else if (res.ok) counts.passed++;
    else fail(res);
  });
}

function fail(res) {
  counts.failed++;
  failures.push(res.fullname || res.name || `test point ${res.id}`);
}

const root = new Parser();
watch(root);
root.end(readFileSync(file, 'utf8'));
for (const name of failures) process.stdout.write(`not ok: ${name}\n`);
process.stdout.write(`${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped\n`);
