// npm run bench:eval — evaluation cost of compiled policies through the stock SDK.
//
// 1. A realistic gateway policy (bench/fixtures/gateway.rego, ~30 rules: set and object
//    lookups, a regex, ~1 KB input): compile time; eval p50/p99 in µs; the same decision
//    by a hand-written TypeScript function in the same run, and the ratio.
// 2. Rule indexing: eval time with 10, 100 and 1,000 rules keyed by tool name, indexed
//    (default) and linear (indexing off) — the baseline measured in the same run.
// 3. Hot built-ins: cost per call in µs (policy with the call minus the same policy
//    without it), and whether the call crosses into the host.
// 4. Memory: RSS before and after N evaluations (BENCH_EVAL_N, default 1,000,000).
// 5. The reference policies (policies/) on test/fixtures/decision-input.json: eval p50/p99 and
//    the host built-in calls one decision makes, by name.
//
// Each goal of issue 14 is printed beside its figure as `goal …: met | NOT met`, with the baseline
// it is measured against in the same run where it has one (the hand-written function; an empty
// policy's evaluation, the floor of any evaluation through the stock SDK; the RSS at the start).
// 6. Isolation (eval-isolation.ts): the reference decision in-thread vs through the Engine's
//    worker pool, p50/p99 and the difference. BENCH_EVAL_ONLY=isolation runs only this section.
import { readFileSync } from 'node:fs';

if (process.env.BENCH_EVAL_ONLY === 'isolation') {
  await import('./eval-isolation.js');
  process.exit(0);
}

import { loadPolicy } from '@open-policy-agent/opa-wasm';
import * as jose from 'jose';
import { loadPolicyTree } from '../src/cli/policy-files.js';
import { hostBuiltins, newEvaluation } from '../src/rego/builtins/host/index.js';
import { compile } from '../src/rego/compile.js';
import { NATIVE_BUILTINS } from '../src/rego/wasm/index.js';

type Json = Record<string, unknown>;
const here = new URL('./fixtures/', import.meta.url);
const policyText = readFileSync(new URL('gateway.rego', here), 'utf8');
const data = JSON.parse(readFileSync(new URL('gateway-data.json', here), 'utf8')) as Json;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Per-call latencies in µs of `fn` over `n` runs after a warm-up. */
function measure(fn: () => unknown, n: number): { p50: number; p99: number; mean: number } {
  for (let i = 0; i < Math.min(1000, n); i++) fn();
  const xs: number[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    fn();
    xs[i] = Number(process.hrtime.bigint() - t0) / 1000;
  }
  const mean = xs.reduce((a, b) => a + b, 0) / n;
  xs.sort((a, b) => a - b);
  return { p50: percentile(xs, 50), p99: percentile(xs, 99), mean };
}

const f = (x: number) => x.toFixed(1).padStart(8);

/** `goal <text>: met` or `NOT met`. */
const goal = (text: string, met: boolean) => `goal ${text}: ${met ? 'met' : 'NOT met'}`;

/** JSON with object keys sorted, to compare decisions whatever the key order. */
function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, x) =>
    x && typeof x === 'object' && !Array.isArray(x)
      ? Object.fromEntries(Object.entries(x as Json).sort(([a], [b]) => (a < b ? -1 : 1)))
      : x,
  );
}

function inputFor(i: number): Json {
  const tools = [
    ['github', 'get_issue', {}],
    ['github', 'delete_repo', { destructiveHint: true }],
    ['warehouse', 'sql_query', {}],
  ] as const;
  const [server, tool, annotations] = tools[i % tools.length]!;
  return {
    phase: 'request',
    action: 'tools/call',
    user: {
      sub: i % 5 === 4 ? 'mallory' : 'alice',
      email: 'alice@corp.example',
      groups: ['eng', 'oncall'],
      claims: {},
    },
    agent: { id: i % 2 === 0 ? 'devops-agent' : 'support-agent', client_id: 'c-123', claims: {} },
    model: { provider: 'anthropic', name: 'claude-sonnet-4', attested: false },
    server: { name: server, virtual: 'devops' },
    tool: { name: tool, annotations },
    arguments: {
      query: i % 3 === 2 ? 'DELETE FROM payroll WHERE 1=1' : 'SELECT id, title FROM issues WHERE state = $1',
      repo: 'corp/payments',
      body: 'x'.repeat(600),
    },
    request: { id: `req-${i}`, time: '2026-01-06T16:00:00Z', session: 's-1' },
    approval: null,
  };
}

// The same decision, written by hand in TypeScript.
const SQL_WRITE = /^\s*(insert|update|delete|drop|alter|truncate)\b/i;
function handDecision(input: Json, d: Json): Json {
  const get = (o: unknown, ...path: string[]): unknown =>
    path.reduce<unknown>((v, k) => (v && typeof v === 'object' ? (v as Json)[k] : undefined), o);
  const user = input.user as Json;
  const agentId = get(input, 'agent', 'id') as string;
  const serverName = get(input, 'server', 'name') as string;
  const toolName = get(input, 'tool', 'name') as string;
  const toolId = `${serverName}/${toolName}`;
  const agent = get(d, 'agents', agentId) as Json | undefined;
  const groups = (user.groups as string[]) ?? [];
  const reasons = new Set<string>();
  if (get(d, 'revoked', 'users', user.sub as string)) reasons.add('user revoked');
  if (get(d, 'revoked', 'agents', agentId)) reasons.add('agent revoked');
  if (!agent) reasons.add('unknown agent');
  if (!(agent?.tools as string[] | undefined)?.includes(toolId))
    reasons.add(`tool ${toolId} is not granted to agent ${agentId}`);
  const sensitive = !!get(d, 'tools', toolId, 'sensitive');
  if (
    sensitive &&
    !(get(d, 'models', 'sensitive_allowed') as string[]).includes(get(input, 'model', 'name') as string)
  )
    reasons.add('model not allowed for sensitive tools');
  const query = get(input, 'arguments', 'query');
  if (
    toolName === 'sql_query' &&
    typeof query === 'string' &&
    SQL_WRITE.test(query) &&
    !groups.includes('admin')
  )
    reasons.add('write statements need the admin group');
  if (reasons.size > 0) return { effect: 'deny', reasons: [...reasons].sort() };
  if (get(input, 'tool', 'annotations', 'destructiveHint') === true || get(d, 'tools', toolId, 'destructive'))
    return {
      effect: 'require_approval',
      reasons: ['destructive tool'],
      approval: { approvers: ['group:security'], ttl_seconds: 3600 },
    };
  const roles = new Set(groups.flatMap((g) => (get(d, 'group_roles', g) as string[] | undefined) ?? []));
  const allowed = [...roles].some((r) => ((get(d, 'role_tools', r) as string[]) ?? []).includes(toolId));
  if (!allowed) return { effect: 'deny', reasons: ['no rule allowed the call'] };
  const server = get(d, 'servers', serverName) as Json;
  return {
    effect: 'allow',
    reasons: [],
    credentials: { mode: 'on_behalf_of', audience: server.audience, scopes: get(server, 'scopes', toolName) },
  };
}

async function load(text: string, entrypoints: string[], opts: { ruleIndexing?: boolean; data?: Json } = {}) {
  const t0 = performance.now();
  const r = compile({
    sources: [{ file: 'bench.rego', text }],
    entrypoints,
    ruleIndexing: opts.ruleIndexing,
  });
  const ms = performance.now() - t0;
  if (!r.wasm) throw new Error(r.errors.map((e) => e.message).join('\n'));
  const builtins = hostBuiltins({ strict: false });
  const policy = await loadPolicy(r.wasm, undefined, builtins);
  policy.setData(opts.data ?? {});
  return { policy, builtins, ms, bytes: r.wasm.byteLength };
}

console.log(`node ${process.version}; latencies are per evaluation, in µs (p50 / p99 / mean)`);

// 1. The gateway policy.
const gw = await load(policyText, ['bench/gateway/decision'], { data });
const inputs = Array.from({ length: 12 }, (_, i) => inputFor(i));
let mismatches = 0;
for (const input of inputs) {
  newEvaluation(gw.builtins);
  const wasm = (gw.policy.evaluate(input, 'bench/gateway/decision') as { result: Json }[])[0]?.result;
  const hand = handDecision(input, data);
  if (canonical(wasm) !== canonical(hand)) {
    mismatches++;
    console.log('MISMATCH', JSON.stringify(wasm), JSON.stringify(hand));
  }
}
const inputBytes = Buffer.byteLength(JSON.stringify(inputs[0]));
let k = 0;
const wasmLat = measure(() => {
  newEvaluation(gw.builtins);
  return gw.policy.evaluate(inputs[k++ % inputs.length], 'bench/gateway/decision');
}, 20000);
const handLat = measure(() => handDecision(inputs[k++ % inputs.length]!, data), 20000);
console.log(
  `\ngateway policy: ${policyText.split('\n').filter((l) => /^[a-z_]/.test(l)).length} rules, input ${inputBytes} B, ` +
    `compile ${gw.ms.toFixed(0)} ms, wasm ${gw.bytes} B, ${mismatches} mismatches with the hand-written function`,
);
console.log(
  `  airlock wasm (stock SDK)   p50 ${f(wasmLat.p50)}  p99 ${f(wasmLat.p99)}  mean ${f(wasmLat.mean)}`,
);
console.log(
  `  hand-written TypeScript    p50 ${f(handLat.p50)}  p99 ${f(handLat.p99)}  mean ${f(handLat.mean)}`,
);
console.log(
  `  ratio wasm / hand-written  p50 ${f(wasmLat.p50 / handLat.p50)}x   ${goal('≤ 3x', wasmLat.p50 / handLat.p50 <= 3)}`,
);

// 4. Memory over many evaluations (run early: later sections compile large policies).
const n = Number(process.env.BENCH_EVAL_N ?? 1_000_000);
global.gc?.();
const rss0 = process.memoryUsage().rss;
const wasmMemory = () =>
  (gw.policy as unknown as { mem: { buffer: ArrayBuffer } }).mem.buffer.byteLength / 2 ** 20;
const mem0 = wasmMemory();
const t0 = performance.now();
for (let i = 0; i < n; i++) {
  newEvaluation(gw.builtins);
  gw.policy.evaluate(inputs[i % inputs.length], 'bench/gateway/decision');
}
const secs = (performance.now() - t0) / 1000;
global.gc?.();
const rss1 = process.memoryUsage().rss;
console.log(
  `${n.toLocaleString('en')} evaluations in ${secs.toFixed(1)} s: RSS ${(rss0 / 2 ** 20).toFixed(0)} MiB at start, ` +
    `${(rss1 / 2 ** 20).toFixed(0)} MiB at end; the module's linear memory ${mem0.toFixed(1)} MiB at start, ` +
    `${wasmMemory().toFixed(1)} MiB at end`,
);
const growth = (rss1 - rss0) / rss0;
console.log(
  `  RSS change ${(100 * growth).toFixed(1)} %   ${goal('within 10 % of the start', Math.abs(growth) <= 0.1)}`,
);

// 2. Rule indexing curve.
function toolRules(n: number): string {
  let src = 'package bench.idx\n\n';
  for (let i = 0; i < n; i++)
    src += `allow if {\n\tinput.tool == "tool_${i}"\n\t"eng" in input.groups\n}\n\n`;
  return src;
}
console.log('\nrules keyed by tool name: eval µs (p50), indexed vs linear');
let compile1000 = 0;
for (const n of [10, 100, 1000]) {
  const row: string[] = [];
  for (const ruleIndexing of [true, false]) {
    const c = await load(toolRules(n), ['bench/idx/allow'], { ruleIndexing });
    if (n === 1000 && ruleIndexing) compile1000 = c.ms;
    const input = { tool: `tool_${n - 1}`, groups: ['eng'] };
    const ok = (c.policy.evaluate(input, 'bench/idx/allow') as unknown[]).length === 1;
    const lat = measure(() => c.policy.evaluate(input, 'bench/idx/allow'), n >= 1000 ? 2000 : 5000);
    row.push(
      `${ruleIndexing ? 'indexed' : 'linear '} ${f(lat.p50)} (compile ${(c.ms / 1000).toFixed(1)} s${ok ? '' : ', WRONG RESULT'})`,
    );
  }
  console.log(`  ${String(n).padStart(5)} rules: ${row.join('   ')}`);
}

console.log(
  `  1,000 rules compile in ${compile1000.toFixed(0)} ms   ${goal('≤ 1,000 ms', compile1000 <= 1000)}`,
);

// 3. Hot built-ins.
const secret = new TextEncoder().encode('bench-secret-bench-secret-bench-secret!!');
const jwt = await new jose.SignJWT({ sub: 'alice' })
  .setProtectedHeader({ alg: 'HS256' })
  .setIssuer('https://idp.example')
  .setExpirationTime('1h')
  .sign(secret);
const calls: [string, string][] = [
  ['startswith', 'startswith(input.s, "github/")'],
  ['glob.match', 'glob.match("github/*_issue", ["/"], input.s)'],
  ['regex.match', 'regex.match(`^github/[a-z_]+$`, input.s)'],
  ['net.cidr_contains', 'net.cidr_contains("10.0.0.0/8", input.ip)'],
  ['object.get', 'object.get(input.o, "k", 0) == 1'],
  [
    'io.jwt.decode_verify',
    `io.jwt.decode_verify(input.jwt, {"secret": "bench-secret-bench-secret-bench-secret!!", "iss": "https://idp.example"})`,
  ],
];
const builtinInput = { s: 'github/get_issue', ip: '10.1.2.3', o: { k: 1 }, jwt };
const base = await load('package bench.b\n\np if input.s\n', ['bench/b/p']);
const baseLat = measure(() => base.policy.evaluate(builtinInput, 'bench/b/p'), 10000);
console.log(
  `\nhot built-ins: µs per call (p50 of the policy minus an empty policy's ${baseLat.p50.toFixed(1)} µs)`,
);
for (const [name, expr] of calls) {
  try {
    const c = await load(`package bench.b\n\np if {\n\tinput.s\n\t${expr}\n}\n`, ['bench/b/p']);
    const defined = (c.policy.evaluate(builtinInput, 'bench/b/p') as unknown[]).length === 1;
    const lat = measure(() => {
      newEvaluation(c.builtins);
      return c.policy.evaluate(builtinInput, 'bench/b/p');
    }, 10000);
    const where = NATIVE_BUILTINS.has(name) ? 'in wasm' : 'crosses into the host';
    console.log(
      `  ${name.padEnd(22)} ${f(Math.max(0, lat.p50 - baseLat.p50))}  ${where}${defined ? '' : ' (UNDEFINED: check the call)'}`,
    );
  } catch (err) {
    console.log(`  ${name.padEnd(22)}      n/a  ${(err as Error).message.split('\n')[0]}`);
  }
}

// 5. The reference policies.
const tree = await loadPolicyTree([new URL('../policies', import.meta.url).pathname]);
// Compiled twice: the first compile of a process also pays for loading and warming the compiler.
const compileRef = () => {
  const t = performance.now();
  const out = compile({ sources: tree.sources, entrypoints: ['airlock/decision'] });
  return { out, ms: performance.now() - t };
};
const refCold = compileRef();
const { out: ref, ms: refCompileMs } = compileRef();
if (!ref.wasm) throw new Error(ref.errors.map((e) => e.message).join('\n'));
const hostCalls = new Map<string, number>();
const refBuiltins = hostBuiltins({ strict: false });
const counting = Object.fromEntries(
  Object.entries(refBuiltins).map(([name, fn]) => [
    name,
    (...args: unknown[]) => {
      hostCalls.set(name, (hostCalls.get(name) ?? 0) + 1);
      return fn(...args);
    },
  ]),
);
const refPolicy = await loadPolicy(ref.wasm, undefined, counting);
refPolicy.setData(tree.data);
const refInput = JSON.parse(
  readFileSync(new URL('../test/fixtures/decision-input.json', import.meta.url), 'utf8'),
);
newEvaluation(refBuiltins);
const refResult = (refPolicy.evaluate(refInput, 'airlock/decision') as { result: Json }[])[0]?.result;
const perDecision = [...hostCalls].sort((a, b) => b[1] - a[1]);
const refLat = measure(() => {
  newEvaluation(refBuiltins);
  return refPolicy.evaluate(refInput, 'airlock/decision');
}, 2000);
console.log(
  `\nreference policies on test/fixtures/decision-input.json: effect ${String(refResult?.effect)}, ` +
    `p50 ${f(refLat.p50)}  p99 ${f(refLat.p99)}   ${goal('p50 ≤ 25 µs', refLat.p50 <= 25)}`,
);
console.log(
  `  an empty policy's p50 in this run (the floor through the stock SDK) ${baseLat.p50.toFixed(1)} µs; ` +
    `the reference decision is ${(refLat.p50 / baseLat.p50).toFixed(1)}x that`,
);
console.log(
  `  compile of the reference policies (${tree.sources.length} files): ${refCompileMs.toFixed(0)} ms ` +
    `(first in this process ${refCold.ms.toFixed(0)} ms)   ${goal('≤ 300 ms', refCompileMs <= 300)}`,
);
console.log(
  `  host built-in calls per decision: ${perDecision.reduce((n, [, c]) => n + c, 0)} ` +
    `(${perDecision.map(([n, c]) => `${n} ${c}`).join(', ')})`,
);

// 6. Isolation.
await import('./eval-isolation.js');
