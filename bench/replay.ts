// Replay throughput: decisions replayed per second from an embedded PGlite trail against the
// reference policies (with a baseline and without), beside the baseline of this machine measured in
// the same run — the same inputs evaluated by a bare engine (one worker, 16 in flight), no database.
//
//   npm run bench:replay            REPLAY_BENCH_EVENTS=5000
//
// The trail is written through the decision API's own event builder (decisionEvent), so each event
// keeps its input exactly as `airlock serve` records it.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decisionEvent } from '../src/api/decision-log.js';
import { AuditStore } from '../src/audit/index.js';
import { loadPolicyTree } from '../src/cli/policy-files.js';
import { Engine } from '../src/engine/index.js';
import { candidateFromSources, replay } from '../src/replay/index.js';

const events = Number(process.env.REPLAY_BENCH_EVENTS ?? 5000);
const dir = mkdtempSync(join(tmpdir(), 'airlock-bench-replay-'));
const base = JSON.parse(
  readFileSync(new URL('../test/fixtures/decision-input.json', import.meta.url), 'utf8'),
);
const tools = ['create_issue', 'list_repos', 'get_file', 'delete_repo'];
const inputs = Array.from({ length: events }, (_, i) => ({
  ...base,
  tool: { ...base.tool, name: tools[i % tools.length] },
  arguments: { ...base.arguments, title: `issue ${i}` },
  request: { ...base.request, id: `req-${i}` },
}));

const tree = await loadPolicyTree([new URL('../policies', import.meta.url).pathname]);
const candidate = candidateFromSources(tree, 'policies/', { revision: 'bench' });
const store = await AuditStore.open({ dataDir: join(dir, 'data') });
try {
  const since = new Date(Date.now() - 1);
  const writing = performance.now();
  for (let i = 0; i < inputs.length; i += 256)
    await Promise.all(
      inputs.slice(i, i + 256).map((input, j) =>
        store.record(
          decisionEvent({
            decisionId: `d-${i + j}`,
            api: 'data',
            path: 'airlock/decision',
            input,
            defined: true,
            result: { effect: 'allow', reasons: [] },
            revision: 'recorded',
            evalMs: 0,
          }),
        ),
      ),
    );
  console.log(
    `trail: ${events} decision events written in ${((performance.now() - writing) / 1000).toFixed(1)} s`,
  );
  const until = new Date(Date.now() + 1);

  // Baseline: the bare engine on the same inputs, 16 in flight, no database.
  const engine = new Engine({ workers: 1 });
  await engine.activate(candidate.bundle, 'bench');
  let t0 = performance.now();
  for (let i = 0; i < inputs.length; i += 16)
    await Promise.all(inputs.slice(i, i + 16).map((x) => engine.evaluate('airlock/decision', x)));
  const bare = events / ((performance.now() - t0) / 1000);
  await engine.close();

  t0 = performance.now();
  const r1 = await replay({ db: store.db, candidate, since, until, limit: events });
  const alone = r1.replayed / ((performance.now() - t0) / 1000);
  t0 = performance.now();
  const r2 = await replay({ db: store.db, candidate, baseline: candidate, since, until, limit: events });
  const paired = r2.replayed / ((performance.now() - t0) / 1000);

  console.log(`bare engine (baseline)        ${bare.toFixed(0).padStart(7)} evaluations/s`);
  console.log(
    `replay                        ${alone.toFixed(0).padStart(7)} decisions/s  (${((alone / bare) * 100).toFixed(0)} % of the engine; ${r1.replayed} replayed, ${r1.changed} changed)`,
  );
  console.log(
    `replay with a baseline        ${paired.toFixed(0).padStart(7)} decisions/s  (${((paired / bare) * 100).toFixed(0)} % of the engine; two evaluations each)`,
  );
} finally {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
}
