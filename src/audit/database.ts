// Opens the audit database: Postgres through `pg` when a URL is given, otherwise embedded PGlite in a
// data directory. PGlite starts slowly and owns its directory, so each process keeps one instance per
// directory and hands out references to it.
import { mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { Kysely, PostgresDialect } from 'kysely';
import { PGliteDialect } from 'kysely-pglite-dialect';
import pg from 'pg';
import type { AuditSchema } from './schema.js';

export const DEFAULT_DATA_DIR = './.airlock/data';

export interface DatabaseConfig {
  /** `postgres://…`; when absent, PGlite is used. */
  databaseUrl?: string | undefined;
  /** PGlite data directory (default `./.airlock/data`); `memory://` keeps it in memory. */
  dataDir?: string | undefined;
  /** Postgres pool size (default 10). */
  poolSize?: number;
  /** Postgres: give up connecting after this many milliseconds (default 5000). */
  connectTimeoutMs?: number;
  /** Postgres: fail a query (and so `record`) that takes longer than this (default 30 000). */
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

async function openPglite(dataDir: string): Promise<AuditDatabase> {
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
        const db = new Kysely<AuditSchema>({ dialect: new PGliteDialect(client) });
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
  const pool = new pg.Pool({
    connectionString: config.databaseUrl,
    max: config.poolSize ?? 10,
    connectionTimeoutMillis: config.connectTimeoutMs ?? 5000,
    query_timeout: config.queryTimeoutMs ?? 30_000,
    // A gateway frozen inside a transaction would hold the chain lock for every replica: the server
    // ends such sessions (the transaction rolls back, the frozen caller's record fails).
    idle_in_transaction_session_timeout: 30_000,
  });
  // Without a listener, an idle connection dropped by the server would crash the process.
  pool.on('error', (err) => config.onConnectionError?.(err));
  // A checked-out client whose server goes away emits 'error' too (besides failing its query); pg-pool
  // only listens while the client is idle, so without this an outage could crash the gateway.
  pool.on('connect', (client) => client.on('error', (err) => config.onConnectionError?.(err)));
  const db = new Kysely<AuditSchema>({ dialect: new PostgresDialect({ pool }) });
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
  return openPglite(config.dataDir ?? DEFAULT_DATA_DIR);
}
