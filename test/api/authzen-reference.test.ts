// AuthZEN with the reference policies (policies/): the docs' own example (docs/api.md) answers true,
// and the metadata document names configured or listener URLs, never the client's Host header.
import { request as httpRequest } from 'node:http';
import t from 'tap';
import { buildApi, decisionEvent } from '../../src/api/index.js';
import type { AuditEventInput } from '../../src/audit/index.js';
import { loadPolicyTree } from '../../src/cli/policy-files.js';
import { buildBundle, Engine, filesFromTarball } from '../../src/engine/index.js';

t.test('reference policies: the docs example is allowed', async (t) => {
  const tree = await loadPolicyTree(['policies']);
  const built = buildBundle(tree, { entrypoints: ['airlock/decision'], revision: 'reference' });
  const engine = new Engine();
  await engine.loadFiles(await filesFromTarball(built.tarball), 'policies');
  // The decision log as the audit store would receive it (no database needed here).
  const events: AuditEventInput[] = [];
  const { app } = await buildApi({
    access: { mode: 'unauthenticated', via: 'test' },
    engine,
    log: {
      decision: async (r) => {
        events.push(decisionEvent(r));
      },
      dataChange: async () => {},
    },
  });
  t.teardown(() => app.close());
  const docsExample = {
    subject: { type: 'user', id: 'alice', properties: { groups: ['eng'], agent: 'devops-agent' } },
    action: { name: 'tools/call' },
    resource: { type: 'tool', id: 'create_issue', properties: { server: 'github', annotations: {} } },
    context: { time: '2026-01-06T16:00:00Z' },
  };
  const r = await app.inject({
    method: 'POST',
    url: '/access/v1/evaluation',
    headers: { 'content-type': 'application/json', 'x-request-id': '42' },
    payload: docsExample,
  });
  t.equal(r.statusCode, 200);
  t.equal(r.headers['x-request-id'], '42');
  const body = r.json();
  t.same(Object.keys(body), ['decision', 'context']);
  t.equal(body.decision, true, JSON.stringify(body));
  t.same(Object.keys(body.context).sort(), ['effect', 'id', 'reason_user']);
  t.equal(body.context.effect, 'allow');
  t.same(body.context.reason_user, { reasons: [] });
  const ev = events.find((e) => e.decisionId === body.context.id);
  t.match(ev, {
    phase: 'request',
    effect: 'allow',
    user: { sub: 'alice' },
    agentId: 'devops-agent',
    target: { type: 'tool', name: 'create_issue' },
  });

  // The same user may not reach a tool its group lacks, nor a destructive one without approval.
  const other = await app.inject({
    method: 'POST',
    url: '/access/v1/evaluation',
    payload: {
      ...docsExample,
      resource: { type: 'tool', id: 'list_tickets', properties: { server: 'zendesk' } },
    },
  });
  t.equal(other.json().decision, false);
  t.same(other.json().context.reason_user, { reasons: ['tool list_tickets not found'] });
  const destructive = await app.inject({
    method: 'POST',
    url: '/access/v1/evaluation',
    payload: {
      ...docsExample,
      resource: { type: 'tool', id: 'delete_repo', properties: { server: 'github' } },
    },
  });
  t.equal(destructive.json().decision, false);
  t.equal(destructive.json().context.effect, 'require_approval');
});

t.test('metadata URLs come from configuration or the listener, never the Host header', async (t) => {
  const getWithHost = (url: string, host: string) =>
    new Promise<{ status: number; body: Record<string, string> }>((resolve, reject) => {
      const req = httpRequest(`${url}/.well-known/authzen-configuration`, { headers: { host } }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => {
          text += c.toString();
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
      });
      req.on('error', reject);
      req.end();
    });
  const engine = new Engine();
  const plain = await buildApi({ access: { mode: 'unauthenticated', via: 'test' }, engine });
  t.teardown(() => plain.app.close());
  const url = await plain.app.listen({ host: '127.0.0.1', port: 0 });
  const forged = await getWithHost(url, 'evil.example');
  t.equal(forged.status, 200);
  t.same(forged.body, {
    policy_decision_point: url,
    access_evaluation_endpoint: `${url}/access/v1/evaluation`,
    access_evaluations_endpoint: `${url}/access/v1/evaluations`,
  });
  t.notMatch(JSON.stringify(forged.body), /evil/);

  const configured = await buildApi({
    access: { mode: 'unauthenticated', via: 'test' },
    engine,
    authzenBaseUrl: 'https://pdp.corp.example/',
  });
  t.teardown(() => configured.app.close());
  const curl = await configured.app.listen({ host: '127.0.0.1', port: 0 });
  t.same((await getWithHost(curl, 'evil.example')).body, {
    policy_decision_point: 'https://pdp.corp.example',
    access_evaluation_endpoint: 'https://pdp.corp.example/access/v1/evaluation',
    access_evaluations_endpoint: 'https://pdp.corp.example/access/v1/evaluations',
  });
});
