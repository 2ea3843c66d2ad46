import type { Command } from 'commander';
import { databaseConfigFrom, migrateToLatest, migrationSql, openDatabase } from '../../audit/index.js';
import { applyMigrations } from '../../audit/migrations/index.js';
import { APPROVAL_MIGRATIONS, approvalsMigrationSql } from '../../gateway/approval-schema.js';
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
      'Create or update the database schema: audit trail and approvals (idempotent; the gateway also runs it at start-up)',
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
Run migrations as the role that should own the tables, never as the gateway's role: the gateway needs
INSERT and SELECT on the audit trail, and SELECT, INSERT and UPDATE of the answer columns on the
approvals (see --print-sql). Exit status: 0 done, 2 error.
`,
    )
    .action(async (opts: MigrateOptions) => {
      if (opts.printSql) {
        try {
          ctx.out(`${migrationSql(opts.role)}\n${approvalsMigrationSql(opts.role)}`);
        } catch (err) {
          ctx.err(`airlock migrate: ${(err as Error).message}\n`);
          ctx.exitCode = 2;
        }
        return;
      }
      let database: Awaited<ReturnType<typeof openDatabase>> | undefined;
      try {
        database = await openDatabase(databaseConfigFrom(opts));
        const audit = await migrateToLatest(database.db);
        const approvals = await applyMigrations(database.db, APPROVAL_MIGRATIONS);
        const applied = [...audit.applied, ...approvals.applied];
        ctx.out(
          applied.length === 0
            ? `schema (audit, approvals) is up to date (${database.location})\n`
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
