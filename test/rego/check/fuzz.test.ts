// The checker never throws: seeded random mutations of corpus modules that still
// parse are checked (and their case's query too); only reported errors may result.
import t from 'tap';
import type { Module } from '../../../src/rego/ast.js';
import { checkModules, checkQuery } from '../../../src/rego/check/index.js';
import { parseModule, parseQuery } from '../../../src/rego/parse/index.js';
import { corpusDir, loadCases } from '../../helpers/corpus.js';

const dir = corpusDir();
if (!dir) {
  t.comment('OPA conformance corpus (../shared/conformance/opa) not found: checker fuzz test skipped');
  t.pass('skipped: no corpus');
} else {
  const cases = loadCases(dir).filter((c) => c.modules.length > 0);
  let seed = 20261124;
  const rnd = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T;
  const pieces = [
    ' ',
    '_',
    'x',
    ':=',
    '=',
    '[',
    ']',
    '{',
    '}',
    '(',
    ')',
    'not ',
    'some ',
    ' in ',
    'every ',
    'with ',
    ' as ',
    'input',
    'data',
    '.',
    ',',
    ';',
    '\n',
    '1',
    '"a"',
    'count',
    'p',
    'q',
    'contains ',
    'if ',
    'else ',
    'default ',
    '|',
    'print',
  ];
  const mutate = (src: string): string => {
    let s = src;
    for (let k = 1 + Math.floor(rnd() * 3); k > 0; k--) {
      const at = Math.floor(rnd() * s.length);
      const r = rnd();
      if (r < 0.4) s = s.slice(0, at) + pick(pieces) + s.slice(at);
      else if (r < 0.7) s = s.slice(0, at) + s.slice(at + 1 + Math.floor(rnd() * 5));
      else {
        const from = Math.floor(rnd() * s.length);
        s = s.slice(0, at) + s.slice(from, from + 8) + s.slice(at);
      }
    }
    return s;
  };

  let parsed = 0;
  let clean = 0;
  const thrown: string[] = [];
  for (let i = 0; i < 4000; i++) {
    const c = pick(cases);
    const modules: Module[] = [];
    for (const [j, src] of c.modules.map(mutate).entries()) {
      const r = parseModule(src, `test-${j}.rego`);
      if (r.module) modules.push(r.module);
    }
    if (modules.length !== c.modules.length) continue;
    parsed++;
    try {
      const r = checkModules(modules);
      for (const e of r.errors)
        if (!e.code.startsWith('rego_') || e.location.line < 1) thrown.push(`bad error ${e.code}`);
      if (r.program) {
        clean++;
        const q = parseQuery(c.query, 'query');
        if (q.body) checkQuery(q.body, r.program, 'query');
      }
    } catch (err) {
      thrown.push(`${c.note}: ${(err as Error).message}`);
    }
  }
  t.comment(`checker fuzz: ${parsed} mutated case(s) parsed, ${clean} checked cleanly`);
  t.ok(parsed > 300, 'enough mutants parse to exercise the checker');
  t.same(thrown, [], 'no exception, every error well formed');
}
