// The `airlock` command line: one subcommand per module under ./commands.
import { Command, CommanderError } from 'commander';
import { registerAudit } from './commands/audit.js';
import { registerBuild } from './commands/build.js';
import { registerBuiltins } from './commands/builtins.js';
import { registerCheck } from './commands/check.js';
import { registerEval } from './commands/eval.js';
import { registerFmt } from './commands/fmt.js';
import { registerMigrate } from './commands/migrate.js';
import { registerReplay } from './commands/replay.js';
import { registerServe } from './commands/serve.js';
import { registerTest } from './commands/test.js';

/** What a command's action reports back to `main`. */
export interface CliContext {
  exitCode: number;
  out: (text: string) => void;
  err: (text: string) => void;
}

export function program(ctx: CliContext): Command {
  const cli = new Command('airlock')
    .description(
      'Policy-as-code gateway for AI agents: Rego policies compiled to WebAssembly decide every MCP tool call.',
    )
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ writeOut: ctx.out, writeErr: ctx.err })
    .exitOverride();
  registerCheck(cli, ctx);
  registerFmt(cli, ctx);
  registerBuild(cli, ctx);
  registerTest(cli, ctx);
  registerEval(cli, ctx);
  registerBuiltins(cli, ctx);
  registerMigrate(cli, ctx);
  registerAudit(cli, ctx);
  registerReplay(cli, ctx);
  registerServe(cli, ctx);
  return cli;
}

/** Runs the CLI with the given arguments and resolves to the process exit code. */
export async function main(
  argv: string[],
  io: Pick<CliContext, 'out' | 'err'> = {
    out: (t) => process.stdout.write(t),
    err: (t) => process.stderr.write(t),
  },
): Promise<number> {
  const ctx: CliContext = { exitCode: 0, ...io };
  const cli = program(ctx);
  if (argv.length === 0) {
    ctx.out(cli.helpInformation());
    return 0;
  }
  try {
    await cli.parseAsync(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    throw err;
  }
  return ctx.exitCode;
}
