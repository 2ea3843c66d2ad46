// Test backends for the shared audit suite: embedded PGlite and a real Postgres server. Each test file
// gets its own isolated database (a fresh PGlite directory, or a freshly created Postgres database).
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { type AddressInfo, connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Kysely, sql } from 'kysely';
import pg from 'pg';
import {
  type AuditDatabase,
  type AuditSchema,
  AuditStore,
  type AuditStoreOptions,
  gatewayRoleSql,
  openDatabase,
} from '../../src/audit/index.js';

/** A database that can be cut off and brought back, for outage tests. */
export interface OutageHarness {
  /** The current connection (after `restore`, possibly a new one). */
  db(): Kysely<AuditSchema>;
  cut(): Promise<void>;
  restore(): Promise<void>;
  close(): Promise<void>;
}

export interface Backend {
  name: 'pglite' | 'postgres';
  /** Opens a store on this file's database (migrated), connected as a superuser. */
  open(options?: Partial<AuditStoreOptions>): Promise<AuditStore>;
  /** Runs `fn` with a store connected as the gateway role (INSERT and SELECT only). */
  asGateway(fn: (store: AuditStore) => Promise<void>): Promise<void>;
  /** A separate database for outage tests. */
  outage(): Promise<OutageHarness>;
  /** A separate, empty database (no migrations applied), e.g. to build an older schema and upgrade it. */
  fresh(): Promise<AuditDatabase>;
  teardown(): Promise<void>;
}

const roleName = () => `airlock_gw_${randomBytes(5).toString('hex')}`;

export function pgliteBackend(): Backend {
  const dirs: string[] = [];
  const tempDir = () => {
    const d = mkdtempSync(join(tmpdir(), 'airlock-audit-'));
    dirs.push(d);
    return d;
  };
  const dataDir = tempDir();
  // Keeps the instance alive for the whole file: PGlite starts slowly.
  let keeper: AuditStore | undefined;
  const open = async (options: Partial<AuditStoreOptions> = {}) => {
    const store = await AuditStore.open({ dataDir, ...options });
    keeper ??= await AuditStore.open({ dataDir });
    return store;
  };
  let role: string | undefined;
  return {
    name: 'pglite',
    open,
    async asGateway(fn) {
      const store = await open();
      if (!role) {
        role = roleName();
        await sql.raw(`CREATE ROLE ${role} NOLOGIN`).execute(store.db);
        for (const s of gatewayRoleSql(role)) await sql.raw(s).execute(store.db);
      }
      // PGlite is one session: SET ROLE applies to every query until RESET.
      await sql.raw(`SET ROLE ${role}`).execute(store.db);
      try {
        await fn(store);
      } finally {
        await sql.raw('RESET ROLE').execute(store.db);
        await store.close();
      }
    },
    async outage() {
      const dir = tempDir();
      let database: AuditDatabase = await openDatabase({ dataDir: dir });
      const s = await AuditStore.open({ dataDir: dir }); // migrate
      await s.close();
      return {
        db: () => database.db,
        cut: () => database.close(),
        async restore() {
          database = await openDatabase({ dataDir: dir });
        },
        close: () => database.close(),
      };
    },
    fresh: () => openDatabase({ dataDir: tempDir() }),
    async teardown() {
      await keeper?.close();
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    },
  };
}

/** A TCP relay to the Postgres server that a test can switch off and on. */
class Relay {
  #server: Server | undefined;
  #sockets = new Set<Socket>();
  port = 0;
  constructor(
    readonly host: string,
    readonly target: number,
  ) {}
  async start(): Promise<void> {
    const server = createServer((client) => {
      const upstream = connect(this.target, this.host);
      for (const s of [client, upstream]) {
        this.#sockets.add(s);
        s.on('close', () => this.#sockets.delete(s));
        s.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as AddressInfo).port;
    this.#server = server;
  }
  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    for (const s of this.#sockets) s.destroy();
    this.#sockets.clear();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** The Postgres backend, or a reason why it cannot run here. */
export async function postgresBackend(): Promise<Backend | string> {
  const adminUrl = process.env.DATABASE_URL;
  if (!adminUrl) return 'DATABASE_URL is not set';
  const admin = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 3000 });
  admin.on('error', () => {});
  try {
    await admin.connect();
  } catch (err) {
    return `Postgres at ${new URL(adminUrl).host} is unreachable (${(err as Error).message})`;
  }
  const dbName = `airlock_test_${randomBytes(6).toString('hex')}`;
  await admin.query(`CREATE DATABASE ${dbName}`);
  const urlFor = (name: string, user?: string, hostPort?: string) => {
    const u = new URL(adminUrl);
    u.pathname = `/${name}`;
    if (user) {
      u.username = user;
      u.password = '';
    }
    if (hostPort) u.host = hostPort;
    return u.toString();
  };
  const databaseUrl = urlFor(dbName);
  const roles: string[] = [];
  const extraDbs: string[] = [];
  const relays: Relay[] = [];
  return {
    name: 'postgres',
    open: (options = {}) => AuditStore.open({ databaseUrl, ...options }),
    async asGateway(fn) {
      const role = roleName();
      roles.push(role);
      await admin.query(`CREATE ROLE ${role} LOGIN`);
      const owner = await AuditStore.open({ databaseUrl });
      try {
        for (const s of gatewayRoleSql(role)) await sql.raw(s).execute(owner.db);
      } finally {
        await owner.close();
      }
      const store = await AuditStore.open({ databaseUrl: urlFor(dbName, role), migrate: 'never' });
      try {
        await fn(store);
      } finally {
        await store.close();
      }
    },
    async outage() {
      const name = `${dbName}_outage`;
      extraDbs.push(name);
      await admin.query(`CREATE DATABASE ${name}`);
      const u = new URL(adminUrl);
      const relay = new Relay(u.hostname, Number(u.port || 5432));
      relays.push(relay);
      await relay.start();
      const database = await openDatabase({
        databaseUrl: urlFor(name, undefined, `127.0.0.1:${relay.port}`),
        connectTimeoutMs: 2000,
      });
      const s = await AuditStore.open({ databaseUrl: urlFor(name) });
      await s.close();
      return {
        db: () => database.db,
        cut: () => relay.stop(),
        restore: () => relay.start(),
        close: () => database.close(),
      };
    },
    async fresh() {
      const name = `${dbName}_fresh${extraDbs.length}`;
      extraDbs.push(name);
      await admin.query(`CREATE DATABASE ${name}`);
      return openDatabase({ databaseUrl: urlFor(name) });
    },
    async teardown() {
      for (const r of relays) await r.stop();
      for (const name of [dbName, ...extraDbs])
        await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      for (const role of roles) await admin.query(`DROP ROLE IF EXISTS ${role}`);
      await admin.end();
    },
  };
}
