// End to end: a policy compiled by Airlock, evaluated by the stock SDK with hostBuiltins().
import { loadPolicy } from '@open-policy-agent/opa-wasm';
import t from 'tap';
import { hostBuiltins, newEvaluation } from '../../../../src/rego/builtins/host/index.js';
import { compile } from '../../../../src/rego/compile.js';

const text = `package t

allow if {
	print("tool", input.tool, "by", input.user)
	glob.match("read_*", [], input.tool)
	net.cidr_contains("10.0.0.0/8", input.ip)
	regex.match(\`^[a-z]+$\`, input.user)
}

stable if uuid.rfc4122("k") == uuid.rfc4122("k")

now := time.now_ns()

bad_regex if regex.match("(", input.user)
`;

t.test('host built-ins through the compiler and the SDK', async (t) => {
  const out = compile({
    sources: [{ file: 't.rego', text }],
    entrypoints: ['t/allow', 't/stable', 't/now', 't/bad_regex'],
    annotatedEntrypoints: false,
    optimize: false,
  });
  t.same(
    out.errors.map((e) => e.message),
    [],
  );
  if (!out.wasm) return;
  const lines: string[] = [];
  let clock = 1_700_000_000_000_000_000n;
  const b = hostBuiltins({ strict: false, print: (m) => lines.push(m), now: () => clock });
  const p = await loadPolicy(out.wasm, undefined, b);
  const input = { tool: 'read_file', user: 'bob', ip: '10.1.2.3' };
  t.same(p.evaluate(input, 't/allow'), [{ result: true }]);
  t.same(lines, ['tool read_file by bob'], 'print reaches options.print');
  t.same(p.evaluate({ ...input, ip: '192.168.0.1' }, 't/allow'), [], 'outside the CIDR: undefined');
  t.same(p.evaluate(input, 't/stable'), [{ result: true }]);
  const first = p.evaluate({}, 't/now') as { result: number }[];
  clock += 5_000_000_000n;
  t.same(p.evaluate({}, 't/now'), first, 'one time per evaluation until newEvaluation');
  newEvaluation(b);
  t.not((p.evaluate({}, 't/now') as { result: number }[])[0]?.result, first[0]?.result);
  t.same(p.evaluate(input, 't/bad_regex'), [], 'bad regex: undefined when not strict');
  const strict = await loadPolicy(out.wasm, undefined, hostBuiltins({ strict: true }));
  t.throws(
    () => strict.evaluate(input, 't/bad_regex'),
    /eval_builtin_error: regex.match: error parsing regexp/,
  );
});
