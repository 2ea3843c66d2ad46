// What deciding an upstream's log message costs (one airlock/decision evaluation per message and
// per caller listening, docs/gateway.md "Relayed messages"): the reference policy in process, a
// plain and a structured log message, beside a tools/call decision measured in the same run.
//
//   npm run bench:log-messages            LOG_BENCH_ROUNDS=2000
import { loadPolicyTree } from '../src/cli/policy-files.js';
import { buildBundle, Engine } from '../src/engine/index.js';

const rounds = Number(process.env.LOG_BENCH_ROUNDS ?? 2000);

const tree = await loadPolicyTree(['policies']);
const engine = new Engine();
await engine.activate(
  buildBundle(tree, { entrypoints: ['airlock/decision'], revision: 'bench' }).bundle,
  'bench',
);

const caller = {
  phase: 'request',
  user: { sub: 'alice', email: 'alice@corp.example', groups: ['eng'], claims: {} },
  agent: { id: 'devops-agent', client_id: 'devops-agent', claims: {} },
  model: { provider: 'anthropic', name: 'claude-sonnet-4', attested: false },
  server: { name: 'github', virtual: 'devops' },
  request: { id: 'r1', time: '2026-01-06T16:00:00Z' },
  approval: null,
};
const inputs = {
  'tools/call (baseline)': {
    ...caller,
    action: 'tools/call',
    tool: { name: 'create_issue', annotations: {} },
    arguments: { repo: 'corp/payments', title: 'Flaky test' },
  },
  'notifications/message, plain text': {
    ...caller,
    action: 'notifications/message',
    arguments: { level: 'info', logger: 'db', data: 'slow query: 2.1 s on replica 2' },
  },
  'notifications/message, structured (a secret field, a card number)': {
    ...caller,
    action: 'notifications/message',
    arguments: {
      level: 'warning',
      logger: 'billing',
      data: { query: 'UPDATE invoices', password: 'hunter2', note: 'card 4111 1111 1111 1111 retried' },
    },
  },
};

for (const [name, input] of Object.entries(inputs)) {
  for (let i = 0; i < 100; i++) await engine.evaluate('airlock/decision', input); // warm-up
  const started = performance.now();
  for (let i = 0; i < rounds; i++) await engine.evaluate('airlock/decision', input);
  const us = ((performance.now() - started) / rounds) * 1000;
  const effect = ((await engine.evaluate('airlock/decision', input)).result as { effect: string }).effect;
  console.log(`${name.padEnd(68)} ${us.toFixed(1).padStart(8)} µs/evaluation  (${effect})`);
}
await engine.close();
