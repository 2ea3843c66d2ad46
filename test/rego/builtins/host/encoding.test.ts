import t from 'tap';
import { host } from './helpers.js';

const h = host();
const lax = host({ strict: false });
const tagged = host({ wire: 'tagged' });

t.test('json', async (t) => {
  t.equal(h.call('json.marshal', { b: [1, 'x'], a: null }), '{"a":null,"b":[1,"x"]}');
  t.equal(h.call('json.marshal', '<&>'), '"\\u003c\\u0026\\u003e"', 'HTML characters escaped like Go');
  t.equal(tagged.call('json.marshal', { s: [2, 1] }), '[1,2]', 'sets marshal as sorted arrays');
  t.equal(h.call('json.marshal_with_options', { a: [1] }, { pretty: true }), '{\n\t"a": [\n\t\t1\n\t]\n}');
  t.equal(
    h.call('json.marshal_with_options', { a: 1 }, { indent: '  ', prefix: '> ' }),
    '> {\n>   "a": 1\n> }',
  );
  t.equal(h.call('json.marshal_with_options', { a: 1 }, { pretty: false, indent: '  ' }), '{"a":1}');
  t.throws(() => h.call('json.marshal_with_options', 1, { bogus: 1 }), /unknown key bogus/);
  t.same(h.call('json.unmarshal', '{"a":[1,true]}'), { a: [1, true] });
  t.throws(() => h.call('json.unmarshal', '{"a":'), /^eval_builtin_error: json.unmarshal:/);
  t.equal(lax.call('json.unmarshal', 'nope'), undefined);
  t.equal(h.call('json.is_valid', '[1]'), true);
  t.equal(h.call('json.is_valid', '[1'), false);
  t.equal(h.call('json.is_valid', 5), false, 'not a string: false');
});

t.test('json schema', async (t) => {
  const schema = { properties: { id: { type: 'integer' } }, required: ['id'] };
  t.same(h.call('json.match_schema', { id: 5 }, schema), [true, []]);
  t.same(
    h.call('json.match_schema', '{"id": 5}', JSON.stringify(schema)),
    [true, []],
    'string document and schema',
  );
  t.same(h.call('json.match_schema', { id: 'foo' }, schema), [
    false,
    [
      {
        desc: 'Invalid type. Expected: integer, given: string',
        error: 'id: Invalid type. Expected: integer, given: string',
        field: 'id',
        type: 'invalid_type',
      },
    ],
  ]);
  t.same(h.call('json.match_schema', {}, schema), [
    false,
    [{ desc: 'id is required', error: '(root): id is required', field: '(root)', type: 'required' }],
  ]);
  t.same(
    (h.call('json.match_schema', { v: 1 }, { enum: [] }) as unknown[])[0],
    false,
    'an empty enum matches nothing',
  );
  t.throws(
    () => h.call('json.match_schema', {}, { properties: { id: { type: 'unknown' } } }),
    /json.match_schema: has a primitive type that is NOT VALID -- given: \/unknown\//,
  );
  t.same(h.call('json.verify_schema', schema), [true, null]);
  const [ok, err] = h.call('json.verify_schema', { type: 'nope' }) as [boolean, string];
  t.equal(ok, false);
  t.match(err, /NOT VALID/);
});

t.test('yaml', async (t) => {
  t.same(h.call('yaml.unmarshal', 'a: [1, b]\n'), { a: [1, 'b'] });
  t.equal(h.call('yaml.marshal', { a: [1] }), 'a:\n  - 1\n');
  t.equal(h.call('yaml.is_valid', 'a: [1'), false);
  t.equal(h.call('yaml.is_valid', 1), false);
  t.equal(h.call('yaml.is_valid', 'a: 1\n---\nb: 2\n'), true, 'every document of a stream');
  t.equal(h.call('yaml.is_valid', 'a: 1\n---\n\tb: 2\n'), false, 'a bad second document');
  t.throws(() => h.call('yaml.unmarshal', 'a: [1'), /yaml.unmarshal/);
});

t.test('base64, base64url, hex', async (t) => {
  t.equal(h.call('base64.encode', 'hello'), 'aGVsbG8=');
  t.equal(h.call('base64.decode', 'aGVsbG8='), 'hello');
  t.throws(
    () => h.call('base64.decode', 'aGVsbG8'),
    /illegal base64 data at input byte 4/,
    'padding is required',
  );
  t.throws(() => h.call('base64.decode', 'aGV$bG8='), /illegal base64 data at input byte 3/);
  t.equal(h.call('base64.is_valid', 'aGVsbG8='), true);
  t.equal(h.call('base64.is_valid', 'aGVsbG8'), false);
  t.equal(h.call('base64url.encode', '\u00ff\u00fe'), 'w7_Dvg==');
  t.equal(h.call('base64url.encode_no_pad', '\u00ff\u00fe'), 'w7_Dvg');
  t.equal(h.call('base64url.decode', 'w7_Dvg'), '\u00ff\u00fe', 'padding optional');
  t.equal(h.call('base64url.decode', 'w7_Dvg=='), '\u00ff\u00fe');
  t.throws(
    () => h.call('base64url.decode', 'w7+Dvg'),
    /illegal base64 data at input byte 2/,
    'standard alphabet refused',
  );
  t.equal(h.call('hex.encode', 'hi'), '6869');
  t.equal(h.call('hex.decode', '6869'), 'hi');
  t.throws(() => h.call('hex.decode', '6g'), /encoding\/hex: invalid byte: U\+0067 'g'/);
  t.throws(() => h.call('hex.decode', '686'), /odd length/);
});

t.test('urlquery', async (t) => {
  t.equal(h.call('urlquery.encode', 'a b&c=d/é'), 'a+b%26c%3Dd%2F%C3%A9');
  t.equal(h.call('urlquery.decode', 'a+b%26c%3Dd%2F%C3%A9'), 'a b&c=d/é');
  t.throws(() => h.call('urlquery.decode', '%zz'), /invalid URL escape "%zz"/);
  t.equal(h.call('urlquery.encode_object', { b: ['2', '1'], a: 'x y' }), 'a=x+y&b=2&b=1');
  t.same(h.call('urlquery.decode_object', 'a=1&b=2&a=3&c'), { a: ['1', '3'], b: ['2'], c: [''] });
});
