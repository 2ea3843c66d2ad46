// A policy that fails to evaluate (a conflict between complete rules) on each kind of gateway
// decision: list visibility, request phase, response phase. Each failure is a denied row "evaluation
// failed: …" keeping the rule's location as file:line:col; the agent gets PolicyUnavailable without
// any file path. The policy is read from an absolute directory, as `airlock serve` does.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import type { AuditStore } from '../../src/audit/index.js';
import { loadPolicyTree } from '../../src/cli/policy-files.js';
import { buildBundle, Engine } from '../../src/engine/index.js';
import { GatewayErrorCode } from '../../src/gateway/index.js';
import { connectClient, crmUpstream, rpcError, SUPPORT_PRINCIPAL, startAirlock } from './harness.js';

const dir = mkdtempSync(join(tmpdir(), 'airlock-conflict-'));
writeFileSync(
  join(dir, 'conflict.rego'),
  `package airlock

import rego.v1

decision := {"effect": "allow", "reasons": ["ok"], "visible_tools": ["lookup_customer"]}

decision := {"effect": "deny", "reasons": ["boom"]} if trigger

trigger if {
	input.action == "tools/list"
	input.user.sub == "eve"
}

trigger if {
	input.phase == "request"
	input.arguments.id == "boom"
}

trigger if {
	input.phase == "response"
	input.arguments.id == "late-boom"
}
`,
);
const tree = await loadPolicyTree([dir]);
const engine = new Engine();
await engine.activate(buildBundle(tree, { entrypoints: ['airlock/decision'] }).bundle, 'test');
const crm = await crmUpstream();
const airlock = await startAirlock(crm.url, {
  engine,
  topology: {
    upstreams: [{ name: 'crm', transport: 'http', url: crm.url, timeout_ms: 5000 }],
    virtual_servers: [{ name: 'support', upstreams: ['crm'] }],
  },
});
const store = airlock.store as AuditStore;
t.teardown(async () => {
  await airlock.close();
  await crm.close();
  rmSync(dir, { recursive: true, force: true });
});

const CLIENT_MESSAGE =
  'no policy decision, nothing forwarded: policy evaluation failed: airlock/decision: eval_conflict_error: rule data.airlock.decision produced conflicting values (complete rules must not produce multiple outputs)';
const AUDIT_REASON =
  /^evaluation failed: airlock\/decision: conflict\.rego:\d+:\d+: eval_conflict_error: rule data\.airlock\.decision produced conflicting values/;

t.test('list visibility, request and response phase: audited deny, no path for the agent', async (t) => {
  const sam = await connectClient(airlock.base);
  const eve = await connectClient(airlock.base, 'support', {
    ...SUPPORT_PRINCIPAL,
    user: { ...SUPPORT_PRINCIPAL.user, sub: 'eve' },
  });
  t.teardown(async () => {
    await sam.close();
    await eve.close();
  });
  t.same(
    (await sam.listTools()).tools.map((x) => x.name),
    ['crm__lookup_customer'],
    'the policy evaluates normally',
  );

  const failures = [
    { what: 'list visibility', run: () => eve.listTools(), phase: 'response', action: 'tools/list' },
    {
      what: 'request phase',
      run: () => sam.callTool({ name: 'crm__lookup_customer', arguments: { id: 'boom' } }),
      phase: 'request',
      action: 'tools/call',
    },
    {
      what: 'response phase',
      run: () => sam.callTool({ name: 'crm__lookup_customer', arguments: { id: 'late-boom' } }),
      phase: 'response',
      action: 'tools/call',
    },
  ];
  for (const f of failures) {
    const err = await rpcError(f.run());
    t.equal(err.code, GatewayErrorCode.PolicyUnavailable, f.what);
    t.equal(err.message, `MCP error -32003: ${CLIENT_MESSAGE}`, `${f.what}: the message names no file`);
    t.notMatch(JSON.stringify({ m: err.message, d: err.data }), dir);
    const id = (err.data as { decision_id: string }).decision_id;
    const { events } = await store.query({ decisionId: id });
    t.equal(events.length, 1, `${f.what}: one row for the failed evaluation`);
    t.match(events[0], {
      kind: 'decision',
      effect: 'deny',
      phase: f.phase,
      details: { action: f.action, evaluation_failed: true },
    });
    t.match(events[0]?.reasons, [AUDIT_REASON], `${f.what}: the reason keeps the rule location`);
    t.notMatch(JSON.stringify(events[0]), dir, 'no absolute path in the trail either');
  }
  t.same(
    crm.calls.map((c) => (c as { args: { id: string } }).args.id),
    ['late-boom'],
    'only the call whose response failed to evaluate reached the upstream',
  );
});
