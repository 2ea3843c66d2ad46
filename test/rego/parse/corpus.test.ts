// Every module, query and input term of OPA's v1 evaluation cases must parse.
import t from 'tap';
import { formatError } from '../../../src/rego/ast.js';
import { parseModule, parseQuery, parseTerm } from '../../../src/rego/parse/index.js';
import { corpusDir, loadCases } from '../../helpers/corpus.js';

/** Corpus files using syntax this parser does not accept yet, with the reason. */
const unsupported: Record<string, string> = {};

const dir = corpusDir();
if (!dir) {
  t.comment('OPA conformance corpus (../shared/conformance/opa) not found: corpus parse test skipped');
  t.pass('skipped: no corpus');
} else {
  const cases = loadCases(dir);
  t.test('every module parses', async (t) => {
    let modules = 0;
    let parsed = 0;
    const unexpected: string[] = [];
    for (const c of cases) {
      c.modules.forEach((src, i) => {
        modules++;
        const r = parseModule(src, `test-${i}.rego`);
        const known = unsupported[c.file];
        if (r.module && r.errors.length === 0) {
          parsed++;
          if (known) unexpected.push(`${c.file}: now parses; remove it from the unsupported list`);
        } else if (!known) {
          unexpected.push(`${c.file} (${c.note}):\n  ${r.errors.map(formatError).join('\n  ')}`);
        }
      });
    }
    t.comment(`modules: ${parsed}/${modules} parse (${((100 * parsed) / modules).toFixed(2)} %)`);
    t.same(unexpected, [], 'only the documented unsupported files fail');
    t.ok(modules > 600, 'the corpus has its modules');
  });

  t.test('every query and input term parses', async (t) => {
    const failures: string[] = [];
    let queries = 0;
    let terms = 0;
    for (const c of cases) {
      if (c.query) {
        queries++;
        const r = parseQuery(c.query);
        if (!r.body)
          failures.push(
            `${c.file} query ${JSON.stringify(c.query)}: ${r.errors.map(formatError).join('; ')}`,
          );
      }
      if (c.input_term !== undefined) {
        terms++;
        const r = parseTerm(c.input_term);
        if (!r.term) failures.push(`${c.file} input_term: ${r.errors.map(formatError).join('; ')}`);
      }
    }
    t.comment(`queries: ${queries}, input terms: ${terms}`);
    t.same(failures, []);
    t.ok(queries > 500);
  });
}
