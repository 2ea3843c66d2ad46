import type { Command } from 'commander';
import type { CliContext } from '../main.js';

export function registerFmt(cli: Command, ctx: CliContext): void {
  cli
    .command('fmt')
    .description('Print Rego files in canonical form')
    .argument('[paths...]', 'Rego files or directories (default: policies/)')
    .option('-w, --write', 'rewrite files in place')
    .option('--check', 'exit 1 if any file is not formatted')
    .action(async () => {
      ctx.err('airlock fmt: not implemented yet\n');
      ctx.exitCode = 2;
    });
}
