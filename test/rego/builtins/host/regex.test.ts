import t from 'tap';
import { host } from './helpers.js';

const h = host();
const lax = host({ strict: false });

t.test('RE2 syntax: what JavaScript accepts but RE2 rejects is an error, never reinterpreted', async (t) => {
  t.equal(h.call('regex.is_valid', '(?=a)b'), false, 'lookahead');
  t.equal(h.call('regex.is_valid', '(?<=a)b'), false, 'lookbehind');
  t.equal(h.call('regex.is_valid', '(a)\\1'), false, 'backreference');
  t.equal(h.call('regex.is_valid', 'a{1001}'), false, 'repeat count above 1000');
  t.equal(h.call('regex.is_valid', 5), false, 'not a string');
  t.throws(
    () => h.call('regex.match', '(?=a)', 'a'),
    /^eval_builtin_error: regex.match: error parsing regexp: invalid or unsupported Perl syntax/,
  );
  t.equal(lax.call('regex.match', '(abc', 'abc'), undefined, 'bad pattern is undefined when not strict');
});

t.test('RE2 semantics that differ from JavaScript', async (t) => {
  t.equal(h.call('regex.match', 'a\\z', 'ba'), true, '\\z is end of text');
  t.equal(h.call('regex.match', 'a\\z', 'ba\n'), false);
  t.equal(h.call('regex.match', '^b$', 'a\nb'), false, 'no multi-line by default');
  t.equal(h.call('regex.match', '(?m)^b$', 'a\nb'), true, 'inline flags');
  t.equal(h.call('regex.match', '(?i)ABC', 'xabcx'), true);
  t.equal(h.call('regex.match', '(?s)a.b', 'a\nb'), true);
  t.equal(h.call('regex.match', 'a.b', 'a\nb'), false);
  t.equal(h.call('regex.match', '^\\p{Greek}+$', 'αβγ'), true, 'Unicode classes');
  t.equal(h.call('regex.match', '^[[:alpha:]]+$', 'abc'), true, 'POSIX classes');
  t.equal(h.call('regex.match', '^.$', '😀'), true, '. is one code point');
  t.equal(h.call('regex.match', '(?P<x>a)', 'a'), true, 'Go named groups');
});

t.test('find, split, replace with Go rules', async (t) => {
  t.same(h.call('regex.find_n', '[oa]+', 'foo bar baaz', -1), ['oo', 'a', 'aa']);
  t.same(h.call('regex.find_n', '[oa]+', 'foo bar baaz', 2), ['oo', 'a']);
  t.same(
    h.call('regex.find_n', 'a*', 'baaac', -1),
    ['', 'aaa', ''],
    'an empty match right after a match is dropped, as in Go',
  );
  t.same(h.call('regex.find_all_string_submatch_n', '([a-z]+)(\\d)?', 'ab1 cd', -1), [
    ['ab1', 'ab', '1'],
    ['cd', 'cd', ''],
  ]);
  t.same(h.call('regex.split', ',\\s*', 'a, b,c'), ['a', 'b', 'c']);
  t.same(h.call('regex.split', 'x*', 'axbc'), ['a', 'b', 'c']);
  t.same(h.call('regex.split', 'a', ''), ['']);
  t.equal(h.call('regex.replace', 'hello world', 'o(\\w)?', '[$1]'), 'hell[] w[r]ld');
  const braced = ['$', '{x}', '$', '{x}$$'].join('');
  t.equal(h.call('regex.replace', 'ab', '(?P<x>a)', braced), 'aa$b', 'braced names and $$');
  t.equal(h.call('regex.replace', 'ab', '(a)', '$1x'), 'b', '$1x names group "1x" (empty), like Go');
});

t.test('template_match', async (t) => {
  t.equal(h.call('regex.template_match', 'urn:foo:{.*}', 'urn:foo:bar:baz', '{', '}'), true);
  t.equal(
    h.call('regex.template_match', 'urn:foo.bar.com:{.*}', 'urn:foo.com:bar:baz', '{', '}'),
    false,
    'literal dots',
  );
  t.equal(h.call('regex.template_match', 'urn:foo:<[0-9]{2}>', 'urn:foo:42', '<', '>'), true);
  t.throws(() => h.call('regex.template_match', 'urn:{.*', 'urn:x', '{', '}'), /unbalanced/);
});

t.test('glob.match with delimiters', async (t) => {
  t.equal(h.call('glob.match', '*.github.com', [], 'api.github.com'), true);
  t.equal(
    h.call('glob.match', '*.github.com', [], 'api.cdn.github.com'),
    false,
    '* stops at the default delimiter "."',
  );
  t.equal(h.call('glob.match', '*.github.com', null, 'api.cdn.github.com'), true, 'null: no delimiters');
  t.equal(h.call('glob.match', '**.github.com', [], 'api.cdn.github.com'), true, '** crosses delimiters');
  t.equal(h.call('glob.match', '*:github:com', [':'], 'api:github:com'), true);
  t.equal(h.call('glob.match', '?at', [], 'cat'), true);
  t.equal(h.call('glob.match', '[!abc]at', [], 'cat'), false);
  t.equal(h.call('glob.match', '[a-c]at', [], 'bat'), true);
  t.equal(h.call('glob.match', '{cat,bat,[fr]at}', [], 'rat'), true);
  t.equal(h.call('glob.match', '{cat,bat}', [], 'dog'), false);
  t.equal(h.call('glob.match', 'a\\*b', [], 'a*b'), true);
  t.equal(h.call('glob.match', 'read_*', [], 'read_file'), true);
  t.equal(h.call('glob.match', 'a(b', [], 'a(b'), true, 'regex characters are literal');
  t.equal(h.call('glob.match', 'a-b', [], 'a-b'), true, 'a dash outside a class is a literal');
  t.equal(h.call('glob.match', 'claude-*', null, 'claude-sonnet-4'), true);
  t.equal(h.call('glob.match', 'x*', ['-'], 'x-y'), false, 'a dash can be a delimiter');
  t.equal(h.call('glob.match', '[!-]x', [], 'ax'), true, 'a dash inside a class');
  t.throws(() => h.call('glob.match', '[abc', [], 'a'), /glob.match: unexpected end of input/);
  t.throws(
    () => h.call('glob.match', '*', 'x', 'a'),
    /operand 2 must be one of \{null, array\} but got string/,
  );
  t.equal(h.call('glob.quote_meta', '*.github.com'), '\\*.github.com');
  t.equal(h.call('glob.quote_meta', '[a]{b}?\\'), '\\[a\\]\\{b\\}\\?\\\\');
  const q = h.call('glob.quote_meta', '*.git{hub}.com') as string;
  t.equal(h.call('glob.match', q, [], '*.git{hub}.com'), true, 'quoted text matches itself');
});

t.test('regex.globs_match: do two glob-like patterns share a string?', async (t) => {
  t.equal(h.call('regex.globs_match', 'a.a.[0-9]+z', '.b.b2359825792*594823z'), true);
  t.equal(
    h.call('regex.globs_match', '[a-z]+', '[0-9]*'),
    false,
    'only the empty string would do, and + needs one',
  );
  t.equal(h.call('regex.globs_match', 'a*', 'b*'), true, 'the empty string');
  t.equal(h.call('regex.globs_match', 'x[^a]y', 'x.y'), true);
  t.equal(h.call('regex.globs_match', 'xy', 'x.y'), false);
  t.equal(h.call('regex.globs_match', 'ab?c', 'a\\w*c'), true);
  t.throws(() => h.call('regex.globs_match', '(a|b)', 'a'), /unsupported glob syntax/);
});
