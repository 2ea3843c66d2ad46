// OPA's evaluation test cases through Airlock's compiler and the stock SDK.
// A case that passes and is not on the known-failures list must keep passing;
// a case on the list that now passes must be taken off it (the list only shrinks).
// Regenerate the list with: npm run conformance -- --write-known-failures
// (Comments start with `#` at the line start or after white space: ids contain `#`.)
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { corpusDir, loadCases } from '../../scripts/conformance/corpus.js';
import { caseIds, runCase, summarise } from '../../scripts/conformance/runner.js';

const here = dirname(fileURLToPath(import.meta.url));
const dir = corpusDir();

export function knownFailures(): Set<string> {
  const text = readFileSync(join(here, 'known-failures.txt'), 'utf8');
  return new Set(
    text
      .split('\n')
      .map((l) => l.replace(/(^|\s)#.*$/, '').trim())
      .filter((l) => l.length > 0)
      .map((l) => l.split(/\s+/)[0]!),
  );
}

if (!dir) {
  t.comment('OPA conformance corpus not found (../shared/conformance/opa): skipping the conformance suite');
  t.pass('skipped: corpus absent');
} else {
  const cases = loadCases(dir);
  const ids = caseIds(cases);
  const known = knownFailures();
  t.test('conformance corpus', async (t) => {
    const results = [];
    for (const [i, c] of cases.entries()) {
      const id = ids[i]!;
      const r = await runCase(c, id);
      results.push(r);
      if (r.outcome === 'skip') continue;
      if (known.has(id)) {
        t.not(r.outcome, 'pass', `${id} (${c.note}) now passes: remove it from known-failures.txt`);
      } else {
        t.equal(r.outcome, 'pass', `${id} ${c.note}${r.reason ? `: ${r.reason}` : ''}`);
      }
    }
    const s = summarise(results);
    t.comment(
      `conformance: ${s.passed} passed, ${s.failed} failed (known), ${s.skipped} skipped of ${cases.length}`,
    );
  });
}
