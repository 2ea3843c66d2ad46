import type { Command } from 'commander';
import { databaseConfigFrom, migrateToLatest, migrationSql, openDatabase } from '../../audit/index.js';
import type { CliContext } from '../main.js';

interface MigrateOptions {
  databaseUrl?: string;
  dataDir?: string;
  printSql?: boolean;
  role: string;
}

export function registerMigrate(cli: Command, ctx: CliContext): void {
  cli
    .command('migrate')
    .description(
      'Create or update the audit database schema (idempotent; the gateway also runs it at start-up)',
    )
    .option(
      '--database-url <url>',
      'Postgres URL (default: $DATABASE_URL; prefer the variable, arguments show in ps)',
    )
    .option(
      '--data-dir <dir>',
      'embedded PGlite data directory when no database URL is set (default: ./.airlock/data)',
    )
    .option(
      '--print-sql',
      'print the schema SQL and the gateway role grants for a DBA, and touch no database',
    )
    .option('--role <name>', 'gateway role name used in the printed grants', 'airlock_gateway')
    .addHelpText(
      'after',
      `
Run migrations as the role that should own the audit table, never as the gateway's role: the gateway
needs only INSERT and SELECT (see --print-sql). Exit status: 0 done, 2 error.
`,
    )
    .action(async (opts: MigrateOptions) => {
      if (opts.printSql) {
        try {
          ctx.out(migrationSql(opts.role));
        } catch (err) {
          ctx.err(`airlock migrate: ${(err as Error).message}\n`);
          ctx.exitCode = 2;
        }
        return;
      }
      let database: Awaited<ReturnType<typeof openDatabase>> | undefined;
      try {
        database = await openDatabase(databaseConfigFrom(opts));
        const { applied } = await migrateToLatest(database.db);
        ctx.out(
          applied.length === 0
            ? `audit schema is up to date (${database.location})\n`
            : `applied ${applied.join(', ')} (${database.location})\n`,
        );
        ctx.exitCode = 0;
      } catch (err) {
        ctx.err(`airlock migrate: ${(err as Error).message}\n`);
        ctx.exitCode = 2;
      } finally {
        await database?.close();
      }
    });
}
