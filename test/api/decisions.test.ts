// The native decision API: schema-checked input and output, fail closed.
import t from 'tap';
import { decisionValidators } from '../../src/api/index.js';
import { harness } from './harness.js';

const input = (sub: string, tool: string) => ({
  phase: 'request',
  action: 'tools/call',
  user: { sub, groups: ['eng'] },
  agent: { id: 'devops-agent' },
  model: { provider: 'anthropic', name: 'claude', attested: false },
  server: { name: 'github', virtual: 'devops' },
  tool: { name: tool, annotations: { destructiveHint: false } },
  arguments: { repo: 'corp/payments' },
  request: { id: 1, time: '2026-01-06T16:00:00Z' },
  approval: null,
});

t.test('schemas', async (t) => {
  const { input: vi, output: vo } = decisionValidators();
  t.ok(vi(input('alice', 'x')));
  t.notOk(vi({ ...input('alice', 'x'), phase: 'response' }), 'the response phase needs a result');
  t.ok(vi({ ...input('alice', 'x'), phase: 'response', result: { content: [] } }));
  t.notOk(vi({ ...input('alice', 'x'), user: {} }));
  t.ok(vo({ effect: 'allow', reasons: [] }));
  t.ok(
    vo({
      effect: 'redact',
      redact: { result: [{ path: '/content', pattern: 'pii.credit_card' }], arguments: ['/card_number'] },
    }),
  );
  t.ok(vo({ effect: 'require_approval', approval: { approvers: ['group:security'], ttl_seconds: 3600 } }));
  t.notOk(vo({ effect: 'require_approval' }), 'approval needs approvers');
  t.notOk(vo({ effect: 'maybe' }));
  t.notOk(vo({ effect: 'redact', redact: { result: ['no-slash'] } }), 'redactions are JSON Pointers');
  t.ok(
    vo({
      effect: 'allow',
      credentials: { mode: 'on_behalf_of', audience: 'https://api.github.example', scopes: ['repo:read'] },
    }),
  );
});

t.test('API', async (t) => {
  const h = await harness();
  t.teardown(h.close);
  const post = (payload: unknown) =>
    h.app.inject({
      method: 'POST',
      url: '/v1/decisions',
      payload: JSON.stringify(payload),
      headers: { 'content-type': 'application/json' },
    });

  const ok = (await post(input('alice', 'get_file'))).json();
  t.match(ok, { decision: { effect: 'allow' }, revision: 'api-1' });
  t.match(ok.decision_id, /^[0-9a-f-]{36}$/);
  t.equal((await post(input('alice', 'drop_table'))).json().decision.effect, 'deny');

  const bad = await post({ phase: 'sideways' });
  t.equal(bad.statusCode, 400);
  t.match(bad.headers['content-type'], /problem\+json/);
  t.match(bad.json().detail, /phase|action|user/);
});

t.test('fail closed: invalid, undefined or failing policies deny', async (t) => {
  const invalid = await harness('pglite', { decisionEntrypoint: 'airlock/echo' });
  t.teardown(invalid.close);
  const r = (
    await invalid.app.inject({ method: 'POST', url: '/v1/decisions', payload: input('alice', 'get_file') })
  ).json();
  t.equal(r.decision.effect, 'deny', 'the echoed input is not a decision');
  t.match(r.error, /does not match schema\/decision.schema.json/);

  const failing = await harness('pglite', { decisionEntrypoint: 'broken/always' });
  t.teardown(failing.close);
  const f = (
    await failing.app.inject({ method: 'POST', url: '/v1/decisions', payload: input('alice', 'get_file') })
  ).json();
  t.equal(f.decision.effect, 'deny');
  t.match(f.error, /broken\/always.*eval_conflict_error/);

  const missing = await harness('pglite', { decisionEntrypoint: 'airlock/nothing' });
  t.teardown(missing.close);
  const m = (
    await missing.app.inject({ method: 'POST', url: '/v1/decisions', payload: input('alice', 'get_file') })
  ).json();
  t.equal(m.decision.effect, 'deny');
});
