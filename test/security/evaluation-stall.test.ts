// Finding "One input stalls everyone": a heavy input to the decision API must not hold up /health or
// other callers, and must itself end with an answer or a bounded error. A real `airlock serve`
// process with the reference policies; outcomes and orderings, no timings.
import { mkdtempSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { loadPolicyTree } from '../../src/cli/policy-files.js';
import { buildBundle } from '../../src/engine/index.js';
import { freshPgliteDir } from '../helpers/pglite-dir.js';
import { type AirlockProcess, startAirlockProcess } from './airlock-process.js';

const POLICIES = fileURLToPath(new URL('../../policies', import.meta.url));

// Building the reference bundle and starting a process take a while on a busy machine.
t.setTimeout(600_000);

const dir = mkdtempSync(join(tmpdir(), 'airlock-stall-'));
const bundle = join(dir, 'airlock.tar.gz');
const normal = JSON.parse(
  await readFile(new URL('../fixtures/decision-input.json', import.meta.url), 'utf8'),
) as Record<string, unknown>;

/** ~1 MB of tool output that looks like a customer export: e-mail addresses and card numbers. */
function piiResponse(): Record<string, unknown> {
  const rows: string[] = [];
  let size = 0;
  for (let i = 0; size < 1_000_000; i++) {
    const row = `customer-${i},jane.doe${i}@corp.example,4111 1111 1111 1111,GB82 WEST 1234 5698 7654 32`;
    rows.push(row);
    size += row.length + 1;
  }
  const text = rows.join('\n');
  return {
    ...normal,
    phase: 'response',
    tool: { name: 'get_file', annotations: {} },
    arguments: { path: 'customers.csv' },
    result: {
      content: Array.from({ length: 10 }, (_, i) => ({
        type: 'text',
        text: text.slice((i * text.length) / 10, ((i + 1) * text.length) / 10),
      })),
      isError: false,
    },
  };
}

function manyKeys(): Record<string, unknown> {
  const args: Record<string, string> = {};
  for (let i = 0; i < 100_000; i++) args[`k${i}`] = `v${i}`;
  return { ...normal, arguments: args };
}

interface Outcome {
  status: number;
  body: unknown;
}

async function post(base: string, input: unknown): Promise<Outcome> {
  const res = await fetch(`${base}/v1/data/airlock/decision`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ input }),
  });
  return { status: res.status, body: await res.json() };
}

let airlock: AirlockProcess;

t.before(async () => {
  // Built in this process (one compiler run, no extra CLI process on a busy machine).
  const tree = await loadPolicyTree([POLICIES]);
  const built = buildBundle(tree, { entrypoints: ['airlock/decision', 'airlock/admin'], revision: 'stall' });
  await writeFile(bundle, built.tarball);
  airlock = await startAirlockProcess({
    config: {
      addr: '127.0.0.1:0',
      bundle: { source: bundle },
      database: { data_dir: await freshPgliteDir(join(dir, 'data')) },
      limits: { body_bytes: 4 * 1024 * 1024 },
      log_level: 'warn',
    },
    timeoutMs: 180_000,
  });
});

t.teardown(() => airlock?.stop());

for (const [name, heavyInput] of [
  ['a ~1 MB PII-like response-phase input', piiResponse()],
  ['a 100k-key input', manyKeys()],
] as const) {
  t.test(`${name} does not hold up /health or a normal decision`, async (t) => {
    const order: string[] = [];
    const heavy = post(airlock.url, heavyInput).then((o) => {
      order.push('heavy');
      return o;
    });
    const health = fetch(`${airlock.url}/health`).then(async (r) => {
      order.push('health');
      return r.status;
    });
    const decision = post(airlock.url, normal).then((o) => {
      order.push('decision');
      return o;
    });
    t.equal(await health, 200);
    const d = await decision;
    t.equal(d.status, 200);
    t.match(d.body, { result: { effect: 'allow' } }, 'the normal decision is decided on its merits');
    const h = await heavy;
    t.ok(h.status === 200 || (h.status >= 400 && h.status < 600), `the heavy request ended (${h.status})`);
    if (h.status === 200) t.type((h.body as { result?: unknown }).result, 'object');
    else t.match(h.body, { code: String, message: String }, 'a bounded error, in OPA shape');
    t.same(order.slice(-1), ['heavy'], 'the others were answered before the heavy request');
    t.equal((await fetch(`${airlock.url}/health`)).status, 200, 'and the service still answers');
  });
}

t.test('an input over the input limits is a 413 in OPA shape', async (t) => {
  const wide = {
    ...normal,
    arguments: Object.fromEntries(Array.from({ length: 300_000 }, (_, i) => [`${i}`, 1])),
  };
  const r = await post(airlock.url, wide);
  t.equal(r.status, 413);
  t.same(r.body, {
    code: 'invalid_parameter',
    message: 'input holds more than 250000 values (engine.input_limits.max_nodes)',
  });
});
