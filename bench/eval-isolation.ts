// Section 6 of `npm run bench:eval`: the cost of evaluating off the main event loop. The reference
// decision (policies/ on test/fixtures/decision-input.json) evaluated in-thread by a PolicyInstance,
// and through the Engine's worker pool (input checked, posted to a worker, result posted back), in
// the same run: p50/p99 per decision in µs, and the difference.
import { readFileSync } from 'node:fs';
import { loadPolicyTree } from '../src/cli/policy-files.js';
import { buildBundle, Engine } from '../src/engine/index.js';
import { PolicyInstance } from '../src/engine/policy.js';

const N = Number(process.env.BENCH_EVAL_ISOLATION_N ?? 3000);

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function measure(fn: () => unknown, n: number): Promise<{ p50: number; p99: number }> {
  for (let i = 0; i < Math.min(500, n); i++) await fn();
  const xs: number[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    await fn();
    xs[i] = Number(process.hrtime.bigint() - t0) / 1000;
  }
  xs.sort((a, b) => a - b);
  return { p50: percentile(xs, 50), p99: percentile(xs, 99) };
}

const f = (x: number) => x.toFixed(1).padStart(8);

const tree = await loadPolicyTree([new URL('../policies', import.meta.url).pathname]);
const { bundle } = buildBundle(tree, { entrypoints: ['airlock/decision'], revision: 'bench' });
const input = JSON.parse(
  readFileSync(new URL('../test/fixtures/decision-input.json', import.meta.url), 'utf8'),
);

const inThread = await PolicyInstance.load(bundle);
inThread.setData(bundle.data);
const engine = new Engine({ workers: 2 });
await engine.activate(bundle, 'policies/');
const a = inThread.evaluate('airlock/decision', input).result as { effect?: string };
const b = (await engine.evaluate('airlock/decision', input)).result as { effect?: string };
if (a.effect !== b.effect) throw new Error(`in-thread ${a.effect} but pooled ${b.effect}`);

// Interleaved rounds, so that machine load affects both alike.
const direct: { p50: number; p99: number }[] = [];
const pooled: { p50: number; p99: number }[] = [];
for (let round = 0; round < 3; round++) {
  direct.push(await measure(() => inThread.evaluate('airlock/decision', input), N));
  pooled.push(await measure(() => engine.evaluate('airlock/decision', input), N));
}
const median = (xs: number[]) => xs.sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
const d = { p50: median(direct.map((x) => x.p50)), p99: median(direct.map((x) => x.p99)) };
const p = { p50: median(pooled.map((x) => x.p50)), p99: median(pooled.map((x) => x.p99)) };
console.log(`\nisolation: the reference decision (effect ${b.effect}), µs per decision, ${N} × 3 rounds`);
console.log(`                          p50      p99`);
console.log(`  in-thread          ${f(d.p50)} ${f(d.p99)}`);
console.log(`  worker pool        ${f(p.p50)} ${f(p.p99)}`);
console.log(`  cost of isolation  ${f(p.p50 - d.p50)} ${f(p.p99 - d.p99)}`);
await engine.close();
