import t from 'tap';
import { host } from './helpers.js';

const h = host();
const lax = host({ strict: false });

t.test('arithmetic with OPA rules', async (t) => {
  t.equal(h.call('plus', 1, 2), 3);
  t.equal(h.call('plus', 0.1, 0.2), 0.30000000000000004);
  t.equal(h.text('plus', 9007199254740991, 2), '9007199254740993', 'exact beyond 2^53');
  t.equal(h.text('mul', 4294967296, 4294967296), '18446744073709551616');
  t.equal(h.call('minus', 5, 7), -2);
  t.equal(h.call('div', 7, 2), 3.5);
  t.equal(h.call('div', 6, 3), 2);
  t.equal(h.call('rem', 7, 3), 1);
  t.equal(h.call('rem', -7, 3), -1, 'sign of the dividend');
  t.throws(() => h.call('div', 1, 0), /^eval_builtin_error: div: divide by zero$/);
  t.equal(lax.call('div', 1, 0), undefined, 'undefined when not strict');
  t.throws(() => h.call('rem', 1, 0), /rem: modulo by zero/);
  t.throws(() => h.call('rem', 1.5, 1), /modulo on floating-point number/);
  t.throws(() => h.call('plus', 'a', 1), /^eval_type_error: plus: operand 1 must be number but got string$/);
  t.equal(lax.call('plus', 'a', 1), undefined, 'a type error is undefined when not strict');
});

t.test('minus on sets and its errors', async (t) => {
  t.same(h.call('minus', [1, 2, 3], [2]), [1, 3]);
  t.throws(() => h.call('minus', [1], 1), /operand 2 must be set but got number/);
  t.throws(() => h.call('minus', 'x', 1), /operand 1 must be one of \{number, set\} but got string/);
});

t.test('rounding and ranges', async (t) => {
  t.equal(h.call('round', 2.5), 3);
  t.equal(h.call('round', -2.5), -3, 'half away from zero');
  t.equal(h.call('ceil', 1.2), 2);
  t.equal(h.call('floor', -1.2), -2);
  t.equal(h.call('abs', -4), 4);
  t.same(h.call('numbers.range', 1, 4), [1, 2, 3, 4]);
  t.same(h.call('numbers.range', 2, -1), [2, 1, 0, -1]);
  t.throws(
    () => h.call('numbers.range', 1.5, 3),
    /operand 1 must be integer number but got floating-point number/,
  );
  t.same(h.call('numbers.range_step', 0, 10, 4), [0, 4, 8]);
  t.same(h.call('numbers.range_step', 10, 0, 4), [10, 6, 2]);
  t.throws(() => h.call('numbers.range_step', 0, 10, 0), {
    message: 'eval_builtin_error: numbers.range_step: step must be a positive integer',
  });
  t.throws(() => h.call('numbers.range_step', 0, 10, 1.5), {
    message:
      'eval_type_error: numbers.range_step: operand 3 must be integer number but got floating-point number',
  });
  t.throws(() => h.call('numbers.range', 0, 1e9), /range of more than/);
});

t.test('bits', async (t) => {
  t.equal(h.call('bits.and', 12, 10), 8);
  t.equal(h.call('bits.or', 12, 10), 14);
  t.equal(h.call('bits.xor', 12, 10), 6);
  t.equal(h.call('bits.negate', 5), -6);
  t.equal(h.call('bits.lsh', 1, 3), 8);
  t.equal(h.text('bits.lsh', 1, 64), '18446744073709551616');
  t.equal(h.call('bits.rsh', -8, 1), -4);
  t.throws(
    () => h.call('bits.or', 7.2, 42),
    /bits.or: operand 1 must be integer number but got floating-point number/,
  );
  t.throws(
    () => h.call('bits.lsh', 1, -1),
    /operand 2 must be unsigned integer number but got negative integer/,
  );
});

t.test('aggregates', async (t) => {
  t.equal(h.call('sum', [1, 2, 3.5]), 6.5);
  t.equal(h.text('sum', [9007199254740991, 9007199254740991]), '18014398509481982');
  t.equal(h.call('product', [2, 3, 4]), 24);
  t.equal(h.call('product', []), 1);
  t.equal(h.call('max', [1, 'a', null]), 'a', 'strings above numbers');
  t.equal(h.call('min', [[1], 2, false]), false);
  t.equal(h.call('max', []), undefined);
  t.same(h.call('sort', [3, 'b', null, [1], 1, 'a', true]), [null, true, 1, 3, 'a', 'b', [1]]);
  t.throws(
    () => h.call('sum', [1, 'x']),
    /operand 1 must be array of numbers but got array containing string/,
  );
  // OPA asks these for "one of {set, array}" (in that order).
  for (const name of ['sum', 'product', 'max', 'min', 'sort'])
    t.throws(() => h.call(name, 3), {
      message: `eval_type_error: ${name}: operand 1 must be one of {set, array} but got number`,
    });
});

t.test('sets', async (t) => {
  t.same(h.call('and', [1, 2, 3], [2, 3, 4]), [2, 3]);
  t.same(h.call('or', [3, 1], [2, 1]), [1, 2, 3]);
  t.same(
    h.call('intersection', [
      [1, 2, 3],
      [2, 3],
      [3, 2, 9],
    ]),
    [2, 3],
  );
  t.same(h.call('union', [[1], [2, 1], []]), [1, 2]);
  t.same(h.call('intersection', []), []);
  t.throws(() => h.call('union', [1]), /operand 1 must be set of sets but got set containing number/);
  t.same(
    host({ wire: 'tagged' }).call('or', { s: [1] }, { s: [{ s: [] }] }),
    { s: [1, { s: [] }] },
    'sets stay sets on the tagged wire',
  );
});
