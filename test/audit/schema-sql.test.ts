// The SQL that `airlock migrate --print-sql` gives DBAs, applied by hand, is equivalent to `airlock
// migrate`, and its role can record but not rewrite. Postgres only: skipped with a notice without it.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import t from 'tap';
import { AuditStore, migrationSql, pendingMigrations } from '../../src/audit/index.js';
import { sampleEvent } from './suite.js';

const adminUrl = process.env.DATABASE_URL;
let admin: pg.Client | undefined;
let skip: string | false = adminUrl ? false : 'DATABASE_URL is not set';
if (adminUrl) {
  admin = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 3000 });
  admin.on('error', () => {});
  try {
    await admin.connect();
  } catch (err) {
    skip = `Postgres is unreachable (${(err as Error).message})`;
    admin = undefined;
  }
}
if (skip) t.comment(`NOTICE: hand-applied schema SQL test skipped: ${skip}`);

t.test('the printed SQL, applied by hand, sets up a working audit store', { skip }, async (t) => {
  const suffix = randomBytes(5).toString('hex');
  const dbName = `airlock_test_sql_${suffix}`;
  const role = `airlock_gw_sql_${suffix}`;
  await admin!.query(`CREATE DATABASE ${dbName}`);
  await admin!.query(`CREATE ROLE ${role} LOGIN`);
  t.teardown(async () => {
    await admin!.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await admin!.query(`DROP ROLE IF EXISTS ${role}`);
    await admin!.end();
  });
  const url = (user?: string) => {
    const u = new URL(adminUrl!);
    u.pathname = `/${dbName}`;
    if (user) u.username = user;
    return u.toString();
  };
  const dba = new pg.Client({ connectionString: url() });
  await dba.connect();
  await dba.query(migrationSql(role)); // simple protocol: the whole script at once
  await dba.end();

  const gateway = await AuditStore.open({ databaseUrl: url(role), migrate: 'never' });
  t.teardown(() => gateway.close());
  t.same(await pendingMigrations(gateway.db), [], 'the gateway sees no pending migration');
  const r = await gateway.record(sampleEvent(1));
  t.equal(r.seq, 1, 'and records');
  t.ok((await gateway.verify()).ok);
  await t.rejects(gateway.db.deleteFrom('audit_events').execute(), /permission denied/, 'but cannot delete');

  const owner = await AuditStore.open({ databaseUrl: url() });
  t.teardown(() => owner.close());
  t.same(await pendingMigrations(owner.db), [], '`airlock migrate` would have nothing to do');
  await owner.close();
  await gateway.close();
});
