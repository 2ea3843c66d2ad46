// A number keeps the text it was written in (OPA's ast.Number is that text): 1.0 equals 1,
// but it is no integer operand and no array index. The tagged wire carries such a number as
// {"n": "1.0"} so the host can tell, end to end through the compiler and the stock SDK.
import t from 'tap';
import { evaluate, host } from './helpers.js';

t.test('json.patch: a number written 1.0 is no array index, but still an object key', async (t) => {
  const text = `package test

idx_int := json.patch({"l": [10, 20]}, [{"op": "replace", "path": ["l", 1], "value": 99}])
idx_float := json.patch({"l": [10, 20]}, [{"op": "replace", "path": ["l", 1.0], "value": 99}])
idx_exp := json.patch({"l": [10, 20]}, [{"op": "add", "path": ["l", 1e0], "value": 5}])
from_float := json.patch({"l": [10, 20], "m": 0}, [{"op": "move", "from": ["l", 0.0e1], "path": ["m"]}])
key_float := json.patch({"o": {1: "one"}}, [{"op": "replace", "path": ["o", 1.0], "value": "uno"}])
set_float := json.patch({"s": {1}}, [{"op": "remove", "path": ["s", 1.0]}])
half := json.patch({"l": [10, 20]}, [{"op": "replace", "path": ["l", 0.5], "value": 99}])
computed := json.patch({"l": [10, 20]}, [{"op": "replace", "path": ["l", 2 / 2], "value": 7}])
`;
  for (const strict of [false, true]) {
    t.same(
      await evaluate(text, { strict }),
      {
        value: {
          idx_int: { l: [10, 99] },
          key_float: { o: { '1': 'uno' } },
          set_float: { s: [] },
          // Arithmetic results are written as OPA writes them: 2 / 2 is 1.
          computed: { l: [10, 7] },
        },
      },
      `strict ${strict}`,
    );
  }
});

t.test('integer operands written 1.0 are refused as OPA refuses them', async (t) => {
  const text = `package test

sub_int := substring("abcdef", 1, 2)
sub_float := substring("abcdef", 1.0, 2)
slice_float := array.slice([1, 2, 3], 0, 2.0)
exact_bits := bits.lsh(1.0, 2)
`;
  t.same(await evaluate(text, { strict: false }), { value: { sub_int: 'bc', exact_bits: 4 } });
  const strict = await evaluate(text, { strict: true });
  t.match(
    strict.error,
    /eval_type_error: (substring|array\.slice): operand [23] must be integer number but got floating-point number/,
  );
});

t.test('the tagged wire decodes {"n": "1.0"} as the number 1', async (t) => {
  const h = host({ wire: 'tagged' });
  t.equal(h.text('abs', { n: '-1.0' }), '1');
  t.equal(h.text('abs', { n: '2e0' }), '2');
  t.throws(() => h.call('substring', 'abc', { n: '1.0' }, 1), {
    message: 'eval_type_error: substring: operand 2 must be integer number but got floating-point number',
  });
  t.equal(h.call('substring', 'abc', 1, 1), 'b');
});
