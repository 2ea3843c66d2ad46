// Property tests of the formatter (seeded, repeatable):
// - random terms (operators nested at random, odd strings and ref keys) print to
//   text that parses back to the same term: parentheses and escapes are right;
// - corpus modules with comments and blank lines sprinkled at line ends keep
//   every comment, in order, and format idempotently.
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import t from 'tap';
import type { Expr, Location, Module, Term, With } from '../../../src/rego/ast.js';
import { formatSource, formatTerm } from '../../../src/rego/format/index.js';
import { parseModule, parseTerm } from '../../../src/rego/parse/index.js';
import { stripLocations } from '../../../src/rego/walk.js';
import { corpusDir, loadCases } from '../../helpers/corpus.js';

const at: Location = { file: 'gen', line: 1, col: 1, offset: 0, end: 0 };

const varName = fc.constantFrom('x', 'y', 'z', 'k', 'v', 'foo', '_', 'a1', 'contains_x');
const numberText = fc.constantFrom(
  '0',
  '1',
  '-1',
  '2.5',
  '-0.25',
  '1e400',
  '12345678901234567890123',
  '3E-2',
);
const stringValue = fc.oneof(
  fc.string({ maxLength: 6 }),
  fc.string({ unit: 'binary', maxLength: 4 }),
  fc.constantFrom('if', 'in', 'a-b', 'x y', '"', '\\', '`', '\n\t', '\u0000', '\u2028', 'é', '😀', '_ok', ''),
);

function mkVar(name: string): Term {
  return { type: 'var', name, location: at };
}
function mkString(value: string, raw: boolean): Term {
  return raw ? { type: 'string', value, raw: true, location: at } : { type: 'string', value, location: at };
}
function mkExpr(node: Expr['node'], negated = false, w: With[] = []): Expr {
  return { node, negated, with: w, location: at };
}
function mkCall(name: string, args: Term[]): Term {
  const [head, ...rest] = name.split('.');
  const terms: Term[] = [mkVar(head ?? name), ...rest.map((s) => mkString(s, false))];
  return { type: 'call', operator: { type: 'ref', terms, location: at }, args, location: at };
}

const operators = [
  'equal',
  'neq',
  'lt',
  'lte',
  'gt',
  'gte',
  'or',
  'and',
  'plus',
  'minus',
  'mul',
  'div',
  'rem',
];

const { term } = fc.letrec<{ term: Term; leaf: Term; expr: Expr }>((tie) => ({
  leaf: fc.oneof(
    varName.map(mkVar),
    numberText.map((text): Term => ({ type: 'number', text, location: at })),
    fc
      .tuple(stringValue, fc.boolean())
      // Raw strings cannot hold a backtick, and the lexer reads CR inside them as is: keep them plain.
      .map(([s, raw]) => mkString(s, raw && !/[`\r]/.test(s))),
    fc.constantFrom<Term>(
      { type: 'null', location: at },
      { type: 'boolean', value: true, location: at },
      { type: 'boolean', value: false, location: at },
    ),
  ),
  term: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    tie('leaf'),
    fc
      .tuple(
        varName,
        fc.array(
          fc.oneof(
            stringValue.map((s) => mkString(s, false)),
            varName.map(mkVar),
            tie('leaf'),
          ),
          { minLength: 1, maxLength: 3 },
        ),
      )
      .filter(([head]) => head !== '_')
      .map(([head, path]): Term => ({ type: 'ref', terms: [mkVar(head), ...path], location: at })),
    fc.array(tie('term'), { maxLength: 3 }).map((items): Term => ({ type: 'array', items, location: at })),
    fc.array(tie('term'), { maxLength: 3 }).map((items): Term => ({ type: 'set', items, location: at })),
    fc
      .array(fc.tuple(tie('leaf'), tie('term')), { maxLength: 3 })
      .map((entries): Term => ({ type: 'object', entries, location: at })),
    fc.tuple(fc.constantFrom(...operators), tie('term'), tie('term')).map(([op, l, r]) => mkCall(op, [l, r])),
    fc.tuple(tie('term'), tie('term')).map(([l, r]) => mkCall('internal.member_2', [l, r])),
    fc
      .tuple(tie('term'), tie('term'), tie('term'))
      .map(([k, v, c]) => mkCall('internal.member_3', [k, v, c])),
    fc
      .tuple(fc.constantFrom('count', 'lib.f', 'io.jwt.decode'), fc.array(tie('term'), { maxLength: 3 }))
      .map(([name, args]) => mkCall(name, args)),
    fc
      .tuple(
        tie('term'),
        fc.array(tie('expr'), { minLength: 1, maxLength: 3 }),
        fc.constantFrom('array', 'set'),
      )
      .map(
        ([head, body, kind]): Term => ({
          type: kind === 'array' ? 'arraycomp' : 'setcomp',
          term: head,
          body,
          location: at,
        }),
      ),
    fc
      .tuple(tie('term'), tie('term'), fc.array(tie('expr'), { minLength: 1, maxLength: 2 }))
      .map(([key, value, body]): Term => ({ type: 'objectcomp', key, value, body, location: at })),
  ),
  // Expressions of comprehension bodies: terms, assignments, `not`, `with`, `some … in`, `every`.
  expr: fc.oneof(
    { depthSize: 'small' },
    tie('term').map((node) => mkExpr(node)),
    fc
      .tuple(fc.constantFrom('assign', 'eq'), varName, tie('term'))
      .map(([op, v, value]) => mkExpr(mkCall(op, [mkVar(v), value]))),
    tie('term').map((node) => mkExpr(node, true)),
    fc.tuple(tie('term'), tie('term')).map(([node, value]) =>
      mkExpr(node, false, [
        {
          target: { type: 'ref', terms: [mkVar('input'), mkString('x', false)], location: at },
          value,
          location: at,
        },
      ]),
    ),
    fc.tuple(fc.option(varName, { nil: undefined }), varName, tie('term')).map(([k, v, collection]) =>
      mkExpr({
        type: 'somein',
        ...(k === undefined ? {} : { key: mkVar(k) }),
        value: mkVar(v),
        collection,
        location: at,
      }),
    ),
    fc
      .tuple(
        fc.option(varName, { nil: undefined }),
        varName,
        tie('term'),
        fc.array(tie('expr'), { minLength: 1, maxLength: 2 }),
      )
      .map(([k, v, domain, body]) =>
        mkExpr({
          type: 'every',
          ...(k === undefined ? {} : { key: mkVar(k) }),
          value: mkVar(v),
          domain,
          body,
          location: at,
        }),
      ),
  ),
}));

t.test('random terms print to text that parses back to the same term', async (t) => {
  const runs = 1500;
  let checked = 0;
  const failure = fc.check(
    fc.property(term, (x) => {
      const text = formatTerm(x);
      const back = parseTerm(text);
      if (!back.term) throw new Error(`does not parse: ${text}\n${JSON.stringify(back.errors)}`);
      const got = stripLocations(back.term);
      const want = stripLocations(x);
      if (!isDeepStrictEqual(got, want)) {
        throw new Error(`${text}\nparsed: ${JSON.stringify(got)}\nwanted: ${JSON.stringify(want)}`);
      }
      checked++;
    }),
    { seed: 20261124, numRuns: runs },
  );
  t.notOk(failure.failed, failure.failed ? String(failure.errorInstance) : `${runs} random terms round-trip`);
  t.ok(checked >= runs, 'every generated term was checked');
});

/** A tiny seeded generator (mulberry32): the same insertions on every run. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let r = Math.imul(a ^ (a >>> 15), 1 | a);
    r = (r + Math.imul(r ^ (r >>> 7), 61 | r)) ^ r;
    return ((r ^ (r >>> 14)) >>> 0) / 4294967296;
  };
}

function commentTexts(m: Module): string[] {
  return m.comments.map((c) => c.text);
}

const dir = corpusDir();
if (!dir) {
  t.comment('../shared/conformance/opa not found: comment injection test skipped');
} else {
  t.test('corpus modules with comments sprinkled in keep them all, in order', async (t) => {
    const rand = random(7);
    let modules = 0;
    for (const c of loadCases(dir)) {
      for (const src of c.modules) {
        if (!parseModule(src, 'in.rego').module) continue;
        // A comment at the end of some lines, a blank line after others.
        let n = 0;
        const lines = src.split('\n').map((line) => {
          const r = rand();
          if (r < 0.3) return `${line} # c${n++}`;
          if (r < 0.4) return `${line}\n# own line ${n++}`;
          if (r < 0.5) return `${line}\n`;
          return line;
        });
        const injected = lines.join('\n');
        const parsed = parseModule(injected, 'in.rego');
        // A `#` inside a multi-line raw string is not a comment: such variants may not parse or keep fewer comments.
        if (!parsed.module) continue;
        const first = formatSource(injected, 'in.rego');
        if (first.formatted === undefined) {
          t.fail('formats', { errors: first.errors });
          continue;
        }
        const again = parseModule(first.formatted, 'in.rego');
        if (!again.module) {
          t.fail('formatted text parses', { errors: again.errors, text: first.formatted });
          continue;
        }
        t.same(commentTexts(again.module), commentTexts(parsed.module), `${c.note}: comments kept in order`);
        t.same(
          stripLocations({ ...again.module, comments: [] }),
          stripLocations({ ...parsed.module, comments: [] }),
          `${c.note}: same AST`,
        );
        t.equal(formatSource(first.formatted, 'in.rego').formatted, first.formatted, `${c.note}: idempotent`);
        modules++;
      }
    }
    t.ok(modules > 500, `checked ${modules} modules with comments`);
  });
}
