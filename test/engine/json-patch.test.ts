import t from 'tap';
import { applyPatch, parsePatch, parsePointer } from '../../src/engine/json-patch.js';

t.test('RFC 6902 operations', async (t) => {
  const doc = { a: { b: [1, 2] }, c: 'x' };
  t.same(applyPatch(doc, parsePatch([{ op: 'add', path: '/a/b/1', value: 9 }])), {
    a: { b: [1, 9, 2] },
    c: 'x',
  });
  t.same(applyPatch(doc, parsePatch([{ op: 'add', path: '/a/b/-', value: 3 }])), {
    a: { b: [1, 2, 3] },
    c: 'x',
  });
  t.same(applyPatch(doc, parsePatch([{ op: 'remove', path: '/c' }])), { a: { b: [1, 2] } });
  t.same(applyPatch(doc, parsePatch([{ op: 'replace', path: '/c', value: 'y' }])), {
    a: { b: [1, 2] },
    c: 'y',
  });
  t.same(applyPatch(doc, parsePatch([{ op: 'move', from: '/c', path: '/d' }])), { a: { b: [1, 2] }, d: 'x' });
  t.same(applyPatch(doc, parsePatch([{ op: 'copy', from: '/a/b', path: '/e' }])), {
    a: { b: [1, 2] },
    c: 'x',
    e: [1, 2],
  });
  t.same(
    applyPatch(
      doc,
      parsePatch([
        { op: 'test', path: '/c', value: 'x' },
        { op: 'add', path: '/f', value: 1 },
      ]),
    ),
    { ...doc, f: 1 },
  );
  t.same(doc, { a: { b: [1, 2] }, c: 'x' }, 'the input is not mutated');
  t.same(applyPatch(undefined, parsePatch([{ op: 'add', path: '', value: { z: 1 } }])), { z: 1 });
  t.same(parsePointer('/a~1b/c~0d'), ['a/b', 'c~d']);
});

t.test('errors', async (t) => {
  t.throws(() => parsePatch({ op: 'add' }), /must be an array/);
  t.throws(() => parsePatch([{ op: 'frob', path: '/a' }]), /op must be one of/);
  t.throws(() => parsePatch([{ op: 'add', path: '/a' }]), /add needs value/);
  t.throws(() => parsePatch([{ op: 'move', path: '/a' }]), /move needs from/);
  t.throws(() => applyPatch({}, parsePatch([{ op: 'remove', path: '/nope' }])), /does not exist/);
  t.throws(() => applyPatch({ a: 1 }, parsePatch([{ op: 'test', path: '/a', value: 2 }])), /test failed/);
  t.throws(() => applyPatch({ a: [] }, parsePatch([{ op: 'add', path: '/a/5', value: 1 }])), /out of range/);
  t.throws(
    () => applyPatch({ a: {} }, parsePatch([{ op: 'move', from: '/a', path: '/a/b' }])),
    /into itself/,
  );
  t.throws(() => applyPatch({}, parsePatch([{ op: 'add', path: 'a', value: 1 }])), /must start with \//);
});
