// The parser never throws on bad input: seeded, repeatable mutations of corpus
// modules yield either a module or errors whose locations point into the source.
import t, { type Test } from 'tap';
import type { RegoError } from '../../../src/rego/ast.js';
import { parseModule } from '../../../src/rego/parse/index.js';
import { lex } from '../../../src/rego/parse/lexer.js';
import { corpusDir, loadCases } from '../../helpers/corpus.js';
import { generatePolicy } from './generate.js';

/** mulberry32: a small deterministic PRNG. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

const fragments = [
  '{',
  '}',
  '[',
  ']',
  '(',
  ')',
  ',',
  ';',
  ':',
  ':=',
  '=',
  '==',
  '|',
  '&',
  '-',
  '.',
  '"',
  '`',
  '#',
  '\n',
  ' ',
  'if',
  'else',
  'contains',
  'in',
  'some',
  'every',
  'not',
  'with',
  'as',
  'default',
  'package',
  'import',
  'set()',
  '0',
  '007',
  '1e999999',
  '\\u',
  '\\',
  '_',
  'x',
  'input',
  '😀',
  '\t',
  '\r\n',
  '# METADATA\n# scope: nope\n',
];

function mutate(src: string, rnd: () => number): string {
  const pick = <T>(a: T[]): T => a[Math.floor(rnd() * a.length)]!;
  let s = src;
  const n = 1 + Math.floor(rnd() * 4);
  for (let j = 0; j < n; j++) {
    const p = Math.floor(rnd() * (s.length + 1));
    switch (Math.floor(rnd() * 7)) {
      case 0: // delete characters
        s = s.slice(0, p) + s.slice(p + 1 + Math.floor(rnd() * 4));
        break;
      case 1: // insert a fragment
        s = s.slice(0, p) + pick(fragments) + s.slice(p);
        break;
      case 2: {
        // duplicate a span
        const q = Math.floor(rnd() * s.length);
        s = s.slice(0, p) + s.slice(q, q + 1 + Math.floor(rnd() * 12)) + s.slice(p);
        break;
      }
      case 3: {
        // swap two characters
        const q = Math.floor(rnd() * s.length);
        const a = [...s];
        const pi = Math.min(p, a.length - 1);
        if (pi >= 0 && a[q] !== undefined) [a[pi], a[q]] = [a[q]!, a[pi]!];
        s = a.join('');
        break;
      }
      default: {
        // token-level: delete, duplicate or swap tokens
        const toks = lex(s).tokens.filter((k) => k.kind !== 'eof');
        if (toks.length < 2) break;
        const a = pick(toks);
        const b = pick(toks);
        const op = Math.floor(rnd() * 3);
        if (op === 0) s = s.slice(0, a.offset) + s.slice(a.end);
        else if (op === 1) s = s.slice(0, a.end) + ` ${a.text}` + s.slice(a.end);
        else if (a.end <= b.offset)
          s = s.slice(0, a.offset) + b.text + s.slice(a.end, b.offset) + a.text + s.slice(b.end);
      }
    }
  }
  return s;
}

/** Line and column (code points) of a UTF-16 offset, computed independently of the lexer. */
function position(src: string, offset: number): { line: number; col: number } {
  const before = src.slice(0, offset);
  const lineStart = before.lastIndexOf('\n') + 1;
  return { line: before.split('\n').length, col: [...src.slice(lineStart, offset)].length + 1 };
}

function checkLocations(t: Test, src: string, errors: RegoError[], label: string): boolean {
  for (const e of errors) {
    const { offset, end, line, col } = e.location;
    const ok =
      e.code === 'rego_parse_error' &&
      e.message.length > 0 &&
      offset >= 0 &&
      offset <= src.length &&
      end >= offset &&
      end <= src.length;
    const want = ok ? position(src, offset) : undefined;
    if (!ok || want?.line !== line || want?.col !== col) {
      t.fail(`${label}: bad error location ${JSON.stringify(e)} (expected ${JSON.stringify(want)})`);
      return false;
    }
  }
  return true;
}

const dir = corpusDir();
const seeds = dir ? loadCases(dir).flatMap((c) => c.modules) : [generatePolicy(20_000)];
if (!dir) t.comment('corpus absent: fuzzing a generated policy instead');

t.test('mutated modules never throw and report valid locations', async (t) => {
  const rnd = prng(20260601);
  const iterations = 20_000;
  let withErrors = 0;
  let bad = 0;
  for (let i = 0; i < iterations && bad === 0; i++) {
    const src = mutate(seeds[Math.floor(rnd() * seeds.length)]!, rnd);
    let r: ReturnType<typeof parseModule>;
    try {
      r = parseModule(src, 'fuzz.rego');
    } catch (e) {
      bad++;
      t.fail(`iteration ${i} threw ${String(e)} on ${JSON.stringify(src)}`);
      break;
    }
    if (r.module ? r.errors.length !== 0 : r.errors.length === 0) {
      bad++;
      t.fail(`iteration ${i}: must return a module or errors, not both or neither`);
    }
    if (r.errors.length > 0) withErrors++;
    if (!checkLocations(t, src, r.errors, `iteration ${i}`)) bad++;
  }
  t.equal(bad, 0, `${iterations} mutations, ${withErrors} with errors, none threw`);
  t.ok(withErrors > iterations / 2, 'most mutations are invalid (the fuzzer does mutate)');
});

t.test('a generated ~1 MB policy parses (linear time is measured by npm run bench:parse)', async (t) => {
  const src = generatePolicy(1_000_000);
  t.ok(src.length >= 1_000_000);
  const r = parseModule(src, 'big.rego');
  t.same(r.errors, []);
  t.ok(r.module && r.module.rules.length > 5000, `${r.module?.rules.length} rules`);
});
