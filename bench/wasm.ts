// Back-end benchmark: a hand-written plan of a small gateway decision, compiled by
// src/rego/wasm and evaluated through the stock SDK, against the same decision in
// TypeScript; then many evaluations in one process with RSS and heap pointer at start and end.
//   npm run bench:wasm -- [--n 1000000]
import { loadPolicy } from '@open-policy-agent/opa-wasm';
import type * as ir from '../src/rego/plan/ir.js';
import { compileToWasm } from '../src/rego/wasm/index.js';

const at: ir.Location = { file: 0, row: 1, col: 1 };
const l = (n: number): ir.Operand => ({ kind: 'local', local: n });
const s = (i: number): ir.Operand => ({ kind: 'string', index: i });

// decision := {"effect": effect, "reasons": reasons}
//   reasons contains "blocked group" if some g in input.user.groups; data.blocked[g]
//   reasons contains "destructive" if input.tool.annotations.destructiveHint == true; not input.approval
//   effect := "deny" if count(reasons) > 0
//   effect := "allow" if count(reasons) == 0; some g in input.user.groups; data.tools[input.tool.name].groups[_] == g
//   effect := "deny" otherwise (default)
const strings = [
  'result', // 0
  'user', // 1
  'groups', // 2
  'blocked', // 3
  'blocked group', // 4
  'tool', // 5
  'annotations', // 6
  'destructiveHint', // 7
  'approval', // 8
  'destructive', // 9
  'effect', // 10
  'reasons', // 11
  'deny', // 12
  'allow', // 13
  'tools', // 14
  'name', // 15
];

const reasonsFunc: ir.Func = {
  name: 'reasons',
  params: [0, 1],
  return: 2,
  blocks: [
    {
      stmts: [
        { type: 'make-set', target: 2, loc: at },
        {
          type: 'block',
          blocks: [
            {
              stmts: [
                { type: 'dot', source: l(0), key: s(1), target: 3, loc: at },
                { type: 'dot', source: l(3), key: s(2), target: 4, loc: at },
                {
                  type: 'scan',
                  source: 4,
                  key: 5,
                  value: 6,
                  block: {
                    stmts: [
                      { type: 'dot', source: l(1), key: s(3), target: 7, loc: at },
                      { type: 'dot', source: l(7), key: l(6), target: 8, loc: at },
                      { type: 'set-add', value: s(4), set: 2, loc: at },
                    ],
                  },
                  loc: at,
                },
              ],
            },
            {
              stmts: [
                { type: 'dot', source: l(0), key: s(5), target: 9, loc: at },
                { type: 'dot', source: l(9), key: s(6), target: 10, loc: at },
                { type: 'dot', source: l(10), key: s(7), target: 11, loc: at },
                { type: 'equal', a: l(11), b: { kind: 'bool', value: true }, loc: at },
                {
                  type: 'not',
                  block: { stmts: [{ type: 'dot', source: l(0), key: s(8), target: 12, loc: at }] },
                  loc: at,
                },
                { type: 'set-add', value: s(9), set: 2, loc: at },
              ],
            },
          ],
          loc: at,
        },
        { type: 'return-local', source: 2, loc: at },
      ],
    },
  ],
};

const effectFunc: ir.Func = {
  name: 'effect',
  params: [0, 1, 2],
  return: 3,
  blocks: [
    {
      stmts: [
        { type: 'call', func: 'count', args: [l(2)], result: 4, loc: at },
        { type: 'make-number-int', value: 0, target: 5, loc: at },
        { type: 'call', func: 'gt', args: [l(4), l(5)], result: 6, loc: at },
        { type: 'equal', a: l(6), b: { kind: 'bool', value: true }, loc: at },
        { type: 'assign-var', source: s(12), target: 3, loc: at },
        { type: 'return-local', source: 3, loc: at },
      ],
    },
    {
      stmts: [
        { type: 'dot', source: l(0), key: s(1), target: 7, loc: at },
        { type: 'dot', source: l(7), key: s(2), target: 8, loc: at },
        { type: 'dot', source: l(0), key: s(5), target: 9, loc: at },
        { type: 'dot', source: l(9), key: s(15), target: 10, loc: at },
        { type: 'dot', source: l(1), key: s(14), target: 11, loc: at },
        { type: 'dot', source: l(11), key: l(10), target: 12, loc: at },
        { type: 'dot', source: l(12), key: s(2), target: 13, loc: at },
        {
          type: 'scan',
          source: 8,
          key: 14,
          value: 15,
          block: {
            stmts: [
              { type: 'call', func: 'internal.member_2', args: [l(15), l(13)], result: 16, loc: at },
              { type: 'equal', a: l(16), b: { kind: 'bool', value: true }, loc: at },
              { type: 'assign-var', source: s(13), target: 3, loc: at },
              { type: 'return-local', source: 3, loc: at },
            ],
          },
          loc: at,
        },
      ],
    },
    { stmts: [{ type: 'assign-var', source: s(12), target: 3, loc: at }] },
  ],
};

const policy: ir.Policy = {
  static: {
    strings,
    builtinFuncs: [
      { name: 'count', arity: 1 },
      { name: 'gt', arity: 2 },
      { name: 'internal.member_2', arity: 2 },
    ],
    files: ['bench.rego'],
  },
  funcs: [reasonsFunc, effectFunc],
  plans: [
    {
      name: 'airlock/decision',
      blocks: [
        {
          stmts: [
            { type: 'call', func: 'reasons', args: [l(0), l(1)], result: 2, loc: at },
            { type: 'call', func: 'effect', args: [l(0), l(1), l(2)], result: 3, loc: at },
            { type: 'make-object', target: 4, loc: at },
            { type: 'object-insert', key: s(10), value: l(3), object: 4, loc: at },
            { type: 'object-insert', key: s(11), value: l(2), object: 4, loc: at },
            { type: 'make-object', target: 5, loc: at },
            { type: 'object-insert', key: s(0), value: l(4), object: 5, loc: at },
            { type: 'result-set-add', value: 5, loc: at },
          ],
        },
      ],
    },
  ],
};

interface Input {
  user: { groups: string[] };
  tool: { name: string; annotations: { destructiveHint?: boolean } };
  approval?: unknown;
  arguments: Record<string, unknown>;
}
interface Data {
  blocked: Record<string, boolean>;
  tools: Record<string, { groups: string[] }>;
}

function decideTs(input: Input, data: Data): { effect: string; reasons: string[] } {
  const reasons = new Set<string>();
  for (const g of input.user.groups) if (data.blocked[g] !== undefined) reasons.add('blocked group');
  if (input.tool.annotations.destructiveHint === true && input.approval === undefined)
    reasons.add('destructive');
  let effect = 'deny';
  if (reasons.size === 0) {
    const allowed = data.tools[input.tool.name]?.groups ?? [];
    if (input.user.groups.some((g) => allowed.includes(g))) effect = 'allow';
  }
  return { effect, reasons: [...reasons].sort() };
}

const data: Data = {
  blocked: { contractors: true, suspended: true },
  tools: Object.fromEntries(
    Array.from({ length: 200 }, (_, i) => [`tool_${i}`, { groups: [`team${i % 10}`, 'admins'] }]),
  ),
};
const input: Input = {
  user: { groups: ['eng', 'team3', 'oncall'] },
  tool: { name: 'tool_13', annotations: { destructiveHint: false } },
  arguments: { repo: 'corp/payments', text: 'x'.repeat(800), labels: ['a', 'b', 'c'] },
};

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? Number.NaN;
}

function measure(fn: () => unknown, n: number): { p50: number; p99: number } {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    fn();
    times.push(Number(process.hrtime.bigint() - t0) / 1000);
  }
  times.sort((a, b) => a - b);
  return { p50: percentile(times, 0.5), p99: percentile(times, 0.99) };
}

const nArg = process.argv.indexOf('--n');
const total = nArg >= 0 ? Number(process.argv[nArg + 1]) : 1_000_000;

compileToWasm(policy); // warm binaryen up
const c0 = performance.now();
const wasm = compileToWasm(policy);
const compileMs = performance.now() - c0;
const pol = await loadPolicy(wasm);
pol.setData(data);

const wasmResult = pol.evaluate(input, 'airlock/decision')[0].result;
const tsResult = decideTs(input, data);
if (JSON.stringify(wasmResult) !== JSON.stringify(tsResult)) {
  throw new Error(`results differ: wasm ${JSON.stringify(wasmResult)} ts ${JSON.stringify(tsResult)}`);
}

for (let i = 0; i < 5000; i++) pol.evaluate(input, 'airlock/decision');
const w = measure(() => pol.evaluate(input, 'airlock/decision'), 20000);
const ts = measure(() => decideTs(input, data), 20000);
console.log(`module: ${wasm.length} bytes, compile ${compileMs.toFixed(1)} ms`);
console.log(`input: ${JSON.stringify(input).length} bytes JSON; result ${JSON.stringify(wasmResult)}`);
console.log(`wasm via SDK : p50 ${w.p50.toFixed(1)} µs  p99 ${w.p99.toFixed(1)} µs`);
console.log(`typescript   : p50 ${ts.p50.toFixed(2)} µs  p99 ${ts.p99.toFixed(2)} µs`);
console.log(`ratio (p50)  : ${(w.p50 / ts.p50).toFixed(1)}x`);

const heapPtr = () => pol.wasmInstance.exports.opa_heap_ptr_get() as number;
const rssMb = () => (process.memoryUsage().rss / 1048576).toFixed(1);
console.log(
  `${total} evaluations: start RSS ${rssMb()} MB, wasm memory ${pol.mem.buffer.byteLength} bytes, heap ${heapPtr()}`,
);
const t0 = performance.now();
for (let i = 0; i < total; i++) pol.evaluate(input, 'airlock/decision');
const secs = (performance.now() - t0) / 1000;
console.log(
  `end RSS ${rssMb()} MB, wasm memory ${pol.mem.buffer.byteLength} bytes, heap ${heapPtr()} ` +
    `(${secs.toFixed(1)} s, ${Math.round(total / secs)} evals/s)`,
);
