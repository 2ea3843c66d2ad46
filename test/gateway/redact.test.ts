import t from 'tap';
import { detectorRegExp, MASK, redactArguments, redactResult, replaceAt } from '../../src/gateway/redact.js';

t.test('argument pointers are masked; absent paths and inputs are left alone', async (t) => {
  const args = { card: '4111', nested: { 'a/b': 'x', list: ['keep', 'secret'] } };
  const out = redactArguments(args, [
    '/card',
    '/nested/a~1b',
    '/nested/list/1',
    '/missing',
    '/nested/list/9',
  ]);
  t.same(out, { card: MASK, nested: { 'a/b': MASK, list: ['keep', MASK] } });
  t.equal(args.card, '4111', 'input not mutated');
  t.throws(() => replaceAt({}, 'card', () => 1), /invalid JSON pointer/);
});

t.test('result patterns mask only the matches; unknown patterns mask the whole string', async (t) => {
  const result = {
    content: [
      { type: 'text', text: 'mail bob@corp.example now' },
      { type: 'text', text: 'x' },
    ],
  };
  const email = detectorRegExp('(?i)\\b[a-z0-9._%+-]+@[a-z0-9.-]+\\.[a-z]{2,}\\b');
  const out = redactResult(
    result,
    [
      { path: '/content/0/text', pattern: 'pii.email' },
      { path: '/content/1/text', pattern: 'pii.unknown' },
    ],
    (p) => (p === 'pii.email' ? email : undefined),
  );
  t.same(out, {
    content: [
      { type: 'text', text: `mail ${MASK} now` },
      { type: 'text', text: MASK },
    ],
  });
  t.equal(detectorRegExp('(?i)abc').flags, 'gi');
});
