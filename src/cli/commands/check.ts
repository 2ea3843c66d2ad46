import type { Command } from 'commander';
import type { CliContext } from '../main.js';

export function registerCheck(cli: Command, ctx: CliContext): void {
  cli
    .command('check')
    .description('Parse and check Rego files; print every error as path:line:col: code: message')
    .argument('[paths...]', 'Rego files or directories (default: policies/)')
    .option('--format <format>', 'output format: text or json', 'text')
    .action(async (_paths: string[], _opts: { format: string }) => {
      ctx.err('airlock check: not implemented yet\n');
      ctx.exitCode = 2;
    });
}
