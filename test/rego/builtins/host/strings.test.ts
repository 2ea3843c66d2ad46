import t from 'tap';
import { host } from './helpers.js';

const h = host();
const lax = host({ strict: false });

t.test('basic string functions (runes, Go semantics)', async (t) => {
  t.equal(h.call('concat', '/', ['a', 'b']), 'a/b');
  t.equal(h.call('contains', 'abc', 'b'), true);
  t.equal(h.call('startswith', 'abc', 'ab'), true);
  t.equal(h.call('endswith', 'abc', 'ab'), false);
  t.equal(h.call('indexof', 'héllo', 'l'), 2, 'rune index, not UTF-16 unit');
  t.equal(h.call('indexof', 'abc', 'z'), -1);
  t.same(h.call('indexof_n', 'aaa', 'aa'), [0, 1], 'overlapping');
  // OPA refuses an empty needle: a built-in error (strict), else undefined.
  for (const [name, hay] of [
    ['indexof', ''],
    ['indexof', 'abc'],
    ['indexof_n', 'abc'],
  ] as const) {
    t.throws(() => h.call(name, hay, ''), { message: `eval_builtin_error: ${name}: empty search character` });
    t.equal(
      lax.call(name, hay, ''),
      undefined,
      `${name}(${JSON.stringify(hay)}, "") undefined when not strict`,
    );
  }
  t.equal(h.call('lower', 'ÀB'), 'àb');
  t.equal(h.call('upper', 'àb'), 'ÀB');
  t.equal(h.call('upper', 'straße'), 'STRAßE', 'rune by rune, like Go (no expansion to SS)');
  t.equal(h.call('lower', 'İx'), 'ix');
  t.equal(h.call('replace', 'aXbX', 'X', '-'), 'a-b-');
  t.same(h.call('split', 'a,b,,c', ','), ['a', 'b', '', 'c']);
  t.same(h.call('split', 'a😀b', ''), ['a', '😀', 'b']);
  t.same(h.call('strings.split_n', 'a.b.c.d', '.', 2), ['a', 'b']);
  t.same(h.call('strings.split_n', 'a.b.c.d', '.', -2), ['c', 'd']);
  t.same(h.call('strings.split_n', 'a.b', '.', 0), []);
  t.equal(h.call('substring', 'h😀llo', 1, 3), '😀ll');
  t.equal(h.call('substring', 'hello', 1, -1), 'ello');
  t.equal(h.call('substring', 'hello', 9, 1), '');
  t.throws(() => h.call('substring', 'hello', -1, 1), /substring: negative offset/);
  t.throws(() => h.call('substring', 'hello', -1, 'x'), /substring: negative offset/, 'before operand 3');
  t.equal(h.call('trim', 'xxhixy', 'xy'), 'hi');
  t.equal(h.call('trim_left', 'xxhix', 'x'), 'hix');
  t.equal(h.call('trim_right', 'xxhix', 'x'), 'xxhi');
  t.equal(h.call('trim_prefix', 'prefix-x', 'prefix-'), 'x');
  t.equal(h.call('trim_suffix', 'x.txt', '.txt'), 'x');
  t.equal(h.call('trim_space', ' \t hi \n'), 'hi');
  t.equal(h.call('strings.reverse', 'a😀b'), 'b😀a');
  t.equal(h.call('strings.count', 'cheese', 'e'), 3);
  t.equal(h.call('strings.count', 'five', ''), 5);
  t.equal(h.call('format_int', 15.5, 16), 'f');
  t.equal(h.call('format_int', -10, 2), '-1010');
  t.throws(() => h.call('format_int', 1, 3), /operand 2 must be one of \{2, 8, 10, 16\}/);
});

t.test('replace_n applies pairs in key order at each position', async (t) => {
  t.equal(h.call('strings.replace_n', { a: '1', ab: '2', b: '3' }, 'abab'), '1313');
  t.equal(h.call('strings.replace_n', { '<': '&lt;', '>': '&gt;' }, '<a>'), '&lt;a&gt;');
  t.throws(
    () => h.call('strings.replace_n', { a: 1 }, 'a'),
    /operand 1 non-string value found in pattern object/,
  );
  t.throws(() => h.call('strings.replace_n', { a: 'b' }, 1), /operand 2 must be string but got number/);
});

t.test('any_prefix_match / any_suffix_match and their type errors', async (t) => {
  t.equal(h.call('strings.any_prefix_match', ['foo/bar', 'x'], ['foo/']), true);
  t.equal(h.call('strings.any_prefix_match', 'x', ['y', 'z']), false);
  t.equal(h.call('strings.any_suffix_match', 'a.txt', '.txt'), true);
  t.throws(
    () => h.call('strings.any_prefix_match', 'a', 1),
    /^eval_type_error: strings.any_prefix_match: operand 2 must be one of \{string, set, array\} but got number$/,
  );
  t.throws(
    () => h.call('strings.any_prefix_match', ['a', 1], 'a'),
    /operand 1 must be array of strings but got array containing number/,
  );
  t.equal(lax.call('strings.any_prefix_match', 1, 'a'), undefined);
});

t.test('sprintf with Go verbs', async (t) => {
  t.equal(h.call('sprintf', 'hi %s', ['there']), 'hi there');
  t.equal(h.call('sprintf', 'hi %v', [['there', 5, 3.14]]), 'hi ["there", 5, 3.14]');
  t.equal(h.call('sprintf', '%v', [{ b: 1, a: 'x' }]), '{"a": "x", "b": 1}');
  t.equal(h.call('sprintf', '%d|%5d|%-4d|%05d', [1, 2, 3, -4]), '1|    2|3   |-0004');
  t.equal(h.call('sprintf', '%.2f %e %g', [1.23456, 1234.5, 0.00001]), '1.23 1.234500e+03 1e-05');
  t.equal(h.call('sprintf', '%x %X %o %b %#x', [255, 255, 8, 5, 255]), 'ff FF 10 101 0xff');
  t.equal(h.call('sprintf', '%q %t', ['a"b', true]), '"a\\"b" true');
  t.equal(h.call('sprintf', '%d', [1.5]), '%!d(float64=1.5)');
  t.equal(h.call('sprintf', '%s %s', ['a']), 'a %!s(MISSING)');
  t.equal(h.call('sprintf', '100%%', []), '100%');
  t.equal(
    h.call('sprintf', '%s', [2 ** 70]),
    '1180591620717411303424',
    'integral doubles print without exponent',
  );
  t.equal(
    host({ wire: 'tagged' }).call('sprintf', '%d', [{ n: '123456789123456789123' }]),
    '123456789123456789123',
    'big integers exact',
  );
});

t.test('render_template', async (t) => {
  t.equal(
    h.call('strings.render_template', 'Hello {{.name}}, {{ .n }}!', { name: 'Bob', n: 3 }),
    'Hello Bob, 3!',
  );
  t.equal(h.call('strings.render_template', '{{.a.b}}', { a: { b: 'deep' } }), 'deep');
  t.equal(
    h.call('strings.render_template', '{{.a}} {{.l}} {{.n}}', { a: { y: 2, x: 'v' }, l: [1, 'b'], n: null }),
    'map[x:v y:2] [1 b] <no value>',
    'Go prints',
  );
  t.throws(() => h.call('strings.render_template', '{{.missing}}', {}), /map has no entry for key "missing"/);
  t.throws(() => h.call('strings.render_template', '{{range .x}}{{end}}', { x: [] }), /unsupported action/);
  t.equal(lax.call('strings.render_template', '{{.missing}}', {}), undefined);
});
