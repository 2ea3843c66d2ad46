// Opens the audit database: Postgres through `pg` when a URL is given, otherwise embedded PGlite in a
// data directory. PGlite starts slowly and owns its directory, so each process keeps one instance per
// directory and hands out references to it.
import { mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import {
  type CompiledQuery,
  type DatabaseConnection,
  type Dialect,
  type Driver,
  Kysely,
  PostgresDialect,
  type PostgresPool,
  type PostgresPoolClient,
  type QueryResult,
  type TransactionSettings,
} from 'kysely';
import { PGliteDialect } from 'kysely-pglite-dialect';
import pg from 'pg';
import type { AuditSchema } from './schema.js';

export const DEFAULT_DATA_DIR = './.airlock/data';
/** Default bound on every database wait (connect, pool, statement, lock), in milliseconds. */
export const DEFAULT_DATABASE_TIMEOUT_MS = 10_000;

/** A wait for the database ran past its bound. */
export class DatabaseTimeoutError extends Error {
  constructor(what: string, ms: number) {
    super(`database ${what} timed out after ${ms} ms`);
    this.name = 'DatabaseTimeoutError';
  }
}

export interface DatabaseConfig {
  /** `postgres://…`; when absent, PGlite is used. */
  databaseUrl?: string | undefined;
  /** PGlite data directory (default `./.airlock/data`); `memory://` keeps it in memory. */
  dataDir?: string | undefined;
  /** Postgres pool size (default 10). */
  poolSize?: number;
  /**
   * The bound on every wait for the database, in milliseconds (default 10 000): connecting, getting a
   * client from the pool, a statement, a lock. On Postgres it sets `connectionTimeoutMillis` (which pg
   * also applies to pool acquisition), `query_timeout` (client side: a frozen server still gives up),
   * and the server-side `statement_timeout` and `lock_timeout`; a session left idle inside a
   * transaction for three times as long is ended by the server. On PGlite (in-process, one connection)
   * it bounds the wait for the connection and for each statement.
   */
  timeoutMs?: number;
  /** Postgres: give up connecting (or waiting for a pooled client) after this long (default `timeoutMs`). */
  connectTimeoutMs?: number;
  /** Postgres: fail a query (and so `record`) that takes longer than this (default `timeoutMs`). */
  queryTimeoutMs?: number;
  /** Called with errors of idle pooled connections (e.g. the server went away). */
  onConnectionError?: (err: Error) => void;
}

export interface AuditDatabase {
  db: Kysely<AuditSchema>;
  backend: 'postgres' | 'pglite';
  /** Where the data is, fit for logs (no password). */
  location: string;
  close(): Promise<void>;
}

/**
 * The configuration from flags, falling back to the environment (`DATABASE_URL`, `AIRLOCK_DATA_DIR`).
 * An explicit data directory flag selects PGlite even when `DATABASE_URL` is set.
 */
export function databaseConfigFrom(
  flags: { databaseUrl?: string | undefined; dataDir?: string | undefined },
  env: NodeJS.ProcessEnv = process.env,
): DatabaseConfig {
  if (flags.databaseUrl) return { databaseUrl: flags.databaseUrl };
  if (flags.dataDir) return { dataDir: flags.dataDir };
  return { databaseUrl: env.DATABASE_URL || undefined, dataDir: env.AIRLOCK_DATA_DIR || undefined };
}

/** A connection URL with its password masked. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparsable database URL)';
  }
}

/** Raised when another live process holds a PGlite data directory. */
export class DataDirInUseError extends Error {
  constructor(
    readonly dataDir: string,
    readonly pid: number,
  ) {
    super(
      `PGlite data directory ${dataDir} is in use by process ${pid}: PGlite serves one process per directory (stop that process, or use Postgres with DATABASE_URL)`,
    );
    this.name = 'DataDirInUseError';
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * PGlite does not lock its directory, and two processes on one directory corrupt it. A lock file
 * beside the directory (`<dir>.lock`, holding the owner's pid) keeps a second process out; a lock left
 * by a dead process is taken over.
 */
function lockDataDir(dir: string): () => void {
  const path = `${dir}.lock`;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(path, `${process.pid}\n`, { flag: 'wx' });
      return () => {
        try {
          if (readFileSync(path, 'utf8').trim() === String(process.pid)) unlinkSync(path);
        } catch {
          // already gone
        }
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number.parseInt(readFileSync(path, 'utf8').trim(), 10);
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid))
        throw new DataDirInUseError(dir, pid);
      unlinkSync(path); // stale: its process is gone
    }
  }
  throw new Error(`could not lock ${dir}`);
}

/** The client under a kysely instance opened here (for LISTEN/NOTIFY, which kysely does not expose). */
export type DatabaseHandle = { backend: 'postgres'; pool: pg.Pool } | { backend: 'pglite'; client: PGlite };
const handles = new WeakMap<object, DatabaseHandle>();

/** The pg Pool or PGlite instance behind `db`, when `db` was opened by openDatabase. */
export function databaseHandle(db: object): DatabaseHandle | undefined {
  return handles.get(db);
}

interface SharedPglite {
  db: Kysely<AuditSchema>;
  refs: number;
  unlock: () => void;
}
const pglites = new Map<string, Promise<SharedPglite>>();

async function openPglite(dataDir: string, timeoutMs: number): Promise<AuditDatabase> {
  const memory = dataDir.startsWith('memory://');
  const key = memory ? dataDir : resolve(dataDir);
  let shared = pglites.get(key);
  if (!shared) {
    shared = (async () => {
      let unlock = () => {};
      if (!memory) {
        mkdirSync(key, { recursive: true });
        unlock = lockDataDir(key);
      }
      try {
        const client = new PGlite(memory ? dataDir : key);
        await client.waitReady;
        const db = new Kysely<AuditSchema>({ dialect: boundedDialect(new PGliteDialect(client), timeoutMs) });
        handles.set(db, { backend: 'pglite', client });
        return { db, refs: 0, unlock };
      } catch (err) {
        unlock();
        throw err;
      }
    })();
    pglites.set(key, shared);
    shared.catch(() => pglites.delete(key));
  }
  const s = await shared;
  s.refs++;
  let closed = false;
  return {
    db: s.db,
    backend: 'pglite',
    location: memory ? dataDir : key,
    async close() {
      if (closed) return;
      closed = true;
      if (--s.refs === 0) {
        pglites.delete(key);
        try {
          await s.db.destroy();
        } finally {
          s.unlock();
        }
      }
    },
  };
}

function openPostgres(config: DatabaseConfig & { databaseUrl: string }): AuditDatabase {
  const bound = config.timeoutMs ?? DEFAULT_DATABASE_TIMEOUT_MS;
  const pool = new pg.Pool({
    connectionString: config.databaseUrl,
    max: config.poolSize ?? 10,
    // pg-pool applies it both to opening a connection and to waiting for a free pooled client.
    connectionTimeoutMillis: config.connectTimeoutMs ?? bound,
    // Client side: answers even when the server is frozen or the network silently drops packets.
    query_timeout: config.queryTimeoutMs ?? bound,
    // Server side: the statement is cancelled there too, and lock waits (the chain's advisory lock,
    // the live data table lock, kysely's migration lock) give up rather than queue forever.
    statement_timeout: config.queryTimeoutMs ?? bound,
    lock_timeout: bound,
    // A gateway frozen inside a transaction would hold the chain lock for every replica: the server
    // ends such sessions (the transaction rolls back, the frozen caller's record fails).
    idle_in_transaction_session_timeout: Math.max(3 * bound, 1000),
    keepAlive: true,
  });
  // Without a listener, an idle connection dropped by the server would crash the process.
  pool.on('error', (err) => config.onConnectionError?.(err));
  // A checked-out client whose server goes away emits 'error' too (besides failing its query); pg-pool
  // only listens while the client is idle, so without this an outage could crash the gateway.
  pool.on('connect', (client) => client.on('error', (err) => config.onConnectionError?.(err)));
  const db = new Kysely<AuditSchema>({ dialect: new PostgresDialect({ pool: discardingPool(pool) }) });
  handles.set(db, { backend: 'postgres', pool });
  let closed = false;
  return {
    db,
    backend: 'postgres',
    location: redactUrl(config.databaseUrl),
    async close() {
      if (closed) return;
      closed = true;
      await db.destroy();
    },
  };
}

/** Opens the database named by `config` (Postgres if `databaseUrl` is set, else PGlite). */
export async function openDatabase(config: DatabaseConfig = {}): Promise<AuditDatabase> {
  if (config.databaseUrl) {
    if (!/^postgres(ql)?:\/\//.test(config.databaseUrl)) {
      throw new Error(
        `database URL must start with postgres:// or postgresql://, got ${redactUrl(config.databaseUrl)}`,
      );
    }
    return openPostgres({ ...config, databaseUrl: config.databaseUrl });
  }
  return openPglite(config.dataDir ?? DEFAULT_DATA_DIR, config.timeoutMs ?? DEFAULT_DATABASE_TIMEOUT_MS);
}

/**
 * The pool kysely sees. A pg client whose query failed at the connection level (a client-side timeout,
 * a broken socket) is out of step with its server: kysely would hand it back to the pool and the next
 * caller would queue behind the stuck statement. Such a client refuses further queries at once (so a
 * ROLLBACK after a timeout does not wait a second bound) and is destroyed on release.
 */
function discardingPool(pool: pg.Pool): PostgresPool {
  return {
    async connect(): Promise<PostgresPoolClient> {
      const client = await pool.connect();
      let broken: Error | undefined;
      return {
        async query(sqlText: string, parameters: readonly unknown[]) {
          if (broken) throw broken;
          try {
            return await client.query(sqlText, parameters as unknown[]);
          } catch (err) {
            // Errors from the server (a constraint, a statement_timeout) carry an SQLSTATE and leave the
            // session usable; anything else means the connection cannot be trusted.
            if (!(err instanceof pg.DatabaseError)) broken = err as Error;
            throw err;
          }
        },
        release() {
          client.release(broken);
        },
      } as unknown as PostgresPoolClient;
    },
    end: () => pool.end(),
  };
}

/** Rejects with DatabaseTimeoutError if `promise` has not settled within `ms`. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new DatabaseTimeoutError(what, ms)), ms);
    promise.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e) => {
        clearTimeout(timer);
        reject(e);
      },
    );
  });
}

/**
 * A dialect whose waits are bounded: acquiring the connection and each statement. For PGlite, which
 * runs in-process on one connection: a statement that overruns still finishes inside PGlite, so the
 * connection goes back to the next caller only once everything sent on it has settled (nobody's
 * statements interleave with another's transaction); a connection granted after its caller gave up is
 * released at once.
 */
export function boundedDialect(inner: Dialect, ms: number): Dialect {
  return {
    createAdapter: () => inner.createAdapter(),
    createQueryCompiler: () => inner.createQueryCompiler(),
    createIntrospector: (db) => inner.createIntrospector(db),
    createDriver: () => new BoundedDriver(inner.createDriver(), ms),
  };
}

class BoundedConnection implements DatabaseConnection {
  readonly pending = new Set<Promise<unknown>>();
  constructor(
    readonly inner: DatabaseConnection,
    readonly ms: number,
  ) {}
  executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    const run = this.inner.executeQuery<R>(query);
    const settled = run.then(
      () => {},
      () => {},
    );
    this.pending.add(settled);
    void settled.finally(() => this.pending.delete(settled));
    return within(run, this.ms, 'statement');
  }
  streamQuery<R>(query: CompiledQuery, chunkSize?: number): AsyncIterableIterator<QueryResult<R>> {
    return this.inner.streamQuery<R>(query, chunkSize);
  }
}

class BoundedDriver implements Driver {
  readonly #inner: Driver;
  readonly #ms: number;
  constructor(inner: Driver, ms: number) {
    this.#inner = inner;
    this.#ms = ms;
  }
  init(): Promise<void> {
    return this.#inner.init();
  }
  async acquireConnection(): Promise<DatabaseConnection> {
    const acquiring = this.#inner.acquireConnection();
    let conn: DatabaseConnection;
    try {
      conn = await within(acquiring, this.#ms, 'connection wait');
    } catch (err) {
      // Granted after its caller gave up: hand it straight back.
      acquiring.then(
        (late) => this.#inner.releaseConnection(late),
        () => {},
      );
      throw err;
    }
    return new BoundedConnection(conn, this.#ms);
  }
  beginTransaction(conn: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    return this.#inner.beginTransaction(conn, settings);
  }
  commitTransaction(conn: DatabaseConnection): Promise<void> {
    return this.#inner.commitTransaction(conn);
  }
  rollbackTransaction(conn: DatabaseConnection): Promise<void> {
    return this.#inner.rollbackTransaction(conn);
  }
  async releaseConnection(conn: DatabaseConnection): Promise<void> {
    const c = conn as BoundedConnection;
    // Overrun statements still run inside the backend: release once they are done.
    const release = Promise.all([...c.pending]).then(() => this.#inner.releaseConnection(c.inner));
    if (c.pending.size === 0) await release;
    else release.catch(() => {});
  }
  destroy(): Promise<void> {
    return this.#inner.destroy();
  }
}
