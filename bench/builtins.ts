// Cost of the built-ins gateway policies use most, end to end: a one-rule policy
// compiled by Airlock and evaluated through the stock SDK with hostBuiltins(),
// minus the same policy without the call. Also the host-side cost alone (one
// decode → implementation → encode step), and whether the call crosses into the host.
//   npm run bench:builtins -- [--n 20000]
import { generateKeyPairSync } from 'node:crypto';
import { loadPolicy } from '@open-policy-agent/opa-wasm';
import { HOST_IMPLEMENTATIONS, hostBuiltins } from '../src/rego/builtins/host/index.js';
import { compile } from '../src/rego/compile.js';
import { NATIVE_BUILTINS } from '../src/rego/wasm/builtins.js';

const nArg = process.argv.indexOf('--n');
const N = nArg > 0 ? Number(process.argv[nArg + 1]) : 20_000;

const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
// Called directly with plain JS values (not through a module): the plain wire.
const signer = hostBuiltins({ strict: true, wire: 'plain' });
const jwt = JSON.parse(
  new TextDecoder().decode(
    signer['io.jwt.encode_sign']?.(
      { alg: 'RS256', typ: 'JWT' },
      { iss: 'idp', aud: 'airlock', sub: 'alice', exp: 4102444800 },
      privateKey.export({ format: 'jwk' }),
    ) as ArrayBuffer,
  ),
) as string;
const cert = publicKey.export({ format: 'pem', type: 'spki' }) as string;

const input = {
  tool: { name: 'github.read_file' },
  caller: { ip: '10.20.30.40' },
  arguments: { path: '/repos/corp/payments/README.md', repo: 'corp/payments' },
  token: jwt,
  cert,
};

interface Case {
  name: string;
  expr: string;
  args: unknown[];
}

const cases: Case[] = [
  {
    name: 'startswith',
    expr: 'startswith(input.arguments.path, "/repos/corp/")',
    args: [input.arguments.path, '/repos/corp/'],
  },
  {
    name: 'glob.match',
    expr: 'glob.match("github.*", ["."], input.tool.name)',
    args: ['github.*', ['.'], input.tool.name],
  },
  {
    name: 'regex.match',
    expr: 'regex.match(`^corp/[a-z-]+$`, input.arguments.repo)',
    args: ['^corp/[a-z-]+$', input.arguments.repo],
  },
  {
    name: 'net.cidr_contains',
    expr: 'net.cidr_contains("10.0.0.0/8", input.caller.ip)',
    args: ['10.0.0.0/8', input.caller.ip],
  },
  {
    name: 'object.get',
    expr: 'object.get(input.arguments, "repo", "") != ""',
    args: [input.arguments, 'repo', ''],
  },
  {
    name: 'io.jwt.decode_verify',
    expr: 'io.jwt.decode_verify(input.token, {"cert": input.cert, "aud": "airlock"})[0]',
    args: [jwt, { cert, aud: 'airlock' }],
  },
];

async function policyFor(expr: string) {
  const text = `package bench\n\nallow if {\n\t${expr}\n}\n`;
  const out = compile({
    sources: [{ file: 'bench.rego', text }],
    entrypoints: ['bench/allow'],
    annotatedEntrypoints: false,
  });
  if (!out.wasm) throw new Error(`compile ${expr}: ${out.errors.map((e) => e.message).join('; ')}`);
  return loadPolicy(out.wasm, undefined, hostBuiltins({ strict: true }));
}

function time(fn: () => void, n: number): number {
  for (let i = 0; i < Math.min(5000, n); i++) fn();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) fn();
  return Number(process.hrtime.bigint() - t0) / 1000 / n;
}

const baseline = await policyFor('input.tool.name != ""');
baseline.setData({});
time(() => baseline.evaluate(input, 'bench/allow'), N); // warm the SDK and the JIT
const base = time(() => baseline.evaluate(input, 'bench/allow'), N);

const rows: string[][] = [['built-in', 'where', 'eval µs', 'built-in µs (eval − baseline)', 'host step µs']];
for (const c of cases) {
  const p = await policyFor(c.expr);
  p.setData({});
  const r = p.evaluate(input, 'bench/allow') as { result?: unknown }[];
  if (r[0]?.result !== true) throw new Error(`${c.name}: policy did not allow: ${JSON.stringify(r)}`);
  const n = c.name === 'io.jwt.decode_verify' ? Math.max(200, Math.floor(N / 20)) : N;
  const total = time(() => p.evaluate(input, 'bench/allow'), n);
  const native = NATIVE_BUILTINS.get(c.name);
  const where = native && !native.defer ? 'wasm' : 'host';
  let hostStep = '-';
  if (HOST_IMPLEMENTATIONS[c.name]) {
    const f = hostBuiltins({ strict: true, names: [c.name], wire: 'plain' })[c.name] as (
      ...a: unknown[]
    ) => unknown;
    hostStep = time(() => f(...c.args), n).toFixed(2);
  }
  rows.push([c.name, where, total.toFixed(2), (total - base).toFixed(2), hostStep]);
}
rows.push(['(baseline: no built-in)', '-', base.toFixed(2), '-', '-']);
const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
for (const r of rows) process.stdout.write(`${r.map((x, i) => x.padEnd(widths[i] ?? 0)).join('  ')}\n`);
process.stdout.write(`n = ${N} evaluations per row (decode_verify: n/20), Node ${process.version}\n`);
