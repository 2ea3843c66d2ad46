// The approver API over real parts: fastify on inject, the reference policies compiled to Wasm with the
// `airlock/approve` entrypoint, the approval store and the audit trail on PGlite (and on Postgres when
// DATABASE_URL is set). Approvers are identified by a test header; the lead wires real identity.
import { fileURLToPath } from 'node:url';
import Fastify, { type FastifyInstance } from 'fastify';
import t, { type Test } from 'tap';
import { approvalsPlugin } from '../../src/api/approvals.js';
import type { AuditStore } from '../../src/audit/index.js';
import { loadPolicyTree } from '../../src/cli/policy-files.js';
import { buildBundle, Engine } from '../../src/engine/index.js';
import { ApprovalStore } from '../../src/gateway/approvals.js';
import { type Backend, pgliteBackend, postgresBackend } from '../audit/backends.js';
import { parkRequest } from '../gateway/approval-fixture.js';

const POLICIES = fileURLToPath(new URL('../../policies', import.meta.url));
const APPROVER = 'x-test-approver';

async function approvalEngine(): Promise<Engine> {
  const tree = await loadPolicyTree([POLICIES]);
  const built = buildBundle(tree, { entrypoints: ['airlock/decision', 'airlock/approve'] });
  const engine = new Engine();
  await engine.activate(built.bundle, 'test');
  return engine;
}

/** `x-test-approver: bob; security, ops` → {sub: bob, groups: [security, ops]}. */
async function testAuthenticate(request: { headers: Record<string, unknown> }) {
  const h = request.headers[APPROVER];
  if (typeof h !== 'string' || h === '') return undefined;
  const [sub = '', groups = ''] = h.split(';');
  return {
    sub: sub.trim(),
    groups: groups
      .split(',')
      .map((g) => g.trim())
      .filter(Boolean),
  };
}

interface Problem {
  type: string;
  title: string;
  status: number;
  detail?: string;
  reasons?: string[];
}

const as = (who: string) => ({ [APPROVER]: who });

// Compiled once for the file: both backends share it.
const engine = await approvalEngine();

function apiSuite(t: Test, backend: Backend): void {
  let clock = Date.parse('2026-01-06T16:00:00.000Z');
  const now = () => clock;
  let audit: AuditStore;
  let store: ApprovalStore;
  const apps: FastifyInstance[] = [];
  const build = async (options: { engine?: Engine; audit?: Pick<AuditStore, 'record'> } = {}) => {
    const app = Fastify({ logger: false });
    await app.register(approvalsPlugin, {
      store,
      engine: options.engine ?? engine,
      authenticate: testAuthenticate,
      audit: options.audit ?? audit,
      now,
    });
    apps.push(app);
    return app;
  };
  let app: FastifyInstance;

  t.before(async () => {
    audit = await backend.open();
    store = await ApprovalStore.open(audit.db, { now });
    app = await build();
  });
  t.teardown(async () => {
    for (const a of apps) await a.close();
    await store?.close();
    await audit?.close();
    await backend.teardown();
  });
  t.beforeEach(() => {
    clock += 86_400_000;
  });

  const problem = (
    t: Test,
    res: { statusCode: number; headers: Record<string, unknown>; json(): unknown },
    status: number,
    type: RegExp,
  ) => {
    t.equal(res.statusCode, status, `HTTP ${status}`);
    t.match(res.headers['content-type'], /^application\/problem\+json/);
    const body = res.json() as Problem;
    t.match(body, { type, title: String, status });
    return body;
  };

  t.test('list and get show the parked call, arguments included', async (t) => {
    const a = await store.park(parkRequest({ arguments: { id: 'c-1' } }));
    const list = await app.inject({
      method: 'GET',
      url: '/v1/approvals?status=pending&limit=50',
      headers: as('bob;security'),
    });
    t.equal(list.statusCode, 200);
    const approvals = list.json().approvals;
    t.same(
      approvals.map((x: { id: string }) => x.id),
      [a.id],
    );
    t.match(approvals[0], {
      id: a.id,
      status: 'pending',
      decision_id: a.decisionId,
      virtual: 'devops',
      upstream: 'crm',
      tool: 'delete_customer',
      arguments: { id: 'c-1' },
      arguments_hash: a.argumentsHash,
      requester: { sub: 'alice', agent: 'devops-agent' },
      approvers: ['group:security'],
      created_at: new Date(clock).toISOString(),
      expires_at: new Date(clock + 3_600_000).toISOString(),
      answered_by: null,
      answered_at: null,
      consumed_at: null,
    });
    const one = await app.inject({
      method: 'GET',
      url: `/v1/approvals/${a.id}`,
      headers: as('bob;security'),
    });
    t.equal(one.statusCode, 200);
    t.same(one.json(), approvals[0]);
    // Parked arguments are shown only to the requester and to those the policy lets answer.
    const mine = await app.inject({ method: 'GET', url: '/v1/approvals', headers: as('alice;eng') });
    t.ok(
      mine.json().approvals.some((x: { id: string }) => x.id === a.id),
      'the requester sees their own parked call',
    );
    const stranger = await app.inject({ method: 'GET', url: '/v1/approvals', headers: as('eve;eng') });
    t.notOk(
      stranger.json().approvals.some((x: { id: string }) => x.id === a.id),
      'someone who may not answer it does not see it',
    );
    problem(
      t,
      await app.inject({ method: 'GET', url: `/v1/approvals/${a.id}`, headers: as('eve;eng') }),
      404,
      /approval-not-found$/,
    );
    problem(
      t,
      await app.inject({
        method: 'GET',
        url: '/v1/approvals/00000000-0000-4000-8000-000000000000',
        headers: as('bob'),
      }),
      404,
      /approval-not-found$/,
    );
    problem(
      t,
      await app.inject({ method: 'GET', url: '/v1/approvals?status=bogus', headers: as('bob') }),
      400,
      /bad-request$/,
    );
    problem(
      t,
      await app.inject({ method: 'GET', url: '/v1/approvals?limit=0', headers: as('bob') }),
      400,
      /bad-request$/,
    );
  });

  t.test('unauthenticated callers get 401 everywhere; an unreachable IdP 503', async (t) => {
    const a = await store.park(parkRequest());
    for (const [method, url] of [
      ['GET', '/v1/approvals'],
      ['GET', `/v1/approvals/${a.id}`],
      ['POST', `/v1/approvals/${a.id}/approve`],
      ['POST', `/v1/approvals/${a.id}/deny`],
    ] as const) {
      const res = await app.inject({ method, url });
      problem(t, res, 401, /unauthenticated$/);
      t.equal(res.headers['www-authenticate'], 'Bearer');
    }
    t.equal((await store.get(a.id))?.status, 'pending');
    // An identity provider that cannot be reached is a 503, not the caller's 401.
    const down = Fastify({ logger: false });
    await down.register(approvalsPlugin, {
      store,
      engine,
      audit,
      now,
      authenticate: async () => {
        throw Object.assign(new Error('identity provider https://idp.example is unreachable'), {
          status: 503,
        });
      },
    });
    apps.push(down);
    const res = await down.inject({ method: 'POST', url: `/v1/approvals/${a.id}/approve` });
    problem(t, res, 503, /idp-unavailable$/);
    t.equal(res.headers['retry-after'], '5');
    t.equal((await store.get(a.id))?.status, 'pending');
  });

  t.test('an approver in the group approves; the answer is audited; a second answer is 409', async (t) => {
    const a = await store.park(parkRequest());
    const res = await app.inject({
      method: 'POST',
      url: `/v1/approvals/${a.id}/approve`,
      headers: as('bob;security'),
      payload: { reason: 'checked with the customer' },
    });
    t.equal(res.statusCode, 200, res.body);
    t.match(res.json(), {
      id: a.id,
      status: 'approved',
      answered_by: { sub: 'bob', groups: ['security'] },
      answered_at: new Date(clock).toISOString(),
      answer_reasons: ['checked with the customer'],
    });
    t.equal((await store.get(a.id))?.status, 'approved', 'stored');
    const { events: granted } = await audit.query({ approvalId: a.id });
    t.equal(granted.length, 1, 'one audit event');
    t.match(granted[0], {
      kind: 'approval_granted',
      decisionId: a.decisionId,
      userSub: 'bob',
      agentId: 'devops-agent',
      targetName: 'delete_customer',
      details: { requester: { sub: 'alice' }, arguments_hash: a.argumentsHash },
    });
    const again = await app.inject({
      method: 'POST',
      url: `/v1/approvals/${a.id}/deny`,
      headers: as('carol;security'),
    });
    problem(t, again, 409, /approval-answered$/);
    t.equal((await store.get(a.id))?.status, 'approved', 'unchanged');
  });

  t.test('deny, by a named user approver, without a body', async (t) => {
    const a = await store.park(parkRequest({ approvers: ['group:security', 'user:dana'] }));
    const res = await app.inject({ method: 'POST', url: `/v1/approvals/${a.id}/deny`, headers: as('dana') });
    t.equal(res.statusCode, 200, res.body);
    t.match(res.json(), { status: 'denied', answered_by: { sub: 'dana', groups: [] }, answer_reasons: [] });
    const { events } = await audit.query({ approvalId: a.id });
    t.same(
      events.map((e) => e.kind),
      ['approval_denied'],
      'approval_denied recorded',
    );
  });

  t.test('the requester may not approve their own call; non-approvers may not either', async (t) => {
    const a = await store.park(parkRequest());
    const own = problem(
      t,
      await app.inject({
        method: 'POST',
        url: `/v1/approvals/${a.id}/approve`,
        headers: as('alice;security'),
      }),
      403,
      /approval-forbidden$/,
    );
    t.same(own.reasons, ['the requester may not approve their own call'], "the policy's reasons");
    const outsider = problem(
      t,
      await app.inject({ method: 'POST', url: `/v1/approvals/${a.id}/approve`, headers: as('mallory;eng') }),
      403,
      /approval-forbidden$/,
    );
    t.same(outsider.reasons, ['approver mallory is not among group:security']);
    t.match(outsider.detail, /mallory is not among group:security/);
    t.equal((await store.get(a.id))?.status, 'pending', 'still pending');
  });

  t.test('an expired approval is 410, an unknown one 404', async (t) => {
    const a = await store.park(parkRequest({ ttlSeconds: 60 }));
    clock += 60_000;
    problem(
      t,
      await app.inject({ method: 'POST', url: `/v1/approvals/${a.id}/approve`, headers: as('bob;security') }),
      410,
      /approval-expired$/,
    );
    problem(
      t,
      await app.inject({
        method: 'POST',
        url: '/v1/approvals/00000000-0000-4000-8000-000000000000/approve',
        headers: as('bob;security'),
      }),
      404,
      /approval-not-found$/,
    );
    problem(
      t,
      await app.inject({ method: 'POST', url: '/v1/approvals/nope/approve', headers: as('bob;security') }),
      404,
      /approval-not-found$/,
    );
  });

  t.test('refused answers are recorded: who tried, on which parked call, why', async (t) => {
    const a = await store.park(parkRequest());
    const post = (id: string, verb: string, who: string) =>
      app.inject({ method: 'POST', url: `/v1/approvals/${id}/${verb}`, headers: as(who) });
    t.equal((await post(a.id, 'approve', 'alice;security')).statusCode, 403, 'self-approval');
    t.equal((await post(a.id, 'deny', 'mallory;eng')).statusCode, 403, 'not an approver');
    t.equal((await post(a.id, 'approve', 'bob;security')).statusCode, 200, 'the one good answer');
    t.equal((await post(a.id, 'deny', 'carol;security')).statusCode, 409, 'already answered');
    const refused = await audit.query({ approvalId: a.id, effect: 'deny', kind: 'decision' });
    t.same(
      refused.events.map((e) => [e.userSub, (e.details as { attempt: string }).attempt, e.reasons]),
      [
        ['alice', 'approve', ['approval answer refused: the requester may not approve their own call']],
        ['mallory', 'deny', ['approval answer refused: approver mallory is not among group:security']],
        ['carol', 'deny', [`approval answer refused: approval ${a.id} was already answered (approved)`]],
      ],
    );
    t.match(refused.events[0], {
      decisionId: a.decisionId,
      agentId: 'devops-agent',
      virtualServer: 'devops',
      upstreamServer: 'crm',
      targetName: 'delete_customer',
      userClaims: { groups: ['security'] },
      details: {
        refused: 'forbidden',
        requester: { sub: 'alice', agent: 'devops-agent' },
        policy_reasons: ['the requester may not approve their own call'],
      },
    });
    t.match(refused.events[2], { details: { refused: 'answered', status: 'approved' } });

    const late = await store.park(parkRequest({ ttlSeconds: 60, arguments: { id: 'late' } }));
    clock += 60_000;
    t.equal((await post(late.id, 'approve', 'bob;security')).statusCode, 410);
    const expired = await audit.query({ approvalId: late.id, effect: 'deny' });
    t.match(
      expired.events.map((e) => [e.userSub, e.details]),
      [['bob', { attempt: 'approve', refused: 'expired', status: 'expired' }]],
    );

    t.equal((await post('nope%00', 'approve', 'bob;security')).statusCode, 404, 'unknown id (with a NUL)');
    const unknown = await audit.query({ approvalId: 'nope\ufffd', effect: 'deny' });
    t.match(
      unknown.events.map((e) => [e.userSub, e.reasons, e.details, e.targetName]),
      [
        [
          'bob',
          ['approval answer refused: no such approval'],
          { attempt: 'approve', refused: 'unknown' },
          null,
        ],
      ],
      'recorded with the id as given, U+FFFD in place of the NUL',
    );
  });

  t.test('no policy bundle: 503, fail closed', async (t) => {
    const bare = await build({ engine: new Engine() });
    const a = await store.park(parkRequest());
    const res = await bare.inject({
      method: 'POST',
      url: `/v1/approvals/${a.id}/approve`,
      headers: as('bob;security'),
    });
    const body = problem(t, res, 503, /policy-unavailable$/);
    t.match(body.detail, /no policy bundle is active/);
    t.equal((await store.get(a.id))?.status, 'pending');
  });

  t.test('an audit write that fails: 503 and the approval stays pending', async (t) => {
    const broken = await backend.open();
    await broken.writer.close(); // a real writer that refuses every event
    const noAudit = await build({ audit: broken });
    const a = await store.park(parkRequest());
    const res = await noAudit.inject({
      method: 'POST',
      url: `/v1/approvals/${a.id}/approve`,
      headers: as('bob;security'),
    });
    problem(t, res, 503, /audit-unavailable$/);
    t.equal((await store.get(a.id))?.status, 'pending', 'no state change');
    await broken.close();
    const retry = await app.inject({
      method: 'POST',
      url: `/v1/approvals/${a.id}/approve`,
      headers: as('bob;security'),
    });
    t.equal(retry.statusCode, 200, 'the approver can answer again once the trail is back');
  });

  t.test('a bad body is a 400 problem', async (t) => {
    const a = await store.park(parkRequest());
    problem(
      t,
      await app.inject({
        method: 'POST',
        url: `/v1/approvals/${a.id}/approve`,
        headers: as('bob;security'),
        payload: { reason: 42 },
      }),
      400,
      /bad-request$/,
    );
    problem(
      t,
      await app.inject({
        method: 'POST',
        url: `/v1/approvals/${a.id}/approve`,
        headers: { ...as('bob;security'), 'content-type': 'application/json' },
        payload: '{nope',
      }),
      400,
      /bad-request$/,
    );
    t.equal((await store.get(a.id))?.status, 'pending');
  });
}

t.test('PGlite', async (t) => apiSuite(t, pgliteBackend()));

const postgres = await postgresBackend();
if (typeof postgres === 'string') {
  t.comment(`NOTICE: Postgres approvals API suite skipped: ${postgres}`);
  t.test(`Postgres (${postgres})`, { skip: postgres }, () => {});
} else t.test('Postgres', async (t) => apiSuite(t, postgres));
