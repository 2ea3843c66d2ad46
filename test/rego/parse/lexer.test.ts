import t from 'tap';
import { lex } from '../../../src/rego/parse/lexer.js';

const kinds = (src: string) => lex(src).tokens.map((k) => k.kind);

t.test('keywords, identifiers and punctuation', async (t) => {
  t.same(kinds('p contains x if { x in xs }'), [
    'ident',
    'contains',
    'ident',
    'if',
    '{',
    'ident',
    'in',
    'ident',
    '}',
    'eof',
  ]);
  t.same(kinds('a:=b==c!=d<=e>=f<g>h=i'), [
    'ident',
    ':=',
    'ident',
    '==',
    'ident',
    '!=',
    'ident',
    '<=',
    'ident',
    '>=',
    'ident',
    '<',
    'ident',
    '>',
    'ident',
    '=',
    'ident',
    'eof',
  ]);
  t.same(kinds('x+y-z*w/v%u|s&r'), [
    'ident',
    '+',
    'ident',
    '-',
    'ident',
    '*',
    'ident',
    '/',
    'ident',
    '%',
    'ident',
    '|',
    'ident',
    '&',
    'ident',
    'eof',
  ]);
  t.same(kinds('_x1 every_ some null true false'), [
    'ident',
    'ident',
    'some',
    'null',
    'true',
    'false',
    'eof',
  ]);
});

t.test('whitespace and line-break flags', async (t) => {
  const toks = lex('a[b] c\n  d').tokens;
  t.same(
    toks.map((k) => [k.text, k.spaceBefore, k.nlBefore]),
    [
      ['a', false, false],
      ['[', false, false],
      ['b', false, false],
      [']', false, false],
      ['c', true, false],
      ['d', true, true],
      ['', false, false],
    ],
  );
});

t.test('positions: 1-based lines, columns in code points, UTF-16 offsets', async (t) => {
  const toks = lex('x := "😀é"\n  y # z\n').tokens;
  const y = toks.find((k) => k.text === 'y')!;
  t.match(y, { line: 2, col: 3, offset: 13, end: 14 });
  const str = toks.find((k) => k.kind === 'string')!;
  t.match(str, { line: 1, col: 6, offset: 5, end: 10, value: '😀é' });
  const after = lex('"😀" z').tokens[1]!;
  t.equal(after.col, 5, 'a surrogate pair counts as one column');
  t.equal(after.offset, 5);
});

t.test('numbers keep their literal text', async (t) => {
  for (const n of ['0', '12', '3.25', '1e400', '1E-7', '2.5e+10', '123456789012345678901234567890']) {
    const [tok] = lex(n).tokens;
    t.equal(tok!.kind, 'number', n);
    t.equal(tok!.text, n);
  }
  const bad = lex('1. 2e 0x1');
  t.same(
    bad.errors.map((e) => [e.message, e.col]),
    [
      ['expected fraction digits after ".": 1.', 1],
      ['expected exponent digits: 2e', 4],
      ['illegal number format: 0x1', 7],
    ],
  );
});

t.test('strings: JSON escapes, surrogate pairs, raw strings', async (t) => {
  const v = (s: string) => lex(s).tokens[0]!.value;
  t.equal(v(String.raw`"a\"b\\c\/d\be\ff\ng\rh\ti"`), 'a"b\\c/d\be\ff\ng\rh\ti');
  t.equal(v(String.raw`"\u00e9\u4e2d"`), 'é中');
  t.equal(v(String.raw`"\ud83d\ude00"`), '😀', 'surrogate pair escapes combine');
  t.equal(v(String.raw`"\ud83d!"`), '\ufffd!', 'a lone surrogate becomes U+FFFD');
  const raw = lex('`a\\n\n"b"` x').tokens;
  t.equal(raw[0]!.value, 'a\\n\n"b"');
  t.equal(raw[0]!.raw, true);
  t.match(raw[1], { text: 'x', line: 2, col: 6 }, 'a raw string may span lines');
});

t.test('lexical errors carry exact positions', async (t) => {
  const r = lex('x := "ab\\qc"\ny := "open\nz := `never closed');
  t.same(
    r.errors.map((e) => [e.message, e.line, e.col]),
    [
      ['illegal escape sequence "\\\\q" in string', 1, 9],
      ['non-terminated string', 2, 6],
      ['non-terminated raw string', 3, 6],
    ],
  );
  const odd = lex('a @ b ! c');
  t.same(
    odd.errors.map((e) => [e.message, e.col]),
    [
      ['illegal character "@"', 3],
      ['illegal ! character (did you mean !=?)', 7],
    ],
  );
  t.same(lex('"\\u12"').errors.length, 1, 'short \\u escape is an error');
  t.match(
    lex('\ufeffp').tokens[0],
    { text: 'p', line: 1, col: 1, offset: 1 },
    'a leading byte-order mark is skipped',
  );
  t.same(
    lex('p\ufeff').errors.map((e) => e.message),
    ['illegal character "\ufeff"'],
    'a byte-order mark elsewhere is illegal',
  );
});

t.test('comments are collected, not tokens', async (t) => {
  const r = lex('# first\r\np := 1 # trailing\n#');
  t.same(
    r.comments.map((c) => [c.text, c.line, c.col]),
    [
      [' first', 1, 1],
      [' trailing', 2, 8],
      ['', 3, 1],
    ],
  );
  t.same(
    r.tokens.map((k) => k.text),
    ['p', ':=', '1', ''],
  );
});
