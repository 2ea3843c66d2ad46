// Native string built-ins (runtime strings.as): the module answers startswith, endswith,
// contains, trim_prefix, trim_suffix, indexof, concat, lower and upper itself, on UTF-8
// bytes, and hands the host what it does not do exactly (non-string operands, non-ASCII
// case mapping, an empty indexof needle), so answers and errors stay the host's.
import { loadPolicy } from '@open-policy-agent/opa-wasm';
import t from 'tap';
import { hostBuiltins } from '../../../src/rego/builtins/host/index.js';
import { compile } from '../../../src/rego/compile.js';

const POLICY = `package t

pair := {
	"startswith": startswith(input.a, input.b),
	"endswith": endswith(input.a, input.b),
	"contains": contains(input.a, input.b),
	"trim_prefix": trim_prefix(input.a, input.b),
	"trim_suffix": trim_suffix(input.a, input.b),
	"indexof": indexof(input.a, input.b),
}

cased := {"lower": lower(input.a), "upper": upper(input.a)}

joined := concat(input.a, input.b)

joined_set := concat(input.a, {x | some x in input.b})

startswith_ := startswith(input.a, input.b)

endswith_ := endswith(input.a, input.b)

contains_ := contains(input.a, input.b)

trim_prefix_ := trim_prefix(input.a, input.b)

trim_suffix_ := trim_suffix(input.a, input.b)

indexof_ := indexof(input.a, input.b)

lower_ := lower(input.a)

upper_ := upper(input.a)
`;

const RULES = [
  'pair',
  'cased',
  'joined',
  'joined_set',
  'startswith_',
  'endswith_',
  'contains_',
  'trim_prefix_',
  'trim_suffix_',
  'indexof_',
  'lower_',
  'upper_',
];

type Policy = Awaited<ReturnType<typeof loadPolicy>>;

/** The policy, and the host built-in calls it made by name since the last reset. */
async function setup(strict: boolean): Promise<{ p: Policy; calls: Map<string, number> }> {
  const out = compile({
    sources: [{ file: 't.rego', text: POLICY }],
    entrypoints: RULES.map((r) => `t/${r}`),
    annotatedEntrypoints: false,
    optimize: false,
  });
  if (!out.wasm) throw new Error(out.errors.map((e) => e.message).join('; '));
  const calls = new Map<string, number>();
  const counting = Object.fromEntries(
    Object.entries(hostBuiltins({ strict })).map(([name, fn]) => [
      name,
      (...args: unknown[]) => {
        calls.set(name, (calls.get(name) ?? 0) + 1);
        return fn(...args);
      },
    ]),
  );
  return { p: await loadPolicy(out.wasm, undefined, counting), calls };
}

function run(p: Policy, rule: string, input: unknown): unknown {
  const rows = p.evaluate(input, `t/${rule}`) as { result?: unknown }[];
  return rows[0]?.result;
}

/** Code point index, as Go's OPA and the host's indexof count. */
function runeIndex(s: string, sub: string): number {
  const at = s.indexOf(sub);
  return at < 0 ? -1 : [...s.slice(0, at)].length;
}

// Strings with one-, two-, three- and four-byte UTF-8 sequences, and empty ones.
const SAMPLES = [
  '',
  'a',
  'ab',
  'abc',
  'bc',
  'é',
  'aé',
  'éa',
  'é€',
  '€',
  '😀',
  'x😀y',
  '😀y',
  'x😀',
  'ÿ',
  'Ā',
];

t.test('two-string built-ins agree with the host semantics on every pair of samples, in Wasm', async (t) => {
  const { p, calls } = await setup(true);
  for (const a of SAMPLES) {
    for (const b of SAMPLES) {
      const want = {
        startswith: a.startsWith(b),
        endswith: a.endsWith(b),
        contains: a.includes(b),
        trim_prefix: a.startsWith(b) ? a.slice(b.length) : a,
        trim_suffix: b !== '' && a.endsWith(b) ? a.slice(0, a.length - b.length) : a,
        indexof: runeIndex(a, b),
      };
      // OPA refuses an empty needle ("empty search character"): an error in strict mode.
      if (b === '')
        t.throws(() => run(p, 'pair', { a, b }), /eval_builtin_error: indexof: empty search character/);
      else t.same(run(p, 'pair', { a, b }), want, JSON.stringify([a, b]));
    }
  }
  // Only indexof with an empty needle went to the host (once per sample).
  t.same([...calls], [['indexof', SAMPLES.length]]);
});

t.test('sharp edges of the byte-level comparisons', async (t) => {
  const { p, calls } = await setup(true);
  // A prefix of the UTF-8 bytes that is not a whole character never matches.
  t.equal(run(p, 'startswith_', { a: 'é', b: '\u00c3' }), false);
  t.equal(run(p, 'contains_', { a: 'aaab', b: 'aab' }), true, 'a restart after a partial match');
  t.equal(run(p, 'contains_', { a: 'ab', b: 'abc' }), false, 'needle longer than the text');
  t.equal(run(p, 'indexof_', { a: 'héllo wörld', b: 'wö' }), 6, 'counted in code points, not bytes');
  t.equal(run(p, 'indexof_', { a: '😀😀a', b: 'a' }), 2);
  t.equal(run(p, 'indexof_', { a: 'abc', b: 'abcd' }), -1);
  t.equal(run(p, 'trim_prefix_', { a: 'abc', b: 'abc' }), '');
  t.equal(run(p, 'trim_suffix_', { a: 'x😀', b: '😀' }), 'x');
  t.same([...calls], []);
});

t.test('lower and upper: ASCII in Wasm, anything else on the host with Go case mapping', async (t) => {
  const { p, calls } = await setup(true);
  t.same(run(p, 'cased', { a: '' }), { lower: '', upper: '' });
  t.same(run(p, 'cased', { a: 'Hello, World! @[`{ 09' }), {
    lower: 'hello, world! @[`{ 09',
    upper: 'HELLO, WORLD! @[`{ 09',
  });
  t.same(run(p, 'cased', { a: 'already lower' }), { lower: 'already lower', upper: 'ALREADY LOWER' });
  t.same([...calls], [], 'no host call for ASCII');
  // 'ß' stays (no single-rune upper case in Go), 'İ' lowers to 'i' (first rune).
  t.same(run(p, 'cased', { a: 'Éß İ' }), { lower: 'éß i', upper: 'Éß İ' });
  t.same(
    [...calls].sort(),
    [
      ['lower', 1],
      ['upper', 1],
    ],
    'non-ASCII text went to the host',
  );
});

t.test('concat joins arrays in order and sets in sorted order', async (t) => {
  const { p, calls } = await setup(true);
  t.equal(run(p, 'joined', { a: ', ', b: [] }), '');
  t.equal(run(p, 'joined', { a: ', ', b: ['only'] }), 'only');
  t.equal(run(p, 'joined', { a: ', ', b: ['b', 'a', '', 'c'] }), 'b, a, , c');
  t.equal(run(p, 'joined', { a: '', b: ['é', '😀', 'x'] }), 'é😀x');
  t.equal(run(p, 'joined', { a: '€', b: ['', ''] }), '€');
  t.equal(run(p, 'joined_set', { a: '-', b: [] }), '');
  t.equal(run(p, 'joined_set', { a: '-', b: ['z'] }), 'z');
  // Sorted by bytes: ASCII before 'é' (C3 A9) before '€' (E2 82 AC) before '😀' (F0 ...).
  t.equal(run(p, 'joined_set', { a: '-', b: ['😀', '€', 'é', 'b', 'a', 'b'] }), 'a-b-é-€-😀');
  t.same([...calls], []);
});

// Non-string operands: the module defers, the host raises OPA's type error as before.
const TYPE_ERRORS: [string, unknown, string][] = [
  ['startswith_', { a: 1, b: 'x' }, 'startswith: operand 1 must be string but got number'],
  ['startswith_', { a: 'x', b: null }, 'startswith: operand 2 must be string but got null'],
  ['endswith_', { a: ['x'], b: 'x' }, 'endswith: operand 1 must be string but got array'],
  ['endswith_', { a: 'x', b: true }, 'endswith: operand 2 must be string but got boolean'],
  ['contains_', { a: {}, b: 'x' }, 'contains: operand 1 must be string but got object'],
  ['contains_', { a: 'x', b: 2 }, 'contains: operand 2 must be string but got number'],
  ['trim_prefix_', { a: 1, b: 'x' }, 'trim_prefix: operand 1 must be string but got number'],
  ['trim_suffix_', { a: 'x', b: [] }, 'trim_suffix: operand 2 must be string but got array'],
  ['indexof_', { a: 'x', b: 1 }, 'indexof: operand 2 must be string but got number'],
  ['lower_', { a: 1 }, 'lower: operand 1 must be string but got number'],
  ['upper_', { a: null }, 'upper: operand 1 must be string but got null'],
  ['joined', { a: 1, b: ['x'] }, 'concat: operand 1 must be string but got number'],
  ['joined', { a: ',', b: 'x' }, 'concat: operand 2 must be one of {array, set} but got string'],
  ['joined', { a: ',', b: { k: 'x' } }, 'concat: operand 2 must be one of {array, set} but got object'],
  [
    'joined',
    { a: ',', b: ['x', 1] },
    'concat: operand 2 must be array of strings but got array containing number',
  ],
  [
    'joined_set',
    { a: ',', b: ['x', 1] },
    'concat: operand 2 must be set of strings but got set containing number',
  ],
];

t.test('a non-string operand goes to the host, which raises the type error', async (t) => {
  const { p, calls } = await setup(true);
  for (const [rule, input, message] of TYPE_ERRORS) {
    calls.clear();
    const err = t.throws(() => run(p, rule, input), rule) as Error | undefined;
    t.equal(err?.message, `eval_type_error: ${message}`, message);
    const name = message.slice(0, message.indexOf(':'));
    t.same([...calls], [[name, 1]], `${name} reached the host`);
  }
});

t.test('non-strict: the host makes a call with a non-string operand undefined', async (t) => {
  const { p } = await setup(false);
  t.equal(run(p, 'startswith_', { a: 1, b: 'x' }), undefined);
  t.equal(run(p, 'joined', { a: ',', b: ['x', 1] }), undefined);
  t.equal(run(p, 'startswith_', { a: 'xy', b: 'x' }), true);
});
