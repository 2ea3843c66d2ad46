import type { Command } from 'commander';
import { runsWhere } from '../../rego/builtins/host/index.js';
import { allBuiltins } from '../../rego/builtins/index.js';
import type { CliContext } from '../main.js';

export function registerBuiltins(cli: Command, ctx: CliContext): void {
  cli
    .command('builtins')
    .description(
      'List the Rego built-in functions Airlock supports, with their signatures and where they run',
    )
    .argument('[filter]', 'only names containing this text')
    .option(
      '--all',
      'also list OPA built-ins Airlock does not support (a policy calling one does not compile)',
    )
    .option('--format <format>', 'table or json', 'table')
    .addHelpText(
      'after',
      '\nWhere: wasm = inside the compiled module; host = a TypeScript implementation the engine passes\n' +
        'to the SDK (each call crosses the Wasm boundary); wasm+host = native, deferring rare cases to the host.\n',
    )
    .action((filter: string | undefined, opts: { all?: boolean; format: string }) => {
      const rows = allBuiltins()
        .filter(
          (b) => !b.deprecated && !b.name.startsWith('internal.') && (!filter || b.name.includes(filter)),
        )
        .map((b) => ({
          name: b.name,
          signature: b.signatureText,
          category: b.category,
          where: b.networked ? 'refused (networked)' : (runsWhere(b.name) ?? 'unsupported'),
          infix: b.infix,
        }))
        .filter((r) => opts.all || (r.where !== 'unsupported' && !r.where.startsWith('refused')));
      if (opts.format === 'json') {
        ctx.out(`${JSON.stringify(rows, null, 2)}\n`);
        return;
      }
      if (opts.format !== 'table') {
        ctx.err(`airlock builtins: --format must be table or json\n`);
        ctx.exitCode = 2;
        return;
      }
      const w = Math.max(...rows.map((r) => r.name.length), 4);
      const ww = Math.max(...rows.map((r) => r.where.length), 5);
      for (const r of rows) ctx.out(`${r.name.padEnd(w)}  ${r.where.padEnd(ww)}  ${r.signature}\n`);
      ctx.err(`${rows.length} built-in(s)\n`);
    });
}
