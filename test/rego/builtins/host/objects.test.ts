import t from 'tap';
import { host } from './helpers.js';

const h = host();
const tagged = host({ wire: 'tagged' });

t.test('object.*', async (t) => {
  t.equal(h.call('object.get', { a: 1 }, 'a', 0), 1);
  t.equal(h.call('object.get', { a: 1 }, 'b', 'dflt'), 'dflt');
  t.equal(
    h.call('object.get', { a: { b: [10, 20] } }, ['a', 'b', 1], 0),
    20,
    'paths through objects and arrays',
  );
  t.same(h.call('object.get', { a: 1 }, [], 0), { a: 1 }, 'empty path: the object');
  t.equal(h.call('object.get', { a: { b: 1 } }, ['a', 'x'], null), null);
  t.same(h.call('object.keys', { b: 1, a: 2 }), ['a', 'b']);
  t.same(h.call('object.remove', { a: 1, b: 2, c: 3 }, ['a', 'c']), { b: 2 });
  t.same(h.call('object.remove', { a: 1, b: 2 }, { b: true }), { a: 1 }, 'keys of an object operand');
  t.same(h.call('object.filter', { a: 1, b: 2, c: 3 }, ['a', 'c']), { a: 1, c: 3 });
  t.throws(() => h.call('object.filter', 'x', []), /object.filter: operand 1 must be object but got string/);
  t.throws(() => h.call('object.remove', 1, []), /object.remove: operand 1 must be object but got number/);
  t.same(h.call('object.union', { a: { x: 1, y: 1 }, b: 1 }, { a: { y: 2 }, c: 3 }), {
    a: { x: 1, y: 2 },
    b: 1,
    c: 3,
  });
  t.same(h.call('object.union_n', [{ a: 1 }, { a: 2, b: 1 }, { c: 1 }]), { a: 2, b: 1, c: 1 });
  t.throws(
    () => h.call('object.union_n', [{ a: 1 }, 2]),
    /operand 1 must be array of objects but got array containing number/,
  );
});

t.test('object.subset', async (t) => {
  t.equal(h.call('object.subset', { a: 5, b: { c: 1, d: 2 } }, { b: { c: 1 } }), true);
  t.equal(h.call('object.subset', { a: 5 }, { a: 6 }), false);
  t.equal(
    h.call('object.subset', { n: { arr: [6, 7, 8, 9] } }, { n: { arr: [6, 7] } }),
    true,
    'nested arrays by the subset rule',
  );
  t.equal(h.call('object.subset', { n: { arr: [6, 7] } }, { n: { arr: [6, 7, 8] } }), false);
  t.equal(h.call('object.subset', [1, 2, 3, 4], [2, 3]), true, 'arrays: a contiguous run');
  t.equal(h.call('object.subset', [1, 2, 3, 4], [2, 4]), false);
  t.equal(tagged.call('object.subset', { s: [1, 2, 3] }, { s: [3, 1] }), true, 'sets');
  t.equal(tagged.call('object.subset', [1, 2, 3], { s: [3, 1] }), true, 'array and set');
  t.equal(
    tagged.call('object.subset', { o: [['s', { s: [1, 2, 4] }]] }, { o: [['s', { s: [4, 1] }]] }),
    true,
    'nested sets',
  );
});

t.test('arrays', async (t) => {
  t.same(h.call('array.concat', [1], [2, 3]), [1, 2, 3]);
  t.throws(() => h.call('array.concat', {}, []), /array.concat: operand 1 must be array but got object/);
  t.same(h.call('array.slice', [1, 2, 3, 4], 1, 3), [2, 3]);
  t.same(h.call('array.slice', [1, 2, 3], -5, 10), [1, 2, 3], 'indices clamp');
  t.same(h.call('array.slice', [1, 2, 3], 2, 1), []);
  t.same(h.call('array.reverse', [1, 2, 3]), [3, 2, 1]);
  t.same(h.call('array.flatten', [[1, [2]], 3]), [1, [2], 3], 'one level');
});

t.test('walk and graphs', async (t) => {
  t.same(h.call('walk', { a: [1] }), [
    [[], { a: [1] }],
    [['a'], [1]],
    [['a', 0], 1],
  ]);
  t.same(
    tagged.call('walk', { s: [1] }),
    [
      [[], { s: [1] }],
      [[1], 1],
    ],
    'set members are their own path segment',
  );
  const g = { a: ['b'], b: ['c', 'a'], c: [], d: ['a'] };
  t.same(h.call('graph.reachable', g, ['a']), ['a', 'b', 'c']);
  t.same(h.call('graph.reachable', g, ['x']), [], 'unknown start nodes reach nothing');
  t.same(h.call('graph.reachable_paths', g, ['a']), [
    ['a', 'b'],
    ['a', 'b', 'c'],
  ]);
});

t.test('json.filter / json.remove / json.patch', async (t) => {
  const doc = { a: { b: 1, c: 2 }, d: [10, 20], e: 3 };
  t.same(h.call('json.filter', doc, ['a/b', 'd/1']), { a: { b: 1 }, d: [20] });
  t.same(h.call('json.filter', doc, [['a', 'c']]), { a: { c: 2 } });
  t.same(h.call('json.remove', doc, ['a/b', 'd/0', 'e']), { a: { c: 2 }, d: [20] });
  t.same(h.call('json.remove', { 'a/b': 1, x: 2 }, ['a~1b']), { x: 2 }, 'JSON pointer escapes');
  t.same(
    h.call('json.patch', { a: 1, l: [1, 2] }, [
      { op: 'add', path: '/b', value: 2 },
      { op: 'replace', path: '/a', value: 0 },
      { op: 'add', path: '/l/-', value: 3 },
      { op: 'remove', path: '/l/0' },
      { op: 'copy', from: '/b', path: '/c' },
      { op: 'move', from: '/c', path: '/m' },
      { op: 'test', path: '/m', value: 2 },
    ]),
    { a: 0, b: 2, l: [2, 3], m: 2 },
  );
  t.equal(
    h.call('json.patch', { a: 1 }, [{ op: 'test', path: '/a', value: 2 }]),
    undefined,
    'failed test: undefined',
  );
  t.equal(h.call('json.patch', { a: 1 }, [{ op: 'remove', path: '/zz' }]), undefined);
  t.throws(() => h.call('json.patch', {}, [{ op: 'nope', path: '/a' }]), /unknown patch op/);
});
