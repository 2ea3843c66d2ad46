// Schema migrations of the audit store, run by `airlock migrate` and at start-up (idempotent).
// They live in code (not in .sql files) so that they ship inside dist/; `migrationSql()` prints them.
// The runner and the script printer are generic: other parts (approvals) keep their own migration set
// with bookkeeping tables of their own, and use the same two functions.
import { type Kysely, type Migration, Migrator, sql } from 'kysely';
import * as m0001 from './0001_audit_events.js';
import * as m0002 from './0002_chain_head.js';
import * as m0003 from './0003_requested_by.js';
import * as m0004 from './0004_append.js';
import * as m0005 from './0005_model_index.js';

/** Kysely's bookkeeping tables for these migrations (kept apart from other parts' migrations). */
export const MIGRATION_TABLE = 'airlock_audit_migration';
export const MIGRATION_LOCK_TABLE = 'airlock_audit_migration_lock';

/** One migration: SQL statements run one by one (PGlite takes one statement per query) in a transaction. */
export interface MigrationStep {
  name: string;
  statements: readonly string[];
}

/** A part's migrations and where kysely records them. */
export interface MigrationSet {
  /** Names the part in error messages ("audit", "approvals"). */
  label: string;
  table: string;
  lockTable: string;
  /** In order. Never edit one that has shipped: add a new one. */
  migrations: readonly MigrationStep[];
}

/** Every migration, in order. Never edit one that has shipped: add a new one. */
export const MIGRATIONS: readonly MigrationStep[] = [m0001, m0002, m0003, m0004, m0005];

export const AUDIT_MIGRATIONS: MigrationSet = {
  label: 'audit',
  table: MIGRATION_TABLE,
  lockTable: MIGRATION_LOCK_TABLE,
  migrations: MIGRATIONS,
};

function migrator(db: Kysely<unknown>, set: MigrationSet): Migrator {
  const migrations: Record<string, Migration> = {};
  for (const m of set.migrations) {
    migrations[m.name] = {
      async up(tx: Kysely<unknown>) {
        for (const statement of m.statements) await sql.raw(statement).execute(tx);
      },
    };
  }
  return new Migrator({
    db,
    provider: { getMigrations: async () => migrations },
    migrationTableName: set.table,
    migrationLockTableName: set.lockTable,
  });
}

export interface MigrationReport {
  /** Names of the migrations applied by this call (empty when the schema was up to date). */
  applied: string[];
}

/** Names of the set's migrations not yet applied. Read-only: works as the gateway role. */
export async function pendingMigrationsOf<DB>(db: Kysely<DB>, set: MigrationSet): Promise<string[]> {
  const all = await migrator(db as unknown as Kysely<unknown>, set).getMigrations();
  return all.filter((m) => m.executedAt === undefined).map((m) => m.name);
}

/** Applies the set's pending migrations (each in its own transaction, under kysely's migration lock). */
export async function applyMigrations<DB>(db: Kysely<DB>, set: MigrationSet): Promise<MigrationReport> {
  if ((await pendingMigrationsOf(db, set)).length === 0) return { applied: [] };
  const { error, results } = await migrator(db as unknown as Kysely<unknown>, set).migrateToLatest();
  const applied = (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
  if (error) {
    const failed = (results ?? []).find((r) => r.status === 'Error');
    const why = error instanceof Error ? error.message : String(error);
    throw new Error(`${set.label} migration ${failed?.migrationName ?? ''} failed: ${why}`);
  }
  return { applied };
}

/** Names of audit migrations not yet applied. Read-only: works as the gateway role. */
export function pendingMigrations<DB>(db: Kysely<DB>): Promise<string[]> {
  return pendingMigrationsOf(db, AUDIT_MIGRATIONS);
}

/** Applies pending audit migrations. */
export function migrateToLatest<DB>(db: Kysely<DB>): Promise<MigrationReport> {
  return applyMigrations(db, AUDIT_MIGRATIONS);
}

const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

/** Throws unless `name` is a plain lower-case SQL identifier (safe to splice into DDL). */
export function checkIdentifier(name: string, what: 'role' | 'schema'): void {
  if (!IDENTIFIER.test(name))
    throw new Error(`${what} name must match ${IDENTIFIER}, got ${JSON.stringify(name)}`);
}

/** SQL a DBA runs to create the gateway's role: it may INSERT and SELECT audit events, nothing else. */
export function gatewayRoleSql(role = 'airlock_gateway', schema = 'public'): string[] {
  checkIdentifier(role, 'role');
  checkIdentifier(schema, 'schema');
  return [
    `GRANT USAGE ON SCHEMA ${schema} TO ${role}`,
    `GRANT SELECT, INSERT ON ${schema}.audit_events TO ${role}`,
    `GRANT SELECT ON ${schema}.${MIGRATION_TABLE} TO ${role}`,
    `GRANT EXECUTE ON FUNCTION ${schema}.airlock_audit_chain_head() TO ${role}`,
    `GRANT EXECUTE ON FUNCTION ${schema}.airlock_audit_append(text[], timestamptz) TO ${role}`,
  ];
}

/** The bookkeeping tables and each migration of `set` as plain SQL, one transaction per migration. */
export function migrationSetSql(set: MigrationSet): string[] {
  const parts: string[] = [
    `CREATE TABLE IF NOT EXISTS ${set.table} (name varchar(255) NOT NULL PRIMARY KEY, timestamp varchar(255) NOT NULL);`,
    `CREATE TABLE IF NOT EXISTS ${set.lockTable} (id varchar(255) NOT NULL PRIMARY KEY, is_locked integer NOT NULL DEFAULT 0);`,
    `INSERT INTO ${set.lockTable} (id, is_locked) VALUES ('migration_lock', 0) ON CONFLICT DO NOTHING;`,
    '',
  ];
  for (const m of set.migrations) {
    parts.push(`-- migration ${m.name}`, 'BEGIN;');
    for (const s of m.statements) parts.push(`${s};`);
    parts.push(
      `INSERT INTO ${set.table} (name, timestamp) VALUES ('${m.name}', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'));`,
      'COMMIT;',
      '',
    );
  }
  return parts;
}

/** The whole schema as one SQL script for DBAs (what `airlock migrate --print-sql` prints). */
export function migrationSql(role = 'airlock_gateway'): string {
  const parts: string[] = [
    '-- Airlock audit trail schema (what `airlock migrate` does, as plain SQL for DBAs).',
    '-- Run it as the role that will OWN the table, never as the gateway role: the owner can disable',
    '-- triggers, so keep it for migrations. Applying it by hand is equivalent to `airlock migrate`',
    `-- (migrations are recorded in ${MIGRATION_TABLE}); running it twice fails harmlessly.`,
    '',
    ...migrationSetSql(AUDIT_MIGRATIONS),
  ];
  parts.push(
    `-- The gateway's role: INSERT and SELECT only (no UPDATE, DELETE, TRUNCATE; not the owner).`,
    '-- Create it once per cluster (needs CREATEROLE), choose the password yourself:',
    `-- CREATE ROLE ${role} LOGIN PASSWORD '…';`,
    ...gatewayRoleSql(role).map((s) => `${s};`),
    '',
  );
  return parts.join('\n');
}
