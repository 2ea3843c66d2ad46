import t from 'tap';
import { keptInput, MAX_KEPT_INPUT_BYTES, maskedArguments, VALUE_MASK } from '../../src/audit/kept-input.js';

t.test('the input is kept without its arguments and result', async (t) => {
  const input = {
    action: 'tools/call',
    user: { sub: 'sam', groups: ['support'] },
    arguments: { a: 1 },
    result: { r: 2 },
  };
  t.same(keptInput(input), { input: { action: 'tools/call', user: { sub: 'sam', groups: ['support'] } } });
  t.same(input.arguments, { a: 1 }, 'the input itself is not changed');
  t.same(keptInput('text'), { input: 'text' });
  t.same(keptInput(null), { input: null });
  t.same(keptInput(undefined), { input_absent: true });
});

t.test('an input too large to keep is recorded by its size only', async (t) => {
  const big = { context: 'x'.repeat(MAX_KEPT_INPUT_BYTES) };
  const kept = keptInput(big);
  t.same(kept, { input_omitted_bytes: Buffer.byteLength(JSON.stringify(big)) });
  t.same(
    keptInput({ arguments: 'x'.repeat(MAX_KEPT_INPUT_BYTES * 2) }),
    { input: {} },
    'arguments do not count',
  );
});

t.test('members that may carry credentials keep their names, not their values', async (t) => {
  const input = {
    method: 'GET',
    headers: { 'x-api-key': 'sk-secret', host: 'app' },
    query: { token: 'abc' },
  };
  const kept = keptInput(input, { maskValuesOf: ['headers', 'query', 'absent'] });
  t.same(kept, {
    input: {
      method: 'GET',
      headers: { 'x-api-key': VALUE_MASK, host: VALUE_MASK },
      query: { token: VALUE_MASK },
    },
    input_masked: ['headers', 'query'],
  });
  t.notMatch(JSON.stringify(kept), /sk-secret|abc/);
});

t.test('masked argument pointers', async (t) => {
  t.same(maskedArguments(['/note']), { arguments_masked: ['/note'] });
  t.same(maskedArguments([]), {});
  t.same(maskedArguments(undefined), {});
});
