import t from 'tap';
import { host } from './helpers.js';

const h = host();
const tagged = host({ wire: 'tagged' });

t.test('is_* and type_name', async (t) => {
  t.equal(h.call('is_string', 'a'), true);
  t.equal(h.call('is_string', 1), false, 'false, not undefined');
  t.equal(h.call('is_number', 1.5), true);
  t.equal(h.call('is_boolean', false), true);
  t.equal(h.call('is_null', null), true);
  t.equal(h.call('is_array', [1]), true);
  t.equal(h.call('is_object', { a: 1 }), true);
  t.equal(h.call('is_set', [1]), false, 'plain wire: an array is an array');
  t.equal(tagged.call('is_set', { s: [1] }), true, 'tagged wire: sets are sets');
  t.equal(tagged.call('is_object', { o: [] }), true);
  t.same(
    [null, true, 1, 's', [], { a: 1 }].map((v) => h.call('type_name', v)),
    ['null', 'boolean', 'number', 'string', 'array', 'object'],
  );
  t.equal(tagged.call('type_name', { s: [] }), 'set');
});

t.test('to_number', async (t) => {
  t.equal(h.call('to_number', null), 0);
  t.equal(h.call('to_number', true), 1);
  t.equal(h.call('to_number', 4.5), 4.5);
  t.equal(h.call('to_number', '-1.5e2'), -150);
  t.equal(h.text('to_number', '123456789012345678901'), '123456789012345678901', 'big integers exact');
  t.throws(
    () => h.call('to_number', 'x'),
    /^eval_builtin_error: to_number: strconv.ParseFloat: parsing "x": invalid syntax$/,
  );
  // Infinities and NaN, spelt any way Go's ParseFloat would take them, are OPA's type error.
  for (const text of ['nan', 'NaN', 'inf', 'iNf', 'Inf', '+inf', '-Infinity', 'INFINITY', '+-nan']) {
    t.throws(
      () => h.call('to_number', text),
      { message: 'eval_type_error: to_number: operand 1 must be valid number string but got string' },
      text,
    );
  }
  t.throws(() => h.call('to_number', 'infinite'), /^eval_builtin_error: .*invalid syntax$/, 'not a spelling');
  t.throws(() => h.call('to_number', '1e400'), /^eval_builtin_error: .*value out of range$/);
  t.throws(
    () => h.call('to_number', [1]),
    /operand 1 must be one of \{null, boolean, number, string\} but got array/,
  );
});
