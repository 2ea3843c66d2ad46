// Schema migrations of the audit store, run by `airlock migrate` and at start-up (idempotent).
// They live in code (not in .sql files) so that they ship inside dist/; `migrationSql()` prints them.
import { type Kysely, type Migration, Migrator, sql } from 'kysely';
import * as m0001 from './0001_audit_events.js';

/** Kysely's bookkeeping tables for these migrations (kept apart from other parts' migrations). */
export const MIGRATION_TABLE = 'airlock_audit_migration';
export const MIGRATION_LOCK_TABLE = 'airlock_audit_migration_lock';

/** Every migration, in order. Never edit one that has shipped: add a new one. */
export const MIGRATIONS: readonly { name: string; statements: readonly string[] }[] = [m0001];

function migrator(db: Kysely<unknown>): Migrator {
  const migrations: Record<string, Migration> = {};
  for (const m of MIGRATIONS) {
    migrations[m.name] = {
      async up(tx: Kysely<unknown>) {
        for (const statement of m.statements) await sql.raw(statement).execute(tx);
      },
    };
  }
  return new Migrator({
    db,
    provider: { getMigrations: async () => migrations },
    migrationTableName: MIGRATION_TABLE,
    migrationLockTableName: MIGRATION_LOCK_TABLE,
  });
}

export interface MigrationReport {
  /** Names of the migrations applied by this call (empty when the schema was up to date). */
  applied: string[];
}

/** Names of migrations not yet applied. Read-only: works as the gateway role. */
export async function pendingMigrations<DB>(db: Kysely<DB>): Promise<string[]> {
  const all = await migrator(db as unknown as Kysely<unknown>).getMigrations();
  return all.filter((m) => m.executedAt === undefined).map((m) => m.name);
}

/** Applies pending migrations (each in its own transaction, under kysely's migration lock). */
export async function migrateToLatest<DB>(db: Kysely<DB>): Promise<MigrationReport> {
  if ((await pendingMigrations(db)).length === 0) return { applied: [] };
  const { error, results } = await migrator(db as unknown as Kysely<unknown>).migrateToLatest();
  const applied = (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
  if (error) {
    const failed = (results ?? []).find((r) => r.status === 'Error');
    const why = error instanceof Error ? error.message : String(error);
    throw new Error(`audit migration ${failed?.migrationName ?? ''} failed: ${why}`);
  }
  return { applied };
}

const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

/** SQL a DBA runs to create the gateway's role: it may INSERT and SELECT audit events, nothing else. */
export function gatewayRoleSql(role = 'airlock_gateway', schema = 'public'): string[] {
  if (!IDENTIFIER.test(role))
    throw new Error(`role name must match ${IDENTIFIER}, got ${JSON.stringify(role)}`);
  if (!IDENTIFIER.test(schema))
    throw new Error(`schema name must match ${IDENTIFIER}, got ${JSON.stringify(schema)}`);
  return [
    `GRANT USAGE ON SCHEMA ${schema} TO ${role}`,
    `GRANT SELECT, INSERT ON ${schema}.audit_events TO ${role}`,
    `GRANT SELECT ON ${schema}.${MIGRATION_TABLE} TO ${role}`,
  ];
}

/** The whole schema as one SQL script for DBAs (what `airlock migrate --print-sql` prints). */
export function migrationSql(role = 'airlock_gateway'): string {
  const parts: string[] = [
    '-- Airlock audit trail schema (what `airlock migrate` does, as plain SQL for DBAs).',
    '-- Run it as the role that will OWN the table, never as the gateway role: the owner can disable',
    '-- triggers, so keep it for migrations. Applying it by hand is equivalent to `airlock migrate`',
    `-- (migrations are recorded in ${MIGRATION_TABLE}); running it twice fails harmlessly.`,
    '',
    `CREATE TABLE IF NOT EXISTS ${MIGRATION_TABLE} (name varchar(255) NOT NULL PRIMARY KEY, timestamp varchar(255) NOT NULL);`,
    `CREATE TABLE IF NOT EXISTS ${MIGRATION_LOCK_TABLE} (id varchar(255) NOT NULL PRIMARY KEY, is_locked integer NOT NULL DEFAULT 0);`,
    `INSERT INTO ${MIGRATION_LOCK_TABLE} (id, is_locked) VALUES ('migration_lock', 0) ON CONFLICT DO NOTHING;`,
    '',
  ];
  for (const m of MIGRATIONS) {
    parts.push(`-- migration ${m.name}`, 'BEGIN;');
    for (const s of m.statements) parts.push(`${s};`);
    parts.push(
      `INSERT INTO ${MIGRATION_TABLE} (name, timestamp) VALUES ('${m.name}', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'));`,
      'COMMIT;',
      '',
    );
  }
  parts.push(
    `-- The gateway's role: INSERT and SELECT only (no UPDATE, DELETE, TRUNCATE; not the owner).`,
    '-- Create it once per cluster (needs CREATEROLE), choose the password yourself:',
    `-- CREATE ROLE ${role} LOGIN PASSWORD '…';`,
    ...gatewayRoleSql(role).map((s) => `${s};`),
    '',
  );
  return parts.join('\n');
}
