// OPA's Data API as Envoy, Kong and nginx call it.
import t from 'tap';
import { backends } from '../engine/fixture.js';
import { ADMIN_TOKEN, call, harness, INTERN_TOKEN } from './harness.js';

for (const backend of backends()) {
  t.test(backend, async (t) => {
    const h = await harness(backend);
    t.teardown(h.close);
    const { app } = h;
    const post = (url: string, payload: unknown, headers: Record<string, string> = {}) =>
      app.inject({
        method: 'POST',
        url,
        payload: typeof payload === 'string' ? payload : JSON.stringify(payload),
        headers: { 'content-type': 'application/json', ...headers },
      });

    t.test('defined: result and decision_id; recorded in the audit trail', async (t) => {
      const r = await post('/v1/data/airlock/decision', { input: call('alice') });
      t.equal(r.statusCode, 200);
      t.match(r.headers['content-type'], /application\/json/);
      const body = r.json();
      t.same(Object.keys(body), ['result', 'decision_id']);
      t.same(body.result, { effect: 'allow', reasons: [], revision: 'api-1' });
      t.match(body.decision_id, /^[0-9a-f-]{36}$/);
      const page = await h.store.query({ decisionId: body.decision_id });
      const ev = page.events.find((e) => e.decisionId === body.decision_id);
      t.ok(ev, 'the decision is in the audit trail');
      t.equal(ev?.effect, 'allow');
      t.equal(ev?.userSub, 'alice');
      t.equal(ev?.targetName, 'get_file');
      t.equal(ev?.bundleRevision, 'api-1');
    });

    t.test('undefined: no result key', async (t) => {
      const r = await post('/v1/data/fixture/nothing', { input: {} });
      t.equal(r.statusCode, 200);
      t.same(Object.keys(r.json()), ['decision_id']);
    });

    t.test('data documents, packages and the whole tree', async (t) => {
      t.same((await post('/v1/data/fixture/revision', { input: {} })).json().result, 'api-1');
      const pkg = (await post('/v1/data/airlock', { input: { ...call('alice'), divisor: 4 } })).json().result;
      t.same(pkg.division, 0.25);
      t.same(pkg.decision.effect, 'allow');
    });

    t.test('curl -d (form content type) is read as JSON, as OPA does', async (t) => {
      const r = await app.inject({
        method: 'POST',
        url: '/v1/data/airlock/decision',
        payload: JSON.stringify({ input: call('alice') }),
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
      t.equal(r.json().result.effect, 'allow');
    });

    t.test('missing input: a warning, input undefined', async (t) => {
      const body = (await post('/v1/data/airlock/echo', {})).json();
      t.notOk('result' in body);
      t.same(body.warning, { code: 'api_usage_warning', message: "'input' key missing from the request" });
      const empty = await app.inject({ method: 'POST', url: '/v1/data/fixture/revision' });
      t.equal(empty.json().result, 'api-1', 'no body at all is fine');
    });

    t.test('GET with ?input=', async (t) => {
      const input = encodeURIComponent(JSON.stringify(call('alice')));
      const r = await app.inject({ method: 'GET', url: `/v1/data/airlock/decision?input=${input}` });
      t.equal(r.json().result.effect, 'allow');
      const bad = await app.inject({ method: 'GET', url: '/v1/data/airlock/decision?input=%7Bnope' });
      t.equal(bad.statusCode, 400);
      t.equal(bad.json().code, 'invalid_parameter');
    });

    t.test('?pretty, ?metrics, ?provenance', async (t) => {
      const pretty = await post('/v1/data/fixture/revision?pretty=true', { input: {} });
      t.match(pretty.body, /^\{\n {2}"result": "api-1",\n/);
      const m = (await post('/v1/data/airlock/decision?metrics', { input: call('alice') })).json();
      t.type(m.metrics.timer_rego_query_eval_ns, 'number');
      t.ok(m.metrics.timer_server_handler_ns >= m.metrics.timer_rego_query_eval_ns);
      const p = (await post('/v1/data/airlock/decision?provenance=true', { input: call('alice') })).json();
      t.same(p.provenance.bundles, { airlock: { revision: 'api-1' } });
      t.type(p.provenance.version, 'string');
      const plain = (await post('/v1/data/airlock/decision?metrics=false', { input: call('alice') })).json();
      t.notOk('metrics' in plain);
    });

    t.test('evaluation errors: 500 internal_error, and a deny in the audit trail', async (t) => {
      const r = await post('/v1/data/broken/always', { input: {} });
      t.equal(r.statusCode, 500);
      t.equal(r.json().code, 'internal_error');
      t.match(r.json().message, /eval_conflict_error/);
      const last = (await h.store.query({ kind: 'decision', limit: 1, order: 'desc' })).events[0];
      t.equal(last?.effect, 'deny', 'an error is logged as a deny');
      t.match(last?.reasons, [/evaluation failed: .*eval_conflict_error/]);
    });

    t.test('bad JSON, wrong shapes, wrong content type', async (t) => {
      const bad = await post('/v1/data/airlock/decision', '{"input": ');
      t.equal(bad.statusCode, 400);
      t.same(Object.keys(bad.json()).sort(), ['code', 'message']);
      t.equal(bad.json().code, 'invalid_parameter');
      const arr = await post('/v1/data/airlock/decision', [1, 2]);
      t.equal(arr.statusCode, 400);
      t.match(arr.json().message, /malformed input document/);
      const xml = await app.inject({
        method: 'POST',
        url: '/v1/data/airlock/decision',
        payload: '<input/>',
        headers: { 'content-type': 'application/xml' },
      });
      t.equal(xml.statusCode, 415);
      t.equal(xml.json().code, 'invalid_parameter');
      t.match(xml.json().message, /unsupported content type "application\/xml"/);
      const text = await app.inject({
        method: 'POST',
        url: '/v1/data/airlock/decision',
        payload: JSON.stringify({ input: call('alice') }),
        headers: { 'content-type': 'text/plain' },
      });
      t.equal(text.json().result.effect, 'allow', 'text/plain is read as JSON, as OPA does');
    });

    t.test('huge bodies: 413; deeply nested: 400', async (t) => {
      const huge = await post('/v1/data/airlock/echo', { input: { blob: 'x'.repeat(1024 * 1024 + 10) } });
      t.equal(huge.statusCode, 413);
      t.equal(huge.json().code, 'invalid_parameter');
      const deep = `{"input": ${'['.repeat(100)}${']'.repeat(100)}}`;
      const r = await post('/v1/data/airlock/echo', deep);
      t.equal(r.statusCode, 400);
      t.match(r.json().message, /nested deeper than 64/);
      const brackets = `{"input": "${'['.repeat(200)}"}`;
      t.equal(
        (await post('/v1/data/airlock/echo', brackets)).statusCode,
        200,
        'brackets inside strings do not count',
      );
    });

    t.test('live data: a revocation denies the very next decision', async (t) => {
      t.equal(
        (await post('/v1/data/airlock/decision', { input: call('bob') })).json().result.effect,
        'allow',
      );
      const put = await app.inject({
        method: 'PUT',
        url: '/v1/data/revocations/users/bob',
        payload: 'true',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_TOKEN}` },
      });
      t.equal(put.statusCode, 204);
      const next = (await post('/v1/data/airlock/decision', { input: call('bob') })).json();
      t.same(next.result, { effect: 'deny', reasons: ['user bob is revoked'] });
      const events = (await h.store.query({ kind: 'data_change' })).events.filter(
        (e) => e.kind === 'data_change',
      );
      t.ok(
        events.some(
          (e) => e.userSub === 'root' && JSON.stringify(e.details).includes('/revocations/users/bob'),
        ),
      );
    });

    t.test('live data writes: PATCH, DELETE, If-None-Match, errors', async (t) => {
      const auth = { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_TOKEN}` };
      const patch = await app.inject({
        method: 'PATCH',
        url: '/v1/data/revocations/users',
        payload: JSON.stringify([{ op: 'remove', path: '/bob' }]),
        headers: auth,
      });
      t.equal(patch.statusCode, 204);
      t.equal(
        (await post('/v1/data/airlock/decision', { input: call('bob') })).json().result.effect,
        'allow',
      );
      const badPatch = await app.inject({
        method: 'PATCH',
        url: '/v1/data/revocations',
        payload: '{"op":"add"}',
        headers: auth,
      });
      t.equal(badPatch.statusCode, 400);
      const missing = await app.inject({
        method: 'DELETE',
        url: '/v1/data/revocations/users/nobody',
        headers: { authorization: auth.authorization },
      });
      t.equal(missing.statusCode, 404);
      t.equal(missing.json().code, 'resource_not_found');
      const owned = await app.inject({
        method: 'PUT',
        url: '/v1/data/fixture/revision',
        payload: '"x"',
        headers: auth,
      });
      t.equal(owned.statusCode, 400);
      t.match(owned.json().message, /owned by the active bundle/);
      await app.inject({ method: 'PUT', url: '/v1/data/settings/mode', payload: '"a"', headers: auth });
      const again = await app.inject({
        method: 'PUT',
        url: '/v1/data/settings/mode',
        payload: '"b"',
        headers: { ...auth, 'if-none-match': '*' },
      });
      t.equal(again.statusCode, 304);
      t.equal((await post('/v1/data/settings/mode', {})).json().result, 'a');
    });

    t.test('writes need an admin credential and the admin policy', async (t) => {
      const none = await app.inject({
        method: 'PUT',
        url: '/v1/data/revocations/users/x',
        payload: 'true',
        headers: { 'content-type': 'application/json' },
      });
      t.equal(none.statusCode, 401);
      t.equal(none.json().code, 'unauthorized');
      const wrong = await app.inject({
        method: 'PUT',
        url: '/v1/data/revocations/users/x',
        payload: 'true',
        headers: { 'content-type': 'application/json', authorization: 'Bearer not-a-token' },
      });
      t.equal(wrong.statusCode, 401);
      const intern = await app.inject({
        method: 'PUT',
        url: '/v1/data/revocations/users/x',
        payload: 'true',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${INTERN_TOKEN}` },
      });
      t.equal(intern.statusCode, 401);
      t.match(intern.json().message, /administrative policy/);
      t.equal(
        (await post('/v1/data/revocations/users/x', {})).json().result,
        undefined,
        'nothing was written',
      );
    });

    t.test('no bundle: 503, health says why', async (t) => {
      const { Engine } = await import('../../src/engine/index.js');
      const { buildApi } = await import('../../src/api/index.js');
      const empty = await buildApi({
        engine: new Engine(),
        access: { mode: 'unauthenticated', via: 'test' },
      });
      t.teardown(() => empty.app.close());
      const r = await empty.app.inject({
        method: 'POST',
        url: '/v1/data/airlock/decision',
        payload: { input: {} },
      });
      t.equal(r.statusCode, 503);
      t.equal(r.json().code, 'internal_error');
      const health = await empty.app.inject({ method: 'GET', url: '/health' });
      t.equal(health.statusCode, 503);
      t.equal(health.json().status, 'unavailable');
      const write = await empty.app.inject({
        method: 'PUT',
        url: '/v1/data/x',
        payload: 'true',
        headers: { 'content-type': 'application/json' },
      });
      t.equal(write.statusCode, 501, 'no database: live data disabled');
    });

    t.test('health and metrics', async (t) => {
      const health = (await app.inject({ method: 'GET', url: '/health' })).json();
      t.equal(health.status, 'ok');
      t.equal(health.bundle.revision, 'api-1');
      t.equal(health.live_data.enabled, true);
      const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body;
      t.match(metrics, /airlock_decisions_total\{api="data",effect="allow"\} \d+/);
      t.match(metrics, /airlock_decisions_total\{api="data",effect="error"\} [1-9]/);
      t.match(metrics, /airlock_decision_duration_seconds_count\{api="data"\} [1-9]/);
      t.match(metrics, /airlock_bundle_info\{revision="api-1"\} 1/);
      t.match(metrics, /airlock_bundle_load_failures_total 0/);
    });

    t.test('unknown routes: 404 problem', async (t) => {
      const r = await app.inject({ method: 'GET', url: '/v2/nothing' });
      t.equal(r.statusCode, 404);
      t.match(r.headers['content-type'], /application\/problem\+json/);
    });
  });
}
