// The audit guarantee under load, across a crash: a real `airlock serve` gateway (reference
// policies, a real OpenID provider and MCP upstream) answers concurrent `tools/call` from real SDK
// clients and is killed with SIGKILL in the middle of it. Every call that was answered must have its
// committed records — the request decision (allow) and the call's result — and the chain must still
// verify with `airlock audit verify`. On PGlite (a data directory) always; on a fresh Postgres
// database when DATABASE_URL is set.
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import t from 'tap';
import { type AuditEvent, AuditStore } from '../../src/audit/index.js';
import { main } from '../../src/cli/main.js';
import { DECISION_META_KEY } from '../../src/gateway/index.js';
import {
  type FleetDatabase,
  pgliteDatabase,
  postgresDatabase,
  startFleet,
} from '../helpers/gateway-fleet.js';

const CLIENTS = 6;
/** Answered calls before the kill. */
const BEFORE_KILL = 40;

interface Answered {
  query: string;
  decisionId: string;
}

/** Every event of the trail, read in this process. */
async function allEvents(db: FleetDatabase): Promise<AuditEvent[]> {
  const store = await AuditStore.open(
    db.name === 'pglite' ? { dataDir: db.config.data_dir! } : { databaseUrl: db.config.url! },
  );
  try {
    const events: AuditEvent[] = [];
    let after: number | undefined;
    for (;;) {
      const page = await store.query({ limit: 1000, ...(after === undefined ? {} : { after }) });
      events.push(...page.events);
      if (page.next === null) return events;
      after = page.next;
    }
  } finally {
    await store.close();
  }
}

// Child processes start slowly on a loaded 2-core machine (tsx, PGlite): this file's own bound.
t.setTimeout(600_000);

const fleet = await startFleet({ upstreamDelayMs: 10 });
t.teardown(() => fleet.close());
const alice = await fleet.token('alice', ['eng']);

const databases: (FleetDatabase | string)[] = [await pgliteDatabase(), await postgresDatabase('kill')];

for (const db of databases) {
  if (typeof db === 'string') {
    t.comment(`NOTICE: kill -9 under load on Postgres skipped: ${db}`);
    continue;
  }
  t.test(`kill -9 during load (${db.name}): every answered call has its records`, async (t) => {
    t.teardown(() => db.drop());
    const replica = await fleet.start(db);
    const agents: Client[] = [];
    for (let i = 0; i < CLIENTS; i++) agents.push(await fleet.agent(replica, alice));

    const answered: Answered[] = [];
    const wrong: string[] = [];
    let failed = 0;
    let killed = false;
    const exited = new Promise<NodeJS.Signals | null>((resolve) =>
      replica.proc.on('exit', (_code, signal) => resolve(signal)),
    );
    const load = agents.map(async (agent, c) => {
      for (let i = 0; !killed; i++) {
        const query = `kill-${c}-${i}`;
        try {
          const r = await agent.callTool({ name: 'github__search_code', arguments: { query } });
          if (r.isError) throw new Error(`tool error: ${JSON.stringify(r.content)}`);
          const text = (r.content as { text?: string }[])[0]?.text;
          if (text !== `found ${query}`) wrong.push(`${query}: answered ${JSON.stringify(r.content)}`);
          const decisionId = (r._meta as Record<string, unknown> | undefined)?.[DECISION_META_KEY];
          answered.push({ query, decisionId: String(decisionId) });
          if (answered.length >= BEFORE_KILL && !killed) {
            killed = true;
            replica.proc.kill('SIGKILL');
            // The calls in flight have no answer coming: once the process is gone, closing the
            // clients ends them now rather than at the SDK's 60 s request timeout.
            void exited.then(() => Promise.allSettled(agents.map((a) => a.close())));
          }
        } catch (err) {
          if (!killed) throw err;
          failed++;
          return;
        }
      }
    });
    await Promise.all(load);
    t.same(wrong, [], 'every answer is the upstream result of its own call');
    t.equal(await exited, 'SIGKILL', 'the gateway was killed with SIGKILL');
    t.ok(answered.length >= BEFORE_KILL, `${answered.length} calls answered before the kill`);
    t.ok(failed > 0, `${failed} calls were in flight when it died (no answer)`);
    t.comment(
      `${answered.length} answered, ${failed} cut off, ${fleet.upstreamCalls()} upstream calls so far`,
    );

    // The real command, in this process (a child would add a start-up on this busy machine).
    t.equal(
      await main(['audit', 'verify', '-q', ...db.flags]),
      0,
      'airlock audit verify passes after the kill',
    );
    const rows = await allEvents(db);
    const byDecision = new Map<string, AuditEvent[]>();
    for (const r of rows) {
      if (!r.decisionId) continue;
      const list = byDecision.get(r.decisionId) ?? [];
      list.push(r);
      byDecision.set(r.decisionId, list);
    }
    const missing: string[] = [];
    for (const a of answered) {
      const events = byDecision.get(a.decisionId) ?? [];
      const decision = events.find((e) => e.kind === 'decision' && e.phase === 'request');
      const result = events.find((e) => e.kind === 'call_result');
      if (decision?.effect !== 'allow' || decision.targetName !== 'search_code')
        missing.push(`${a.query}: no allow decision ${a.decisionId}`);
      else if (JSON.stringify(decision.arguments) !== JSON.stringify({ query: a.query }))
        missing.push(`${a.query}: the decision records other arguments`);
      if (!result) missing.push(`${a.query}: no call_result for ${a.decisionId}`);
      else if (decision && result.seq < decision.seq)
        missing.push(`${a.query}: the result precedes its decision`);
    }
    t.same(missing, [], 'every answered call: its allow decision and its result are committed');
    t.equal(new Set(answered.map((a) => a.decisionId)).size, answered.length, 'one decision per call');
  });
}
