import t from 'tap';
import {
  compare,
  decodeBytes,
  equal,
  plainCodec,
  RegoObject,
  RegoSet,
  taggedCodec,
  toJSONText,
  typeName,
  type Value,
} from '../../../../src/rego/builtins/host/index.js';

t.test('plain codec: JSON in, host values, JSON bytes out', async (t) => {
  const v = plainCodec.decode({ b: [1, 'x', null], a: true });
  t.ok(v instanceof RegoObject);
  t.equal(typeName(v), 'object');
  t.same((v as RegoObject).get('b'), [1, 'x', null]);
  t.equal(new TextDecoder().decode(plainCodec.encode(v)), '{"a":true,"b":[1,"x",null]}', 'keys sorted');
  const s = new RegoSet([3, 1, 2, 1]);
  t.equal(toJSONText(s, 'plain'), '[1,2,3]', 'sets become sorted arrays, duplicates gone');
  t.equal(toJSONText(2n ** 70n, 'plain'), '1180591620717411303424', 'big integers keep every digit');
  t.equal(toJSONText(1e21, 'plain'), '1000000000000000000000', 'no exponent for integral doubles');
});

t.test('tagged codec: lossless sets, non-string keys and big numbers', async (t) => {
  const wire = {
    o: [
      [1, { s: [2, 1] }],
      ['k', { n: '123456789012345678901234567890' }],
    ],
  };
  const v = taggedCodec.decode(wire);
  t.ok(v instanceof RegoObject);
  const o = v as RegoObject;
  t.ok(o.get(1) instanceof RegoSet, 'number key, set value');
  t.equal(o.get('k'), 123456789012345678901234567890n);
  const back = decodeBytes(taggedCodec, taggedCodec.encode(v));
  t.ok(equal(back, v), 'round trip');
  t.equal(
    new TextDecoder().decode(taggedCodec.encode(v)),
    '{"o":[[1,{"s":[1,2]}],["k",{"n":"123456789012345678901234567890"}]]}',
  );
  t.equal(taggedCodec.decode({ n: '12' }), 12, 'small tagged numbers become plain numbers');
  t.throws(() => taggedCodec.decode({ a: 1 }), /unknown form/, 'untagged objects are refused');
  t.throws(() => taggedCodec.decode({ o: [[1]] }), /\[key, value\]/);
});

t.test('OPA ordering: null < boolean < number < string < array < object < set', async (t) => {
  const values: Value[] = [
    new RegoSet([1]),
    RegoObject.fromRecord({ a: 1 }),
    [1, 2],
    'b',
    'a',
    2n ** 64n,
    1.5,
    -1,
    true,
    false,
    null,
  ];
  const sorted = [...values].sort(compare);
  t.same(
    sorted.map((v) => toJSONText(v, 'tagged')),
    [
      'null',
      'false',
      'true',
      '-1',
      '1.5',
      '{"n":"18446744073709551616"}',
      '"a"',
      '"b"',
      '[1,2]',
      '{"o":[["a",1]]}',
      '{"s":[1]}',
    ],
  );
  t.equal(compare([1, 2], [1, 2, 0]), -1, 'shorter array first');
  t.equal(compare(RegoObject.fromRecord({ a: 1 }), RegoObject.fromRecord({ a: 2 })), -1);
  t.equal(
    compare(RegoObject.fromRecord({ a: 1 }), RegoObject.fromRecord({ b: 0 })),
    -1,
    'keys compare first',
  );
  t.equal(compare('é', 'z'), 1, 'strings compare by code point');
  t.ok(equal(1, 1.0));
  t.ok(equal(new RegoSet([1, 2]), new RegoSet([2, 1])));
  t.notOk(equal(new RegoSet([1, 2]), [1, 2]), 'a set is not an array');
});
