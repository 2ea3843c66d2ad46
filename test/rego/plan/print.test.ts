import t from 'tap';
import { printPolicy, STMT_TYPES, type Stmt } from '../../../src/rego/plan/index.js';
import type * as ir from '../../../src/rego/plan/ir.js';

const loc = (row: number): ir.Location => ({ file: 0, row, col: 3 });
const L = (n: number): ir.Operand => ({ kind: 'local', local: n });
const S = (i: number): ir.Operand => ({ kind: 'string', index: i });

// One statement of every type, on its own line number.
const inner: ir.Block = { stmts: [{ type: 'nop', loc: loc(99) }] };
const each: Stmt[] = [
  { type: 'call', func: 'count', args: [L(2)], result: 3, loc: loc(1) },
  { type: 'call-dynamic', func: [S(0), L(4)], args: [0, 1], result: 3, loc: loc(2) },
  { type: 'block', blocks: [inner], loc: loc(3) },
  { type: 'break', index: 2, loc: loc(4) },
  { type: 'dot', source: L(0), key: S(1), target: 2, loc: loc(5) },
  { type: 'equal', a: L(2), b: { kind: 'bool', value: true }, loc: loc(6) },
  { type: 'not-equal', a: L(2), b: S(0), loc: loc(7) },
  { type: 'is-array', source: L(2), loc: loc(8) },
  { type: 'is-object', source: L(2), loc: loc(9) },
  { type: 'is-set', source: L(2), loc: loc(10) },
  { type: 'is-defined', source: 2, loc: loc(11) },
  { type: 'is-undefined', source: 2, loc: loc(12) },
  { type: 'len', source: L(2), target: 5, loc: loc(13) },
  { type: 'make-array', capacity: 4, target: 6, loc: loc(14) },
  { type: 'make-object', target: 7, loc: loc(15) },
  { type: 'make-set', target: 8, loc: loc(16) },
  { type: 'make-null', target: 9, loc: loc(17) },
  { type: 'make-number-int', value: -5, target: 10, loc: loc(18) },
  { type: 'make-number-ref', index: 2, target: 11, loc: loc(19) },
  { type: 'not', block: inner, loc: loc(20) },
  { type: 'object-insert', key: S(1), value: L(2), object: 7, loc: loc(21) },
  { type: 'object-insert-once', key: S(1), value: L(2), object: 7, loc: loc(22) },
  { type: 'object-merge', a: 7, b: 1, target: 12, loc: loc(23) },
  { type: 'reset-local', target: 12, loc: loc(24) },
  { type: 'result-set-add', value: 7, loc: loc(25) },
  { type: 'return-local', source: 7, loc: loc(26) },
  { type: 'scan', source: 2, key: 13, value: 14, block: inner, loc: loc(27) },
  { type: 'set-add', value: L(2), set: 8, loc: loc(28) },
  { type: 'with', local: 0, path: [0, 1], value: S(1), block: inner, loc: loc(29) },
  { type: 'array-append', value: L(2), array: 6, loc: loc(30) },
  { type: 'assign-int', value: 3, target: 15, loc: loc(31) },
  { type: 'assign-var', source: L(2), target: 16, loc: loc(32) },
  { type: 'assign-var-once', source: L(2), target: 17, loc: loc(33) },
  { type: 'nop', loc: loc(34) },
];

const policy: ir.Policy = {
  static: { strings: ['g0', 'x', '1e400'], builtinFuncs: [{ name: 'count', arity: 1 }], files: ['p.rego'] },
  plans: [{ name: 'test/p', blocks: [{ stmts: each }] }],
  funcs: [
    { name: 'g0.data.test.f', params: [0, 1, 2], return: 3, path: ['g0', 'data', 'test', 'f'], blocks: [] },
  ],
};

t.test('every statement type is printed with its location', async (t) => {
  t.same(
    [...new Set(each.map((s) => s.type))].sort(),
    [...STMT_TYPES].sort(),
    'the fixture covers all types',
  );
  const text = printPolicy(policy);
  const lines = text.split('\n');
  for (const s of each) {
    const hit = lines.filter((l) => l.endsWith(`# p.rego:${s.loc.row}:3`));
    t.equal(hit.length, 1, `${s.type} printed once at line ${s.loc.row}`);
  }
});

t.test('readable rendering', async (t) => {
  const text = printPolicy(policy, { locations: false });
  const lines = text.split('\n').map((l) => l.trimEnd());
  t.ok(lines.includes('string 2 = "1e400"'));
  t.ok(lines.includes('builtin count/1'));
  t.ok(lines.includes('plan test/p'));
  t.ok(lines.includes('    l2 = l0["x"]'), 'dot');
  t.ok(lines.includes('    l3 = call count(l2)'));
  t.ok(lines.includes('    l3 = call-dynamic "g0".l4(l0, l1)'));
  t.ok(lines.includes('    l11 = make-number-ref 1e400'));
  t.ok(lines.includes('    with l0.g0.x = "x"'));
  t.ok(lines.includes('    l2 == true'));
  t.ok(lines.includes('    scan l2 as l13, l14'));
  t.ok(lines.includes('      block'), 'nested blocks indent');
  t.ok(lines.includes('        nop'));
  t.ok(lines.includes('func g0.data.test.f(l0, l1, l2) -> l3  [path g0.data.test.f]'));
  t.notOk(text.includes('#'), 'no locations when disabled');
});

t.test('dangling string indexes are shown, not thrown', async (t) => {
  const bad: ir.Policy = {
    ...policy,
    plans: [
      {
        name: 'x',
        blocks: [
          { stmts: [{ type: 'assign-var', source: S(42), target: 1, loc: { file: 7, row: 1, col: 1 } }] },
        ],
      },
    ],
  };
  const text = printPolicy(bad);
  t.match(text, /l1 = <string 42\?>/);
  t.match(text, /# file7:1:1/);
});
