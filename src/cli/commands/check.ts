import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { formatError, type Module, type RegoError } from '../../rego/ast.js';
import { checkModules } from '../../rego/check/index.js';
import { parseModule } from '../../rego/parse/index.js';
import { regoFiles } from '../files.js';
import type { CliContext } from '../main.js';

/** Parses and checks every file; returns every error found (parse errors of one file do not hide others'). */
export async function checkFiles(files: string[]): Promise<RegoError[]> {
  const errors: RegoError[] = [];
  const modules: Module[] = [];
  for (const file of files) {
    const parsed = parseModule(await readFile(file, 'utf8'), file);
    errors.push(...parsed.errors);
    if (parsed.module) modules.push(parsed.module);
  }
  if (errors.length === 0) errors.push(...checkModules(modules).errors);
  return errors;
}

export function registerCheck(cli: Command, ctx: CliContext): void {
  cli
    .command('check')
    .description('Parse and check Rego files as OPA compiles them; print every error, exit 1 if any')
    .argument('[paths...]', 'Rego files or directories, searched recursively for *.rego', ['policies'])
    .option('--format <format>', 'text (path:line:col: code: message) or json', 'text')
    .addHelpText(
      'after',
      '\nError codes: rego_parse_error, rego_compile_error, rego_type_error, rego_unsafe_var_error,\n' +
        'rego_recursion_error (as OPA reports them). Exit status: 0 clean, 1 errors found, 2 usage error.\n',
    )
    .action(async (paths: string[], opts: { format: string }) => {
      if (opts.format !== 'text' && opts.format !== 'json') {
        ctx.err(`airlock check: --format must be text or json, not ${JSON.stringify(opts.format)}\n`);
        ctx.exitCode = 2;
        return;
      }
      const files = await regoFiles(paths);
      const errors = await checkFiles(files);
      if (opts.format === 'json') {
        const rows = errors.map((e) => ({
          code: e.code,
          message: e.message,
          location: { file: e.location.file, row: e.location.line, col: e.location.col },
        }));
        ctx.out(`${JSON.stringify({ files: files.length, errors: rows }, null, 2)}\n`);
      } else {
        for (const e of errors) ctx.out(`${formatError(e)}\n`);
        if (errors.length > 0) ctx.err(`${errors.length} error(s) in ${files.length} file(s)\n`);
      }
      ctx.exitCode = errors.length > 0 ? 1 : 0;
    });
}
