// Client input gets a precise 4xx in the surface's error shape, never a 500, and no internal text
// (host paths, database or validation messages) reaches clients. Runs on PGlite and, with
// DATABASE_URL, on Postgres (where NUL and lone surrogates fail to store).
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test as Tap } from 'tap';
import { auditDecisionLog, buildApi, publicEvaluationError } from '../../src/api/index.js';
import { loadPolicyTree } from '../../src/cli/policy-files.js';
import { buildBundle, Engine, EvaluationError, filesFromTarball } from '../../src/engine/index.js';
import { backends, fixtureBundle } from '../engine/fixture.js';
import { call, harness } from './harness.js';

const JSON_TYPE = { 'content-type': 'application/json' };

for (const backend of backends()) {
  t.test(backend, async (t) => {
    const h = await harness(backend);
    t.teardown(h.close);
    const inject = (method: 'GET' | 'POST', url: string, payload?: string) =>
      h.app.inject({ method, url, ...(payload !== undefined ? { payload, headers: JSON_TYPE } : {}) });
    type Res = Awaited<ReturnType<typeof inject>>;
    const opa400 = (t: Tap, r: Res, message: RegExp) => {
      t.equal(r.statusCode, 400, r.body);
      t.match(r.headers['content-type'], /^application\/json/);
      t.match(r.json(), { code: 'invalid_parameter', message });
    };
    const problem400 = (t: Tap, r: Res, detail: RegExp) => {
      t.equal(r.statusCode, 400, r.body);
      t.match(r.headers['content-type'], /^application\/problem\+json/);
      t.match(r.json(), { status: 400, detail });
    };

    t.test('a credential in the query string is refused on every surface', async (t) => {
      const valid = encodeURIComponent(JSON.stringify(call('alice')));
      const needle = /credentials must not be sent in the URL: remove the access_token query parameter/;
      for (const url of [
        `/v1/data/airlock/decision?input=${valid}&access_token=SECRET`,
        '/v1/data?access_token=SECRET',
      ]) {
        const r = await inject('GET', url);
        opa400(t, r, needle);
        t.notMatch(r.body, /SECRET/, 'the token is not echoed');
      }
      opa400(
        t,
        await inject(
          'POST',
          '/v1/data/airlock/decision?token=SECRET',
          JSON.stringify({ input: call('alice') }),
        ),
        /remove the token query parameter/,
      );
      opa400(t, await inject('POST', '/v1/data/airlock/decision?ACCESS_TOKEN=x', '{}'), needle);
      opa400(t, await inject('POST', '/v1/data/airlock/decision?access%5Ftoken=x', '{}'), needle);
      for (const [method, url] of [
        ['POST', '/access/v1/evaluation?access_token=SECRET'],
        ['GET', '/.well-known/authzen-configuration?access_token=SECRET'],
        ['POST', '/v1/decisions?access_token=SECRET'],
        ['GET', '/health?access_token=SECRET'],
        ['GET', '/metrics?token=SECRET'],
        ['GET', '/no/such/route?access_token=SECRET'],
      ] as const) {
        const r = await inject(method, url, method === 'POST' ? '{}' : undefined);
        problem400(t, r, /credentials must not be sent in the URL/);
        t.notMatch(r.body, /SECRET/);
      }
      // Refused before evaluation: nothing was decided, so nothing is in the trail for it.
      const before = (await h.store.query({})).events.length;
      await inject(
        'POST',
        '/v1/data/airlock/decision?access_token=x',
        JSON.stringify({ input: call('alice') }),
      );
      t.equal((await h.store.query({})).events.length, before, 'no decision was made');
    });

    t.test('lone surrogates, NUL and out-of-range numbers in a body: 400 naming where', async (t) => {
      const data = (input: string) => inject('POST', '/v1/data/airlock/decision', `{"input": ${input}}`);
      opa400(
        t,
        await data(
          '{"user": {"sub": "\\ud800"}, "agent": {"id": "devops-agent"}, "tool": {"name": "get_file"}}',
        ),
        /^body is refused: the string at \/input\/user\/sub holds a lone UTF-16 surrogate \(\\ud800\)$/,
      );
      opa400(
        t,
        await data('{"arguments": {"path": "a\\udc00b"}}'),
        /the string at \/input\/arguments\/path holds a lone UTF-16 surrogate \(\\udc00\)/,
      );
      opa400(
        t,
        await data('{"user": {"sub": "a\\u0000"}}'),
        /the string at \/input\/user\/sub holds U\+0000/,
      );
      opa400(
        t,
        await data('{"arguments": {"k\\u0000": 1}}'),
        /a member name under \/input\/arguments holds U\+0000/,
      );
      opa400(
        t,
        await data('{"arguments": {"n": 1e999}}'),
        /the number at \/input\/arguments\/n is out of range/,
      );
      t.equal(
        (await data('{"arguments": {"emoji": "\\ud83d\\ude00"}}')).statusCode,
        200,
        'a surrogate pair is fine',
      );

      opa400(
        t,
        await inject(
          'GET',
          `/v1/data/airlock/decision?input=${encodeURIComponent('{"user":{"sub":"\\ud800"}}')}`,
        ),
        /^the input parameter is refused: the string at \/user\/sub holds a lone UTF-16 surrogate/,
      );
      problem400(
        t,
        await inject(
          'POST',
          '/access/v1/evaluation',
          '{"subject": {"type": "user", "id": "alice\\u0000"}, "action": {"name": "tools/call"}, "resource": {"type": "tool", "id": "get_file"}}',
        ),
        /the string at \/subject\/id holds U\+0000/,
      );
      problem400(
        t,
        await inject(
          'POST',
          '/access/v1/evaluation',
          '{"subject": {"type": "user", "id": "alice"}, "action": {"name": "tools/\\ud800"}, "resource": {"type": "tool", "id": "get_file"}}',
        ),
        /the string at \/action\/name holds a lone UTF-16 surrogate/,
      );
      problem400(
        t,
        await inject('POST', '/v1/decisions', '{"phase": "request", "user": {"sub": "\\udfff"}}'),
        /the string at \/user\/sub holds a lone UTF-16 surrogate/,
      );
    });

    t.test('bad Data API paths and percent-encodings: 400, the URL not echoed', async (t) => {
      opa400(t, await inject('GET', '/v1/data/airlock%00/decision'), /must not hold control characters/);
      opa400(t, await inject('POST', '/v1/data/airlock/%00', '{}'), /must not hold control characters/);
      for (const url of ['/v1/data/airlock%zz', '/v1/data/airlock%', '/v1/data/a%ED%A0%80?access=x']) {
        const r = await inject('GET', url);
        opa400(t, r, /^the URL is not valid: it holds a malformed percent-encoding$/);
      }
      problem400(t, await inject('GET', '/access/%zz'), /malformed percent-encoding/);
    });

    t.test('repeated query parameters: 400 naming the parameter', async (t) => {
      opa400(
        t,
        await inject('GET', '/v1/data/airlock/decision?input={}&input={}'),
        /^input must be given once$/,
      );
      opa400(
        t,
        await inject('GET', '/v1/data/fixture/revision?pretty&pretty=true'),
        /^pretty must be given once$/,
      );
      opa400(
        t,
        await inject('POST', '/v1/data/fixture/revision?metrics&metrics', '{}'),
        /^metrics must be given once$/,
      );
      opa400(
        t,
        await inject('POST', '/v1/data/fixture/revision?provenance&provenance', '{}'),
        /provenance must be given once/,
      );
      t.equal(
        (await inject('GET', '/v1/data/fixture/revision?unknown=1&unknown=2')).statusCode,
        200,
        'unknown ones are ignored, as OPA does',
      );
    });

    t.test('ids the audit columns cannot hold are decided and recorded, not a 500', async (t) => {
      for (const sub of ['', 'x'.repeat(2000)]) {
        const r = await inject('POST', '/v1/data/airlock/decision', JSON.stringify({ input: call(sub) }));
        t.equal(r.statusCode, 200, r.body);
        const [ev] = (await h.store.query({ decisionId: r.json().decision_id })).events;
        t.equal(ev?.userSub, null);
        t.match(ev?.details, { unrecorded_fields: ['user.sub'] });
      }
      const long = await inject(
        'POST',
        '/access/v1/evaluation',
        JSON.stringify({
          subject: { type: 'user', id: 'alice' },
          action: { name: 'tools/call' },
          resource: { type: 'tool', id: 't'.repeat(1500) },
        }),
      );
      t.equal(long.statusCode, 200);
      t.equal(long.json().decision, false);
      // A non-decision result echoing a large input is summarised, not copied twice into the event.
      const big = 'y'.repeat(300_000);
      const echo = await inject(
        'POST',
        '/v1/data/airlock/echo',
        JSON.stringify({ input: { arguments: { big } } }),
      );
      t.equal(echo.statusCode, 200);
      const [ev] = (await h.store.query({ decisionId: echo.json().decision_id })).events;
      t.match(ev?.details, { result_omitted_bytes: Number });
    });

    t.test('evaluation errors keep the rule location, not the host path', async (t) => {
      const r = await inject('POST', '/v1/data/broken/always', JSON.stringify({ input: {} }));
      t.equal(r.statusCode, 500);
      t.equal(
        r.json().message,
        'broken/always: broken.rego:6:16: eval_conflict_error: rule data.broken.always produced conflicting values (complete rules must not produce multiple outputs)',
      );
      const z = await h.app.inject({
        method: 'POST',
        url: '/access/v1/evaluation',
        headers: JSON_TYPE,
        payload: {
          subject: { type: 'user', id: 'a' },
          action: { name: 'x' },
          resource: { type: 'doc', id: 'd' },
        },
      });
      t.equal(z.statusCode, 200);
      const failing = await buildApi({
        access: { mode: 'unauthenticated', via: 'test' },
        engine: h.engine,
        log: auditDecisionLog(h.store),
        decisionEntrypoint: 'broken/always',
      });
      t.teardown(() => failing.app.close());
      for (const [url, payload] of [
        [
          '/access/v1/evaluation',
          { subject: { type: 'user', id: 'a' }, action: { name: 'x' }, resource: { type: 'doc', id: 'd' } },
        ],
        ['/v1/decisions', { phase: 'request', action: 'tools/call', user: { sub: 'a' }, agent: { id: 'b' } }],
      ] as const) {
        const res = await failing.app.inject({ method: 'POST', url, headers: JSON_TYPE, payload });
        t.equal(res.statusCode, 200, res.body);
        t.match(res.body, /broken\.rego:6:16: eval_conflict_error: /);
        t.notMatch(res.body, /\/work|\/home|\/tmp|fixtures/, 'no host path');
      }
    });

    t.test('a failed audit write says so without the cause', async (t) => {
      const broken = await buildApi({
        access: { mode: 'unauthenticated', via: 'test' },
        engine: h.engine,
        log: {
          decision: async () => {
            throw new Error(
              'connect ECONNREFUSED 10.1.2.3:5432 at /srv/airlock/node_modules/pg/lib/client.js',
            );
          },
          dataChange: async () => {},
        },
      });
      t.teardown(() => broken.app.close());
      const r = await broken.app.inject({
        method: 'POST',
        url: '/v1/data/airlock/decision',
        headers: JSON_TYPE,
        payload: { input: call('alice') },
      });
      t.equal(r.statusCode, 503);
      t.same(r.json(), {
        code: 'internal_error',
        message: 'the decision could not be recorded in the audit trail, so none was made; try again later',
      });
      const p = await broken.app.inject({
        method: 'POST',
        url: '/v1/decisions',
        headers: JSON_TYPE,
        payload: { ...call('alice'), phase: 'request', action: 'tools/call' },
      });
      t.equal(p.statusCode, 503);
      t.equal(
        p.json().detail,
        'the decision could not be recorded in the audit trail, so none was made; try again later',
      );
    });

    t.test('a bundle without a revision decides normally; recorded with revision null', async (t) => {
      const engine = new Engine();
      await engine.loadFiles(await filesFromTarball(await fixtureBundle('')), 'test');
      t.equal(engine.bundle?.revision, '');
      const plain = await buildApi({
        access: { mode: 'unauthenticated', via: 'test' },
        engine,
        log: auditDecisionLog(h.store),
      });
      t.teardown(() => plain.app.close());
      const r = await plain.app.inject({
        method: 'POST',
        url: '/v1/data/airlock/decision?provenance',
        headers: JSON_TYPE,
        payload: { input: call('alice') },
      });
      t.equal(r.statusCode, 200, r.body);
      t.equal(r.json().result.effect, 'allow');
      t.same(r.json().provenance.bundles, { airlock: { revision: '' } });
      const [ev] = (await h.store.query({ decisionId: r.json().decision_id })).events;
      t.equal(ev?.effect, 'allow');
      t.equal(ev?.bundleRevision, null);
      const z = await plain.app.inject({
        method: 'POST',
        url: '/access/v1/evaluation',
        headers: JSON_TYPE,
        payload: {
          subject: { type: 'user', id: 'a' },
          action: { name: 'x' },
          resource: { type: 'doc', id: 'd' },
        },
      });
      t.equal(z.statusCode, 200);
    });
  });
}

t.test(
  'error locations: bundle paths when Airlock builds, file names for foreign absolute paths',
  async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'airlock-locations-'));
    mkdirSync(join(dir, 'lib'));
    writeFileSync(join(dir, 'lib', 'math.rego'), 'package lib.math\n\nhalf := 1 / input.d\n');
    const tree = await loadPolicyTree([dir]);
    const built = buildBundle(tree, { entrypoints: ['lib/math/half'] });
    // Strict: the built-in error fails the evaluation (otherwise the rule is undefined).
    const engine = new Engine({ strict: true });
    t.teardown(() => engine.close());
    await engine.loadFiles(await filesFromTarball(built.tarball), 'test');
    await t.rejects(engine.evaluate('lib/math/half', { d: 0 }), {
      message: 'lib/math/half: lib/math.rego:3:9: eval_builtin_error: div: divide by zero',
    });
    t.equal(
      publicEvaluationError(
        new EvaluationError('airlock/decision: /home/ci/src/policies/lib/pii.rego:12:3: eval_type_error: x'),
      ).message,
      'airlock/decision: pii.rego:12:3: eval_type_error: x',
    );
    t.equal(
      publicEvaluationError(new EvaluationError('a: C:\\build\\policies\\decision.rego:1:2: y')).message,
      'a: decision.rego:1:2: y',
    );
    t.equal(
      publicEvaluationError(new TypeError('x.trim is not a function')).message,
      'policy evaluation failed',
    );
  },
);
