// Schema of the engine's tables (live data), migrated like the audit store's: statements in code,
// kysely's Migrator with bookkeeping tables of our own, idempotent, run at start-up.
import { type Kysely, type Migration, Migrator, sql } from 'kysely';

export const MIGRATION_TABLE = 'airlock_engine_migration';
export const MIGRATION_LOCK_TABLE = 'airlock_engine_migration_lock';

/** Every migration, in order. Never edit one that has shipped: add a new one. */
export const MIGRATIONS: readonly { name: string; statements: readonly string[] }[] = [
  {
    name: '0001_live_data',
    statements: [
      // One row per top-level key of the live data document. A deleted key keeps its row with a NULL
      // value (a tombstone) so that replicas polling by version see the deletion.
      `CREATE TABLE airlock_live_data (
  root       text        PRIMARY KEY,
  value      jsonb,
  version    bigint      NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  updated_by text
)`,
      'CREATE SEQUENCE airlock_live_data_version',
      'CREATE INDEX airlock_live_data_version_idx ON airlock_live_data (version)',
      `COMMENT ON TABLE airlock_live_data IS 'Airlock live policy data written through PUT/PATCH/DELETE /v1/data (see docs/api.md)'`,
    ],
  },
];

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

/** Applies pending engine migrations; resolves with the names applied. */
export async function migrateEngine<DB>(db: Kysely<DB>): Promise<string[]> {
  const m = migrator(db as unknown as Kysely<unknown>);
  const pending = (await m.getMigrations()).filter((x) => x.executedAt === undefined);
  if (pending.length === 0) return [];
  const { error, results } = await m.migrateToLatest();
  if (error) {
    const failed = (results ?? []).find((r) => r.status === 'Error');
    throw new Error(
      `engine migration ${failed?.migrationName ?? ''} failed: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
