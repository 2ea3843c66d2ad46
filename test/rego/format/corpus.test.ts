// Issue 2's acceptance test for `fmt`: for every module of OPA's conformance
// corpus, the formatted text parses to the same AST (locations aside, comments
// compared by text) and formatting it again changes nothing.
import t from 'tap';
import type { Module } from '../../../src/rego/ast.js';
import { formatModule, formatSource } from '../../../src/rego/format/index.js';
import { parseModule } from '../../../src/rego/parse/index.js';
import { stripLocations } from '../../../src/rego/walk.js';
import { corpusDir, loadCases } from '../../helpers/corpus.js';

/** The AST without locations, with comments reduced to their texts. */
function shape(m: Module): unknown {
  return stripLocations({ ...m, comments: m.comments.map((c) => c.text) });
}

const dir = corpusDir();
if (!dir) {
  t.comment('../shared/conformance/opa not found: corpus formatting test skipped');
  t.pass('corpus absent, nothing to check');
} else {
  const cases = loadCases(dir);
  let formatted = 0;
  let unparsable = 0;
  const unexpected: string[] = [];
  for (const c of cases) {
    c.modules.forEach((src, i) => {
      const file = `${c.file}#${c.note}#${i}`;
      const parsed = parseModule(src, file);
      if (!parsed.module || parsed.errors.length > 0) {
        // Cases that expect a parse error: nothing to format.
        unparsable++;
        if (c.want_error_code !== 'rego_parse_error') unexpected.push(file);
        return;
      }
      formatted++;
      const once = formatModule(parsed.module);
      const again = parseModule(once, file);
      if (!again.module || again.errors.length > 0) {
        t.fail(`${file}: formatted text does not parse`, { errors: again.errors, formatted: once });
        return;
      }
      t.same(shape(again.module), shape(parsed.module), `${file}: same AST after fmt`);
      t.equal(formatModule(again.module), once, `${file}: fmt is idempotent`);
      // The CLI path (with the source text at hand) agrees with itself too.
      const viaSource = formatSource(src, file).formatted;
      t.equal(
        viaSource === undefined ? undefined : formatSource(viaSource, file).formatted,
        viaSource,
        `${file}: formatSource is idempotent`,
      );
    });
  }
  t.comment(`formatted ${formatted} corpus modules; ${unparsable} do not parse (expected parse errors)`);
  if (unexpected.length > 0)
    t.comment(`not formatted, parser rejects (parser issue, not fmt): ${unexpected.join(', ')}`);
  t.ok(formatted > 0, 'some corpus modules were formatted');
}
