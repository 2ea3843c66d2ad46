// Choosing and opening the audit database, without starting one.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { DataDirInUseError, databaseConfigFrom, openDatabase, redactUrl } from '../../src/audit/index.js';

t.test('flags win over the environment; an explicit data dir means PGlite', async (t) => {
  const env = { DATABASE_URL: 'postgres://env@db/airlock', AIRLOCK_DATA_DIR: '/var/lib/airlock' };
  t.same(databaseConfigFrom({ databaseUrl: 'postgres://flag@db/x' }, env), {
    databaseUrl: 'postgres://flag@db/x',
  });
  t.same(databaseConfigFrom({ dataDir: './here' }, env), { dataDir: './here' });
  t.same(databaseConfigFrom({}, env), {
    databaseUrl: 'postgres://env@db/airlock',
    dataDir: '/var/lib/airlock',
  });
  t.same(
    databaseConfigFrom({}, {}),
    { databaseUrl: undefined, dataDir: undefined },
    'nothing set: PGlite default',
  );
});

t.test('passwords never show in locations or errors', async (t) => {
  t.equal(
    redactUrl('postgres://gw:s3cret@db.internal:5432/airlock'),
    'postgres://gw:***@db.internal:5432/airlock',
  );
  t.equal(redactUrl('postgres://gw@db/airlock'), 'postgres://gw@db/airlock');
  t.equal(redactUrl('::not a url::'), '(unparsable database URL)');
  const err = await openDatabase({ databaseUrl: 'mysql://root:s3cret@db/x' }).then(
    () => new Error('opened'),
    (e: Error) => e,
  );
  t.match(err.message, /must start with postgres:\/\/ or postgresql:\/\//);
  t.notMatch(err.message, /s3cret/);
  const db = await openDatabase({
    databaseUrl: 'postgres://gw:s3cret@127.0.0.1:1/airlock',
    connectTimeoutMs: 500,
  });
  t.equal(db.location, 'postgres://gw:***@127.0.0.1:1/airlock');
  await db.close();
});

t.test('a data directory held by another live process is refused before PGlite starts', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'airlock-audit-lock-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const data = join(dir, 'data');
  writeFileSync(`${data}.lock`, `${process.ppid}\n`); // our parent: alive, and not us
  await t.rejects(openDatabase({ dataDir: data }), DataDirInUseError);
  await t.rejects(openDatabase({ dataDir: data }), new RegExp(`in use by process ${process.ppid}`));
});
