// OPA's rule for built-in errors, end to end (compiled policy, stock SDK, hostBuiltins):
// outside strict mode a failing call is undefined and evaluation goes on; in strict mode
// the error ends the evaluation. The same for built-ins the module runs itself (native)
// and those the host runs.
import t from 'tap';
import { evaluate } from './helpers.js';

t.test('a failing call in a function is undefined outside strict mode', async (t) => {
  const text = 'package test\n\nf(x) := x + 1\n\np := f("a")\n\nq := 1\n';
  t.same(await evaluate(text, { strict: false }), { value: { q: 1 } });
  const strict = await evaluate(text, { strict: true });
  t.equal(strict.error, 'test.rego:3:9: eval_type_error: plus: operand 1 must be number but got string');
});

t.test('count honours strict mode', async (t) => {
  const text = 'package test\n\np := count(input.a)\n';
  t.same(await evaluate(text, { strict: false, input: { a: null } }), { value: {} });
  t.same(await evaluate(text, { strict: false, input: { a: 'héllo' } }), { value: { p: 5 } });
  t.equal(
    (await evaluate(text, { strict: true, input: { a: null } })).error,
    'test.rego:3:6: eval_type_error: count: operand 1 must be one of {array, object, set, string} but got null',
  );
  t.equal((await evaluate(text, { strict: true, input: { a: 7 } })).error?.endsWith('but got number'), true);
});

// One rule (bad_…) per error path: native arithmetic, sets, aggregates and objects; native string
// built-ins that hand a wrong operand to the host; host built-ins.
const CASES = `package test

bad_div := 1 / input.zero
bad_rem := 7 % input.half
bad_or := input.set | input.arr
bad_sum := sum(input.strs)
bad_remove := object.remove(input.arr, [])
bad_prefix := startswith(input.n, "a")
bad_format := sprintf("%d", input.n)
bad_count := count(input.n)
bad_regex := regex.match(input.paren, "x")
bad_base64 := base64.decode(input.pct)
bad_number := to_number(input.word)
bad_upper := upper(input.n)
bad_negated if not 1 / input.zero == 1
fine := 1
bad_indexof := indexof(input.empty, input.empty)
bad_infinity := to_number(input.inf)
`;
const INPUT = {
  zero: 0,
  half: 1.5,
  set: [],
  arr: [1],
  strs: ['x'],
  n: 1,
  paren: '(',
  pct: '%%%',
  word: 'abc',
  empty: '',
  inf: '-Inf',
};
const FAILING: Record<string, RegExp> = {
  bad_div: /^test\.rego:3:\d+: eval_builtin_error: div: divide by zero$/,
  bad_rem: /^test\.rego:4:\d+: eval_builtin_error: rem: modulo on floating-point number$/,
  bad_or: /^test\.rego:5:\d+: eval_type_error: or: operand 1 must be set but got array$/,
  bad_sum: /^test\.rego:6:\d+: eval_type_error: sum: /,
  bad_remove: /^test\.rego:7:\d+: eval_type_error: object\.remove: operand 1 must be object but got array$/,
  bad_prefix: /eval_type_error: startswith: operand 1 must be string but got number$/,
  bad_format: /eval_type_error: sprintf: operand 2 must be array but got number$/,
  bad_count: /^test\.rego:10:\d+: eval_type_error: count: /,
  bad_regex: /eval_builtin_error: regex\.match: error parsing regexp: /,
  bad_base64: /eval_builtin_error: base64\.decode: illegal base64 data at input byte 0$/,
  bad_number: /eval_builtin_error: to_number: strconv\.ParseFloat: parsing "abc": invalid syntax$/,
  bad_upper: /eval_type_error: upper: operand 1 must be string but got number$/,
  bad_negated: /^test\.rego:15:\d+: eval_builtin_error: div: divide by zero$/,
  bad_indexof: /^test\.rego:17: eval_builtin_error: indexof: empty search character$/,
  bad_infinity:
    /^test\.rego:18: eval_type_error: to_number: operand 1 must be valid number string but got string$/,
};

t.test('every kind of built-in: undefined when not strict', async (t) => {
  const lax = await evaluate(CASES, { strict: false, input: INPUT });
  // A call nested in a negated expression runs before the `not` (OPA's compiler lifts it out,
  // ast/compile.go expandExpr), so its undefined result fails the body: `bad_negated` is undefined.
  t.same(lax, { value: { fine: 1 } });
});

t.test('every kind of built-in: the error when strict', async (t) => {
  for (const [rule, want] of Object.entries(FAILING)) {
    const out = await evaluate(CASES, { strict: true, input: INPUT, entrypoint: `test/${rule}` });
    t.match(out.error, want, rule);
  }
  t.same(await evaluate(CASES, { strict: true, input: INPUT, entrypoint: 'test/fine' }), { value: 1 });
});

t.test('strict mode: evaluation goes on after a built-in error, and a later conflict wins', async (t) => {
  // OPA records a built-in error and goes on (topdown evalBuiltin); an evaluation error (here a
  // conflict) ends the evaluation and is returned; otherwise the first built-in error is.
  const conflict = 'package test\n\na := to_number("x")\n\nb := v if some v in [1, 2]\n';
  const both = await evaluate(conflict, { strict: true });
  t.match(both.error, /eval_conflict_error/);
  t.same(await evaluate(conflict.replace('[1, 2]', '[1]'), { strict: true }), {
    error: 'test.rego:3: eval_builtin_error: to_number: strconv.ParseFloat: parsing "x": invalid syntax',
  });
  // The first of several built-in errors, native or host, is the one reported.
  const two = 'package test\n\na := 1 / input.zero\n\nb := to_number("x")\n';
  t.match(
    (await evaluate(two, { strict: true, input: { zero: 0 } })).error,
    /^test\.rego:3:\d+: eval_builtin_error: div: divide by zero$/,
  );
  t.same(await evaluate(two, { strict: false, input: { zero: 0 } }), { value: {} });
});
