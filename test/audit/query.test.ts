// Query parameters as the HTTP API receives them (`GET /v1/audit?…`), checked without a database.
import t from 'tap';
import { auditQueryFromParams, InvalidQueryError } from '../../src/audit/index.js';

t.test('parameters map to a query', async (t) => {
  const q = auditQueryFromParams(
    new URLSearchParams(
      'user=alice&agent=devops-agent&model=claude-sonnet-4&tool=query_salaries&server=github&decision_id=d1&approval_id=a1' +
        '&kind=decision&effect=deny&since=2026-01-06T16:00:00Z&until=2026-01-06T18:00:00%2B02:00&after=1200&limit=50&order=desc',
    ),
  );
  t.same(q, {
    user: 'alice',
    agent: 'devops-agent',
    model: 'claude-sonnet-4',
    tool: 'query_salaries',
    server: 'github',
    decisionId: 'd1',
    approvalId: 'a1',
    kind: 'decision',
    effect: 'deny',
    since: new Date('2026-01-06T16:00:00Z'),
    until: new Date('2026-01-06T16:00:00Z'),
    after: 1200,
    limit: 50,
    order: 'desc',
  });
  t.same(
    auditQueryFromParams({ user: 'bob', tool: undefined }),
    { user: 'bob' },
    'undefined values are absent',
  );
  t.same(auditQueryFromParams({}), {});
});

t.test('bad parameters are refused precisely', async (t) => {
  const bad: [string, RegExp][] = [
    ['usr=alice', /unknown parameter "usr"/],
    ['user=a&user=b', /user given more than once/],
    ['user=', /user must be 1 to 1024 characters/],
    ['since=yesterday', /since must be an RFC 3339 time with a zone/],
    ['until=2026-01-06T16:00:00', /until must be an RFC 3339 time with a zone/],
    ['after=-1', /after must be a non-negative integer/],
    ['after=1e3', /after must be a non-negative integer/],
    ['limit=0', /limit must be an integer from 1 to 1000/],
    ['limit=1001', /limit must be an integer from 1 to 1000/],
    ['kind=everything', /kind must be one of decision/],
    ['effect=perhaps', /effect must be one of allow/],
    ['order=random', /order must be asc or desc/],
    ['since=2026-02-30T00:00:00Z', /since is not a valid time/],
  ];
  for (const [qs, why] of bad) {
    t.throws(() => auditQueryFromParams(new URLSearchParams(qs)), why, qs);
  }
  t.throws(() => auditQueryFromParams({ user: 'x'.repeat(2000) }), InvalidQueryError);
});
