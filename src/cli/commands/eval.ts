import { readFile } from 'node:fs/promises';
import { loadPolicy } from '@open-policy-agent/opa-wasm';
import type { Command } from 'commander';
import { formatError } from '../../rego/ast.js';
import { evaluate, hostBuiltins } from '../../rego/builtins/host/index.js';
import { readBundle } from '../../rego/bundle.js';
import { compile } from '../../rego/compile.js';
import { parseQuery } from '../../rego/parse/index.js';
import { speaksTaggedWire, withCallSite } from '../../rego/wasm/index.js';
import type { CliContext } from '../main.js';
import { loadPolicyTree } from '../policy-files.js';

interface EvalOptions {
  bundle?: string;
  data: string[];
  input?: string;
  strict?: boolean;
}

/** `data.a.b` (a plain reference into data) → `a/b`; anything else is an ad-hoc query. */
function refEntrypoint(query: string): string | undefined {
  const parsed = parseQuery(query);
  const only = parsed.body?.length === 1 ? parsed.body[0] : undefined;
  if (!only || only.negated || only.with.length > 0 || only.node.type !== 'ref') return undefined;
  const [head, ...rest] = only.node.terms;
  if (head?.type !== 'var' || head.name !== 'data' || !rest.every((t) => t.type === 'string'))
    return undefined;
  return rest.map((t) => (t as { value: string }).value).join('/');
}

export function registerEval(cli: Command, ctx: CliContext): void {
  cli
    .command('eval')
    .description('Evaluate a query against policies (-d) or a built bundle (-b) and print the result as JSON')
    .argument('<query>', 'a reference such as data.airlock.decision, or a query such as "data.x.allow = a"')
    .option('-b, --bundle <file>', 'bundle built by airlock build or opa build -t wasm')
    .option(
      '-d, --data <path>',
      'Rego and data files or directories (repeatable)',
      (v: string, acc: string[]) => [...acc, v],
      [] as string[],
    )
    .option('-i, --input <file>', 'input document (JSON)')
    .option('--strict', 'built-in errors abort the evaluation instead of making the call undefined')
    .addHelpText(
      'after',
      '\nA reference prints its value (or nothing, with exit status 1, when undefined);\n' +
        'any other query prints its bindings, one object per solution.\n' +
        '\nExamples:\n  airlock eval -b bundles/airlock.tar.gz -i input.json data.airlock.decision\n' +
        "  airlock eval -d policies/ -i input.json 'data.airlock.decision.effect = e'\n",
    )
    .action(async (query: string, opts: EvalOptions) => {
      if (!opts.bundle && opts.data.length === 0) {
        ctx.err('airlock eval: give policies with -d PATH or a bundle with -b FILE\n');
        ctx.exitCode = 2;
        return;
      }
      let input: unknown;
      if (opts.input) {
        const text = await readFile(opts.input, 'utf8');
        try {
          input = JSON.parse(text);
        } catch (err) {
          ctx.err(`airlock eval: ${opts.input}: invalid JSON: ${(err as Error).message}\n`);
          ctx.exitCode = 2;
          return;
        }
      }
      const ref = refEntrypoint(query);
      let wasm: Uint8Array;
      let data: Record<string, unknown>;
      let entrypoint: string;
      if (opts.bundle) {
        const bundle = await readBundle(await readFile(opts.bundle));
        if (!bundle.wasm) throw new Error(`${opts.bundle}: the bundle has no policy.wasm`);
        const names = (bundle.manifest.wasm ?? []).map((w) => w.entrypoint);
        if (!ref || !names.includes(ref)) {
          ctx.err(
            `airlock eval: ${JSON.stringify(query)} is not an entrypoint of the bundle (entrypoints: ${names.join(', ') || 'none'})\n`,
          );
          ctx.exitCode = 2;
          return;
        }
        wasm = bundle.wasm;
        data = bundle.data;
        entrypoint = ref;
      } else {
        const tree = await loadPolicyTree(opts.data);
        const result = ref
          ? compile({ sources: tree.sources, entrypoints: [ref], annotatedEntrypoints: false })
          : compile({
              sources: tree.sources,
              queries: [{ name: 'query', query }],
              annotatedEntrypoints: false,
            });
        if (!result.wasm) {
          for (const e of result.errors) ctx.out(`${formatError(e)}\n`);
          ctx.exitCode = 1;
          return;
        }
        wasm = result.wasm;
        data = tree.data;
        entrypoint = ref ?? 'query';
      }
      const prints: string[] = [];
      // Airlock's modules speak the tagged wire in host calls; bundles built by OPA speak plain JSON.
      const builtins = hostBuiltins({
        strict: !!opts.strict,
        print: (m) => prints.push(m),
        wire: speaksTaggedWire(wasm) ? 'tagged' : 'plain',
      });
      const policy = await loadPolicy(wasm, undefined, builtins);
      policy.setData(data);
      let rows: Record<string, unknown>[];
      try {
        // The SDK treats a falsy input as absent: pass JSON text so that false, 0 and "" arrive.
        const arg =
          input === undefined
            ? undefined
            : (new TextEncoder().encode(JSON.stringify(input)).buffer as ArrayBuffer);
        rows = evaluate(policy, builtins, arg, entrypoint) as Record<string, unknown>[];
      } catch (err) {
        const e = withCallSite(err, policy);
        for (const p of prints) ctx.err(`${p}\n`);
        ctx.err(`airlock eval: evaluation error: ${e instanceof Error ? e.message : String(e)}\n`);
        ctx.exitCode = 1;
        return;
      }
      for (const p of prints) ctx.err(`${p}\n`);
      if (ref !== undefined) {
        const row = rows[0];
        if (!row || !('result' in row)) {
          ctx.err('undefined\n');
          ctx.exitCode = 1;
          return;
        }
        ctx.out(`${JSON.stringify(row.result, null, 2)}\n`);
        return;
      }
      ctx.out(`${JSON.stringify(rows, null, 2)}\n`);
      if (rows.length === 0) ctx.exitCode = 1;
    });
}
