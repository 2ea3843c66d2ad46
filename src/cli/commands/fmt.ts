import { readFile, writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { formatError } from '../../rego/ast.js';
import { formatSource } from '../../rego/format/index.js';
import { regoFiles } from '../files.js';
import type { CliContext } from '../main.js';

export function registerFmt(cli: Command, ctx: CliContext): void {
  cli
    .command('fmt')
    .description('Format Rego files canonically (prints the result unless --write or --check)')
    .argument('[paths...]', 'Rego files or directories, searched recursively for *.rego', ['policies'])
    .option('-w, --write', 'rewrite files that are not formatted, in place')
    .option('--check', 'print the names of files that are not formatted and exit 1 if any')
    .addHelpText(
      'after',
      '\nExit status: 0 formatted, 1 unformatted (--check) or unparsable, 2 usage error.\n',
    )
    .action(async (paths: string[], opts: { write?: boolean; check?: boolean }) => {
      const files = await regoFiles(paths);
      let failed = false;
      for (const file of files) {
        const source = await readFile(file, 'utf8');
        const { formatted, errors } = formatSource(source, file);
        if (formatted === undefined) {
          for (const e of errors) ctx.err(`${formatError(e)}\n`);
          failed = true;
          continue;
        }
        const changed = formatted !== source;
        if (opts.check) {
          if (changed) {
            ctx.out(`${file}\n`);
            failed = true;
          }
        } else if (opts.write) {
          if (changed) await writeFile(file, formatted);
        } else {
          ctx.out(formatted);
        }
      }
      ctx.exitCode = failed ? 1 : 0;
    });
}
