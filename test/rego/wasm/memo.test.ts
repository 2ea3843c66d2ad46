// Rule memoisation: a rule's func (input and data only) runs its body once per evaluation,
// for the evaluation's own input and data; `with` on input or data, mocks and a new
// evaluation each get the value computed afresh. Counted through the host calls a rule makes.
import { loadPolicy } from '@open-policy-agent/opa-wasm';
import t from 'tap';
import { hostBuiltins } from '../../../src/rego/builtins/host/index.js';
import { compile } from '../../../src/rego/compile.js';

const POLICY = `package t

# One host call each time the body runs.
r := regex.replace(input.s, "a", "b")

thrice := [r, r, r]

# Undefined (the host answers false): memoised too.
z if regex.match("^z", input.s)

z_reads := count([1 | z]) + count([1 | z]) + count([1 | z])

xr := v if v := r with input.s as "xa"

yr := v if v := r with input.s as "ya"

with_input := [r, xr, r, yr]

rd := regex.replace(data.d, "a", "b")

xd := v if v := rd with data.d as "xa"

with_data := [rd, xd, rd]

rm := v if v := r with regex.replace as "m"

mocked := [r, rm, r]

f(x) := regex.replace(x, "a", "b")

function_calls := [f(input.s), f(input.s)]
`;

const RULES = ['thrice', 'z_reads', 'with_input', 'with_data', 'mocked', 'function_calls'];

type Policy = Awaited<ReturnType<typeof loadPolicy>>;

async function setup(): Promise<{ p: Policy; calls: Map<string, number> }> {
  const out = compile({
    sources: [{ file: 't.rego', text: POLICY }],
    entrypoints: RULES.map((r) => `t/${r}`),
    annotatedEntrypoints: false,
  });
  if (!out.wasm) throw new Error(out.errors.map((e) => e.message).join('; '));
  const calls = new Map<string, number>();
  const counting = Object.fromEntries(
    Object.entries(hostBuiltins({ strict: true })).map(([name, fn]) => [
      name,
      (...args: unknown[]) => {
        calls.set(name, (calls.get(name) ?? 0) + 1);
        return fn(...args);
      },
    ]),
  );
  const p = await loadPolicy(out.wasm, undefined, counting);
  p.setData({ d: 'aa' });
  return { p, calls };
}

function run(p: Policy, calls: Map<string, number>, rule: string, input: unknown): unknown {
  calls.clear();
  const rows = p.evaluate(input, `t/${rule}`) as { result?: unknown }[];
  return rows[0]?.result;
}

t.test('a rule read three times runs once', async (t) => {
  const { p, calls } = await setup();
  t.same(run(p, calls, 'thrice', { s: 'aa' }), ['bb', 'bb', 'bb']);
  t.same([...calls], [['regex.replace', 1]]);
});

t.test('an undefined rule is remembered as undefined', async (t) => {
  const { p, calls } = await setup();
  t.equal(run(p, calls, 'z_reads', { s: 'aa' }), 0);
  t.same([...calls], [['regex.match', 1]]);
  t.equal(run(p, calls, 'z_reads', { s: 'zz' }), 3, 'defined in the next evaluation');
  t.same([...calls], [['regex.match', 1]]);
});

t.test('each evaluation starts afresh', async (t) => {
  const { p, calls } = await setup();
  t.same(run(p, calls, 'thrice', { s: 'aa' }), ['bb', 'bb', 'bb']);
  t.same(run(p, calls, 'thrice', { s: 'ca' }), ['cb', 'cb', 'cb']);
  t.same([...calls], [['regex.replace', 1]]);
});

t.test('with input or data: the rule is evaluated for the replaced document', async (t) => {
  const { p, calls } = await setup();
  t.same(run(p, calls, 'with_input', { s: 'aa' }), ['bb', 'xb', 'bb', 'yb']);
  t.same([...calls], [['regex.replace', 3]], 'once for the evaluation, once per with');
  t.same(run(p, calls, 'with_data', {}), ['bb', 'xb', 'bb']);
  t.same([...calls], [['regex.replace', 2]]);
});

t.test('a mocked built-in does not leak into or out of the memo', async (t) => {
  const { p, calls } = await setup();
  t.same(run(p, calls, 'mocked', { s: 'aa' }), ['bb', 'm', 'bb']);
  t.same([...calls], [['regex.replace', 1]]);
});

t.test('functions with arguments are not memoised', async (t) => {
  const { p, calls } = await setup();
  t.same(run(p, calls, 'function_calls', { s: 'aa' }), ['bb', 'bb']);
  t.same([...calls], [['regex.replace', 2]]);
});
