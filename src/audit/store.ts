// The audit store as the rest of Airlock uses it: one database, migrated, with its writer.
import type { Kysely } from 'kysely';
import { Checkpointer, type CheckpointerOptions } from './checkpointer.js';
import { type AuditDatabase, type DatabaseConfig, openDatabase } from './database.js';
import { migrateToLatest, pendingMigrations } from './migrations/index.js';
import { type AuditPage, type AuditQuery, chainHead, queryEvents } from './query.js';
import type { AuditSchema } from './schema.js';
import type { AuditEventInput, Recorded } from './types.js';
import { type VerifyOptions, type VerifyReport, verifyChain } from './verify.js';
import { AuditWriter, type WriterOptions } from './writer.js';

export interface AuditStoreOptions extends DatabaseConfig {
  /**
   * `auto` (default) applies pending migrations at open; `never` only checks and fails when the schema
   * is behind (for a gateway role that may not run DDL).
   */
  migrate?: 'auto' | 'never';
  writer?: WriterOptions;
  /** Signed checkpoints at an interval and at `close()` (recommended in production). */
  checkpoints?: CheckpointerOptions;
}

export class AuditStore {
  readonly writer: AuditWriter;
  /** Present when `checkpoints` were configured; already started. */
  readonly checkpointer: Checkpointer | undefined;
  readonly #database: AuditDatabase;

  private constructor(database: AuditDatabase, options: AuditStoreOptions) {
    this.#database = database;
    this.writer = new AuditWriter(database.db, options.writer);
    this.checkpointer = options.checkpoints
      ? new Checkpointer(database.db, options.checkpoints).start()
      : undefined;
  }

  /** Opens (and by default migrates) the store named by `options`. */
  static async open(options: AuditStoreOptions = {}): Promise<AuditStore> {
    const database = await openDatabase(options);
    try {
      const pending = await pendingMigrations(database.db);
      if (pending.length > 0) {
        if (options.migrate === 'never') {
          throw new Error(`audit schema is behind (pending: ${pending.join(', ')}): run \`airlock migrate\``);
        }
        try {
          await migrateToLatest(database.db);
        } catch (err) {
          const why = err instanceof Error ? err.message : String(err);
          throw new Error(
            `audit schema is behind (pending: ${pending.join(', ')}) and migrating it failed: ${why}; run \`airlock migrate\` as the table owner`,
          );
        }
      }
    } catch (err) {
      await database.close();
      throw err;
    }
    return new AuditStore(database, options);
  }

  get db(): Kysely<AuditSchema> {
    return this.#database.db;
  }
  get backend(): 'postgres' | 'pglite' {
    return this.#database.backend;
  }
  /** Where the data lives, fit for logs (no password). */
  get location(): string {
    return this.#database.location;
  }

  /** Appends an event; resolves after COMMIT (see AuditWriter.record). */
  record(event: AuditEventInput): Promise<Recorded> {
    return this.writer.record(event);
  }

  query(q: AuditQuery = {}): Promise<AuditPage> {
    return queryEvents(this.db, q);
  }

  verify(options: VerifyOptions = {}): Promise<VerifyReport> {
    return verifyChain(this.db, options);
  }

  head() {
    return chainHead(this.db);
  }

  /** Waits for queued events, writes a final checkpoint (if configured), then releases the database. */
  async close(): Promise<void> {
    try {
      await this.writer.close();
      await this.checkpointer?.stop();
    } finally {
      await this.#database.close();
    }
  }
}
