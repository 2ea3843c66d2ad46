// The audit store as the rest of Airlock uses it: one database, migrated, with its writer.
import { type Kysely, sql } from 'kysely';
import { Checkpointer, type CheckpointerOptions } from './checkpointer.js';
import {
  type AuditDatabase,
  type DatabaseConfig,
  DatabaseTimeoutError,
  DEFAULT_DATABASE_TIMEOUT_MS,
  openDatabase,
} from './database.js';
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

/** What `probe()` found: whether the database answers and the trail can be appended to. */
export interface AuditProbe {
  /** The database answered a query within the bound. */
  reachable: boolean;
  /** The session may insert into the audit table (privilege, not read-only). */
  writable: boolean;
  /** Why not, fit for a health answer (no URL, no password). */
  error?: string;
}

export class AuditStore {
  readonly writer: AuditWriter;
  readonly #database: AuditDatabase;
  readonly #timeoutMs: number;
  #checkpointer: Checkpointer | undefined;
  #probing: Promise<AuditProbe> | undefined;

  private constructor(database: AuditDatabase, options: AuditStoreOptions) {
    this.#database = database;
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_DATABASE_TIMEOUT_MS;
    this.writer = new AuditWriter(database.db, { timeoutMs: this.#timeoutMs, ...options.writer });
    if (options.checkpoints) this.startCheckpoints(options.checkpoints);
  }

  /** Present once checkpoints were configured (at open or by `startCheckpoints`); already started. */
  get checkpointer(): Checkpointer | undefined {
    return this.#checkpointer;
  }

  /** Starts signed checkpoints on an interval; `close()` then writes a final one after the last event. */
  startCheckpoints(options: CheckpointerOptions): Checkpointer {
    if (this.#checkpointer) throw new Error('checkpoints are already started');
    this.#checkpointer = new Checkpointer(this.#database.db, options).start();
    return this.#checkpointer;
  }

  /**
   * Asks the database, within the bound, whether it answers and whether this session may append to the
   * trail. Concurrent callers share one probe, so health checks during an outage hold one connection at
   * most.
   */
  probe(): Promise<AuditProbe> {
    this.#probing ??= this.#probe().finally(() => {
      this.#probing = undefined;
    });
    return this.#probing;
  }

  async #probe(): Promise<AuditProbe> {
    const ms = this.#timeoutMs;
    const query = sql<{ can_insert: boolean; read_only: string }>`
      SELECT has_table_privilege('audit_events', 'INSERT') AS can_insert,
             current_setting('transaction_read_only') AS read_only`.execute(this.db);
    let timer: NodeJS.Timeout | undefined;
    try {
      const { rows } = await Promise.race([
        query,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new DatabaseTimeoutError('health probe', ms)), ms);
        }),
      ]);
      const r = rows[0];
      if (!r?.can_insert)
        return { reachable: true, writable: false, error: 'no INSERT privilege on audit_events' };
      if (r.read_only === 'on')
        return { reachable: true, writable: false, error: 'the database session is read-only' };
      return { reachable: true, writable: true };
    } catch (err) {
      query.catch(() => {});
      return { reachable: false, writable: false, error: probeError(err) };
    } finally {
      clearTimeout(timer);
    }
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
      await this.#checkpointer?.stop();
    } finally {
      await this.#database.close();
    }
  }
}

/** A short reason for a failed probe: timeouts and connection errors by name, never a URL. */
function probeError(err: unknown): string {
  if (err instanceof DatabaseTimeoutError) return err.message;
  const e = err as { code?: unknown; message?: unknown };
  const code = typeof e?.code === 'string' ? e.code : undefined;
  const message = typeof e?.message === 'string' ? e.message : String(err);
  if (/timeout/i.test(message)) return `database did not answer in time (${message})`;
  if (code && /^E[A-Z]+$/.test(code)) return `database unreachable (${code})`;
  if (code) return `database error ${code}`;
  return 'database unreachable';
}
