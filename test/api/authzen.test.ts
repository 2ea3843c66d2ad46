// OpenID AuthZEN Access Evaluation API 1.0 shapes.
import t from 'tap';
import { authzenInput } from '../../src/api/index.js';
import { harness } from './harness.js';

const request = (user: string, tool: string, extra: Record<string, unknown> = {}) => ({
  subject: { type: 'user', id: user, properties: { agent: 'devops-agent', groups: ['eng'] } },
  action: { name: 'tools/call' },
  resource: { type: 'tool', id: tool, properties: { server: 'github' } },
  context: { time: '2026-01-06T16:00:00Z' },
  ...extra,
});

t.test('request mapping onto the decision input', async (t) => {
  const input = authzenInput(request('alice', 'get_file'));
  t.match(input, {
    phase: 'request',
    action: 'tools/call',
    user: { sub: 'alice', groups: ['eng'] },
    agent: { id: 'devops-agent' },
    tool: { name: 'get_file' },
    server: { name: 'github' },
    context: { time: '2026-01-06T16:00:00Z' },
  });
  t.same(
    authzenInput({
      subject: { type: 'agent', id: 'a1' },
      action: { name: 'x' },
      resource: { type: 'doc', id: 'd1' },
    }).agent,
    { id: 'a1' },
  );
  t.throws(
    () => authzenInput({ action: { name: 'x' }, resource: { type: 'doc', id: 'd' } }),
    /subject must be an object/,
  );
  t.throws(
    () =>
      authzenInput({
        subject: { type: 'user', id: '' },
        action: { name: 'x' },
        resource: { type: 'doc', id: 'd' },
      }),
    /subject.id/,
  );
  t.throws(
    () =>
      authzenInput({ subject: { type: 'user', id: 'u' }, action: {}, resource: { type: 'doc', id: 'd' } }),
    /action must be an object with a non-empty name/,
  );
});

t.test('API', async (t) => {
  const h = await harness();
  t.teardown(h.close);
  const post = (url: string, payload: unknown, headers: Record<string, string> = {}) =>
    h.app.inject({
      method: 'POST',
      url,
      payload: JSON.stringify(payload),
      headers: { 'content-type': 'application/json', ...headers },
    });

  t.test('single evaluation: decision and context', async (t) => {
    const allow = await post('/access/v1/evaluation', request('alice', 'get_file'), {
      'x-request-id': 'req-42',
    });
    t.equal(allow.statusCode, 200);
    t.equal(allow.headers['x-request-id'], 'req-42', 'X-Request-ID is echoed');
    const body = allow.json();
    t.equal(body.decision, true);
    t.equal(body.context.effect, 'allow');
    t.match(body.context.id, /^[0-9a-f-]{36}$/);
    const deny = (await post('/access/v1/evaluation', request('alice', 'delete_repo'))).json();
    t.equal(deny.decision, false);
    t.same(deny.context.reason_user, { reasons: ['no rule allows this call'] });
    const events = (await h.store.query({ decisionId: body.context.id })).events;
    t.equal(events[0]?.effect, 'allow', 'logged with its decision id');
  });

  t.test('batch evaluations with defaults and semantics', async (t) => {
    const base = request('alice', 'get_file');
    const batch = {
      subject: base.subject,
      action: base.action,
      evaluations: [
        { resource: { type: 'tool', id: 'get_file' } },
        { resource: { type: 'tool', id: 'delete_repo' } },
        { resource: { type: 'tool', id: 'list_repos' } },
      ],
    };
    const all = (await post('/access/v1/evaluations', batch)).json();
    t.same(
      all.evaluations.map((e: { decision: boolean }) => e.decision),
      [true, false, true],
    );
    const firstDeny = (
      await post('/access/v1/evaluations', {
        ...batch,
        options: { evaluations_semantic: 'deny_on_first_deny' },
      })
    ).json();
    t.same(
      firstDeny.evaluations.map((e: { decision: boolean }) => e.decision),
      [true, false],
    );
    const firstPermit = (
      await post('/access/v1/evaluations', {
        ...batch,
        options: { evaluations_semantic: 'permit_on_first_permit' },
      })
    ).json();
    t.same(
      firstPermit.evaluations.map((e: { decision: boolean }) => e.decision),
      [true],
    );
    const noList = (await post('/access/v1/evaluations', base)).json();
    t.equal(noList.decision, true, 'without evaluations it behaves as a single evaluation');
  });

  t.test('bad requests: 400 problem details', async (t) => {
    const r = await post('/access/v1/evaluation', {
      subject: { type: 'user' },
      action: { name: 'x' },
      resource: { type: 't', id: 'i' },
    });
    t.equal(r.statusCode, 400);
    t.match(r.headers['content-type'], /application\/problem\+json/);
    t.match(r.json(), { status: 400, detail: /subject.id/ });
    const batch = await post('/access/v1/evaluations', { evaluations: [request('a', 'b'), { subject: 1 }] });
    t.equal(batch.statusCode, 400);
    t.match(batch.json().detail, /evaluations\[1\]/);
    const semantic = await post('/access/v1/evaluations', {
      evaluations: [],
      options: { evaluations_semantic: 'whatever' },
    });
    t.equal(semantic.statusCode, 400);
    const notJson = await h.app.inject({
      method: 'POST',
      url: '/access/v1/evaluation',
      payload: 'x',
      headers: { 'content-type': 'text/plain' },
    });
    t.equal(notJson.statusCode, 415);
    t.match(notJson.headers['content-type'], /problem\+json/);
    const deep = await h.app.inject({
      method: 'POST',
      url: '/access/v1/evaluation',
      payload: `{"context": ${'{"a":'.repeat(100)}1${'}'.repeat(100)}}`,
      headers: { 'content-type': 'application/json' },
    });
    t.equal(deep.statusCode, 400);
  });

  t.test('evaluation errors and non-decision results are false, never true', async (t) => {
    const failing = await harness('pglite', { decisionEntrypoint: 'broken/always' });
    t.teardown(failing.close);
    const r = await failing.app.inject({
      method: 'POST',
      url: '/access/v1/evaluation',
      payload: request('alice', 'get_file'),
    });
    t.equal(r.statusCode, 200);
    t.equal(r.json().decision, false);
    t.match(r.json().context.reason_admin.error, /broken\/always.*eval_conflict_error/);
    const echo = await harness('pglite', { decisionEntrypoint: 'airlock/echo' });
    t.teardown(echo.close);
    const e = await echo.app.inject({
      method: 'POST',
      url: '/access/v1/evaluation',
      payload: request('alice', 'get_file'),
    });
    t.equal(e.json().decision, false, 'a result that is not true nor {effect: allow} is false');
  });

  t.test('metadata', async (t) => {
    const r = (await h.app.inject({ method: 'GET', url: '/.well-known/authzen-configuration' })).json();
    t.match(r.access_evaluation_endpoint, /\/access\/v1\/evaluation$/);
    t.match(r.access_evaluations_endpoint, /\/access\/v1\/evaluations$/);
  });
});
