import { readFileSync } from 'node:fs';
import { loadPolicy } from '@open-policy-agent/opa-wasm';
import { hostBuiltins, evaluate } from './src/rego/builtins/host/index.ts';
import { compile } from './src/rego/compile.ts';
import { withCallSite } from './src/rego/wasm/index.ts';
// Each line of the file: one expression; prints name => value / undefined / error (strict)
const lines = readFileSync(process.argv[2]!, 'utf8').split('\n').filter((l) => l.trim() && !l.startsWith('#'));
for (const strict of [true]) {
  for (const [i, l] of lines.entries()) {
    const text = `package t\nimport rego.v1\np := x if { x := ${l} }\n`;
    const out = compile({ sources: [{ file: 't.rego', text }], entrypoints: ['t/p'], annotatedEntrypoints: false, optimize: false });
    if (!out.wasm) { console.log(`${l}  =>  COMPILE ${out.errors.map((e) => e.code + ': ' + e.message).join('; ')}`); continue; }
    const b = hostBuiltins({ strict });
    const p = await loadPolicy(out.wasm, undefined, b);
    try {
      const rows = evaluate(p, b, undefined, 't/p') as { result: unknown }[];
      console.log(`${l}  =>  ${rows.length ? JSON.stringify(rows[0]!.result) : 'undefined'}`);
    } catch (e) { const x = withCallSite(e, p); console.log(`${l}  =>  ERROR ${(x as Error).message ?? x}`); }
  }
}
