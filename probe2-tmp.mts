import { readFileSync } from 'node:fs';
import { loadPolicy } from '@open-policy-agent/opa-wasm';
import { hostBuiltins, evaluate } from './src/rego/builtins/host/index.ts';
import { compile } from './src/rego/compile.ts';
import { withCallSite } from './src/rego/wasm/index.ts';
const mods = readFileSync(process.argv[2]!, 'utf8').split('\n---\n').filter((l) => l.trim());
const input = process.argv[3] ? JSON.parse(process.argv[3]) : undefined;
for (const m of mods) {
  const text = `package t\nimport rego.v1\n${m}\n`;
  const out = compile({ sources: [{ file: 't.rego', text }], entrypoints: ['t'], annotatedEntrypoints: false, optimize: false });
  const head = m.replace(/\n/g, ' ⏎ ');
  if (!out.wasm) { console.log(`${head}\n   => COMPILE ${out.errors.map((e) => `${e.location.line}:${e.location.col} ${e.code}: ${e.message}`).join(' | ')}`); continue; }
  const b = hostBuiltins({ strict: true });
  const p = await loadPolicy(out.wasm, undefined, b);
  try {
    const rows = evaluate(p, b, input, 't') as { result: unknown }[];
    console.log(`${head}\n   => ${rows.length ? JSON.stringify(rows[0]!.result) : 'undefined'}`);
  } catch (e) { const x = withCallSite(e, p); console.log(`${head}\n   => ERROR ${(x as Error).message ?? x}`); }
}
