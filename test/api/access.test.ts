// The pieces of API access control that need no server: the path authz sees and the log limiter.
// (The hook itself is covered end to end by test/api/serve.test.ts, test/cli/serve-gateway.test.ts
// and test/security/api-access.test.ts.)
import t from 'tap';
import { authzPath, OPEN_PATHS, RateLimitedLog } from '../../src/api/access.js';

t.test('authz sees the path without its query, each segment decoded, a slash kept encoded', async (t) => {
  t.equal(authzPath('/v1/data/airlock/decision?pretty=true'), '/v1/data/airlock/decision');
  t.equal(authzPath('/v1/data/%61irlock/decision'), '/v1/data/airlock/decision', 'no bypass by encoding');
  t.equal(authzPath('/v1/data/a%2Fb'), '/v1/data/a%2Fb', 'an encoded slash does not make a new segment');
  t.equal(authzPath('/v1/data/%E0%A4%A'), '/v1/data/%E0%A4%A', 'a bad escape stays as sent');
  t.equal(authzPath('/health?x=1'), '/health');
  t.ok(OPEN_PATHS.has(authzPath('/health?verbose')), 'health stays open with a query');
  t.notOk(OPEN_PATHS.has(authzPath('/health/../v1/data')), 'only exact health paths are open');
});

t.test('the limiter logs once per interval per kind and counts what it held back', async (t) => {
  let now = 0;
  const log = new RateLimitedLog(1000, () => now);
  const emitted: [string, number][] = [];
  for (let i = 0; i < 5; i++) log.hit('a', (n) => emitted.push(['a', n]));
  log.hit('b', (n) => emitted.push(['b', n]));
  now = 1000;
  log.hit('a', (n) => emitted.push(['a', n]));
  t.same(emitted, [
    ['a', 0],
    ['b', 0],
    ['a', 4],
  ]);
});
