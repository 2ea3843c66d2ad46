// What a stage costs the call it wraps: the same awaited call bare, wrapped with tracing off (with
// and without the Prometheus histogram), and wrapped with tracing on (sampled, exported over
// OTLP/HTTP to a sink on loopback). Rounds are interleaved; each figure is the median round,
// printed beside the bare call measured in the same run.
//
//   npm run bench:telemetry        BENCH_TELEMETRY_N=100000 calls per variant and round
import { createServer } from 'node:http';
import { cpus, loadavg } from 'node:os';
import { Registry } from 'prom-client';
import { Stages, stageHistogram, startTracing } from '../src/telemetry/index.js';

const N = Number(process.env.BENCH_TELEMETRY_N ?? 100_000);
const ROUNDS = 5;

const work = async (): Promise<number> => 1;
const attributes = () => ({ 'airlock.phase': 'request', 'airlock.action': 'tools/call' });

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i++) await fn();
  return Number(process.hrtime.bigint() - t0) / N;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const bare = new Stages('gateway');
  const withHistogram = new Stages('gateway', stageHistogram(new Registry()));
  const variants: Record<string, () => Promise<unknown>> = {
    'bare call (baseline)': work,
    'stage, tracing off, no histogram': () => bare.run('evaluate', work, { attributes }),
    'stage, tracing off, histogram': () => withHistogram.run('evaluate', work, { attributes }),
  };
  const off: Record<string, number[]> = {};
  for (let r = 0; r < ROUNDS; r++)
    for (const [label, fn] of Object.entries(variants)) (off[label] ??= []).push(await timed(fn));

  // Tracing on: a sink that accepts every export.
  let exported = 0;
  const sink = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      exported++;
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r));
  const port = (sink.address() as { port: number }).port;
  const tracing = startTracing({ endpoint: `http://127.0.0.1:${port}/v1/traces`, exportDelayMs: 100 });
  const on: number[] = [];
  const baseline: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    baseline.push(await timed(work));
    on.push(await timed(() => withHistogram.run('evaluate', work, { attributes })));
  }
  await tracing.shutdown();
  sink.close();

  console.log(
    `${N} awaited calls per variant and round, ${ROUNDS} rounds interleaved, median round; ${cpus().length} cores, load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  const base = median(off['bare call (baseline)']!);
  const row = (label: string, ns: number, ref: number) =>
    console.log(
      `${label.padEnd(44)} ${ns.toFixed(0).padStart(7)} ns/call   +${(ns - ref).toFixed(0)} ns over the bare call`,
    );
  for (const [label, xs] of Object.entries(off)) row(label, median(xs), base);
  row('stage, tracing ON (sampled, exported), histogram', median(on), median(baseline));
  console.log(
    `(tracing on: bare call ${median(baseline).toFixed(0)} ns in the same rounds; ${exported} export requests; spans beyond the 2048-span queue are dropped by the batch processor)`,
  );
  console.log('a gateway tools/call runs 7 stages (authenticate, 3 evaluate, 2 audit, upstream)');
}

await main();
