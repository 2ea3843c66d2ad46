import t from 'tap';
import { evaluate, host } from './helpers.js';

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
});

t.test('json.filter and json.remove address array elements by index text only', async (t) => {
  const doc = { a: [10, 20] };
  t.same(h.call('json.filter', doc, [['a', 1]]), { a: [] }, 'a number segment selects no element');
  t.same(h.call('json.filter', doc, [['a', '1']]), { a: [20] });
  t.same(h.call('json.filter', doc, ['a/1']), { a: [20] });
  t.same(
    h.call('json.filter', doc, [
      ['a', 1],
      ['a', '0'],
    ]),
    { a: [10] },
    '1 and "1" are different segments',
  );
  t.same(h.call('json.remove', doc, [['a', 0]]), doc, 'a number segment removes nothing');
  t.same(h.call('json.remove', doc, [['a', '0']]), { a: [20] });
});

t.test('json.filter and json.remove: paths as OPA reads them', async (t) => {
  t.same(h.call('json.filter', { a: 1, b: 2 }, ['a/x']), { a: 1 }, 'a path past a scalar keeps it');
  t.same(h.call('json.filter', { a: 1 }, ['']), {}, 'an empty path selects nothing');
  t.same(h.call('json.filter', { a: 1, b: 2 }, ['', 'b']), { b: 2 });
  t.same(
    h.call('json.filter', { a: { b: 1, c: 2 } }, ['a/b', 'a']),
    { a: { b: 1, c: 2 } },
    'the shorter path wins',
  );
  t.same(h.call('json.filter', { a: { b: 1 } }, ['//a/b']), { a: { b: 1 } }, 'leading slashes dropped');
  t.same(h.call('json.remove', { a: 1 }, ['']), { a: 1 }, 'an empty path removes nothing');
  t.throws(() => h.call('json.filter', {}, [1]), {
    message:
      'eval_type_error: json.filter: operand 2 must be one of {set, array} containing string paths or array of path segments but got number',
  });
  t.throws(() => h.call('json.remove', {}, 'a'), {
    message: 'eval_type_error: json.remove: operand 2 must be one of {set, array} but got string',
  });
});

t.test('json.patch: any failing patch is undefined, even in strict mode', async (t) => {
  const failing: unknown[][] = [
    [{ op: 'nope', path: '/a' }],
    [{ op: 'add', path: '/a' }],
    [{ op: 'move', path: '/a' }],
    [{ path: '/a', value: 1 }],
    [{ op: 'add', path: 7, value: 1 }],
    ['not an object'],
    [{ op: 'remove', path: '/l/-' }],
    [{ op: 'add', path: '/l/01', value: 0 }],
    [{ op: 'add', path: '/l/3', value: 0 }],
    [{ op: 'add', path: '/l/x', value: 0 }],
    [{ op: 'test', path: '/a', value: 2 }],
    [{ op: 'remove', path: '' }],
  ];
  for (const ops of failing)
    t.equal(h.call('json.patch', { a: 1, l: [1, 2] }, ops), undefined, JSON.stringify(ops));
  t.throws(() => h.call('json.patch', {}, {}), {
    message: 'eval_type_error: json.patch: operand 2 must be array but got object',
  });
});

t.test('json.patch: paths, indexes and the root as OPA treats them', async (t) => {
  const doc = { a: 1, l: [1, 2] };
  t.same(
    h.call('json.patch', doc, [{ op: 'add', path: 'b', value: 2 }]),
    { ...doc, b: 2 },
    'no leading slash',
  );
  t.same(h.call('json.patch', doc, [{ op: 'add', path: ['l', 0], value: 0 }]), { a: 1, l: [0, 1, 2] });
  t.same(h.call('json.patch', doc, [{ op: 'add', path: '/l/-', value: 3 }]), { a: 1, l: [1, 2, 3] });
  t.same(
    h.call('json.patch', doc, [
      { op: 'remove', path: '' },
      { op: 'add', path: '', value: [7] },
    ]),
    [7],
    'add at the root after removing the root replaces it',
  );
  t.same(h.call('json.patch', doc, [{ op: 'replace', path: '', value: 'x' }]), 'x');
  t.same(h.call('json.patch', 5, [{ op: 'replace', path: '', value: 6 }]), 6, 'any value as the target');
});

t.test('json.patch on sets: a member only under its own key', async (t) => {
  const text = `package test

replace_other := json.patch({1, 2}, [{"op": "replace", "path": [1], "value": 3}])
replace_same := json.patch({1, 2}, [{"op": "replace", "path": [1], "value": 1}])
add_member := json.patch({1, 2}, [{"op": "add", "path": [3], "value": 3}])
add_other := json.patch({1, 2}, [{"op": "add", "path": [4], "value": 3}])
remove_member := json.patch({1, 2}, [{"op": "remove", "path": [2]}])
`;
  const out = await evaluate(text, { strict: true });
  t.same(out, { value: { replace_same: [1, 2], add_member: [1, 2, 3], remove_member: [1] } });
});
