// `airlock replay` on decisions recorded through the gateway, as a policy repository's CI runs it:
// on PGlite (--data-dir) and, with DATABASE_URL, Postgres (--database-url).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { AuditStore } from '../../src/audit/index.js';
import { main } from '../../src/cli/main.js';
import { postgresBackend } from '../audit/backends.js';
import { freshPgliteDir } from '../helpers/pglite-dir.js';
import { candidateDir, noLookups, recordDecisions, tarballOf } from '../replay/fixture.js';

async function run(argv: string[]) {
  let out = '';
  let err = '';
  const code = await main(argv, { out: (s) => (out += s), err: (s) => (err += s) });
  return { code, out, err };
}

t.setTimeout(600_000); // PGlite, Postgres, the gateway and several builds of the reference policies
const pg = await postgresBackend();
const same = candidateDir();
const changed = candidateDir(noLookups);
const scratch = mkdtempSync(join(tmpdir(), 'airlock-replay-cli-'));
const pgliteData = await freshPgliteDir(join(scratch, 'data'));
t.teardown(() => {
  same.remove();
  changed.remove();
  rmSync(scratch, { recursive: true, force: true });
});

t.test('--help says what is compared, what the candidate sees, and the exit codes', async (t) => {
  const r = await run(['replay', '--help']);
  t.equal(r.code, 0);
  for (const text of [
    '--fail-on-change',
    '--baseline',
    'Exit status: 0',
    'the mask, not the value',
    'file:line:col',
  ])
    t.match(r.out, text);
});

t.test('usage errors exit 2 and say what is wrong', async (t) => {
  const none = await run(['replay', '--since', '2026-01-01']);
  t.equal(none.code, 2);
  t.match(none.err, /give the candidate with --bundle FILE or --policies DIR/);
  const time = await run(['replay', '--policies', same.dir, '--since', 'yesterday']);
  t.equal(time.code, 2);
  t.match(time.err, /--since wants an ISO 8601 time/);
  const order = await run([
    'replay',
    '--policies',
    same.dir,
    '--since',
    '2026-01-02',
    '--until',
    '2026-01-01',
  ]);
  t.equal(order.code, 2);
  t.match(order.err, /--until must be later than --since/);
});

t.test('a candidate that fails to build: file:line:col, exit 2, nothing on stdout', async (t) => {
  const broken = candidateDir();
  t.teardown(broken.remove);
  writeFileSync(
    join(broken.dir, 'broken.rego'),
    'package airlock.broken\n\nimport rego.v1\n\nx if {\n  input.a ==\n}\n',
  );
  const r = await run([
    'replay',
    '--policies',
    broken.dir,
    '--since',
    '2026-01-01',
    '--data-dir',
    join(scratch, 'none'),
  ]);
  t.equal(r.code, 2);
  t.equal(r.out, '', 'nothing half-shown');
  t.match(r.err, `${join(broken.dir, 'broken.rego')}:7:1: `);
  const notTar = join(scratch, 'junk.tar.gz');
  writeFileSync(notTar, 'not a tarball');
  const junk = await run(['replay', '--bundle', notTar, '--since', '2026-01-01']);
  t.equal(junk.code, 2);
  t.equal(junk.out, '');
  t.match(junk.err, `airlock replay: ${notTar}: not a bundle tarball`);
});

const backends: {
  name: string;
  flags: string[];
  open: () => Promise<AuditStore>;
  done: () => Promise<void>;
}[] = [
  {
    name: 'pglite',
    flags: ['--data-dir', pgliteData],
    open: () => AuditStore.open({ dataDir: pgliteData }),
    done: async () => {},
  },
];
if (typeof pg !== 'string') {
  backends.push({
    name: 'postgres',
    flags: [],
    open: () => pg.open(),
    done: () => pg.teardown(),
  });
} else t.test('postgres', { skip: pg }, () => {});

for (const b of backends) {
  t.test(b.name, async (t) => {
    const store = await b.open();
    const range = await recordDecisions(store);
    t.teardown(async () => {
      await store.close();
      await b.done();
    });
    // Postgres: the database is the test's own, reached through the environment as a CI job would.
    const env = b.name === 'postgres' ? await pgUrl(store) : undefined;
    const saved = process.env.DATABASE_URL;
    if (env) process.env.DATABASE_URL = env;
    else delete process.env.DATABASE_URL;
    t.teardown(() => {
      if (saved === undefined) delete process.env.DATABASE_URL;
      else process.env.DATABASE_URL = saved;
    });
    const when = ['--since', range.since.toISOString(), '--until', range.until.toISOString()];
    const bundle = join(scratch, `${b.name}-candidate.tar.gz`);
    writeFileSync(bundle, await tarballOf(changed.dir, 'candidate-1'));
    const main_ = join(scratch, `${b.name}-main.tar.gz`);
    writeFileSync(main_, await tarballOf(same.dir, 'main'));

    t.test('a change: the table, and --fail-on-change exits 1', async (t) => {
      const r = await run([
        'replay',
        '--bundle',
        bundle,
        '--baseline',
        main_,
        ...when,
        ...b.flags,
        '--fail-on-change',
      ]);
      t.equal(r.code, 1, r.err);
      t.match(r.out, `against ${bundle} (revision candidate-1)`);
      t.match(r.out, `compared with baseline ${main_} (revision main) on the same inputs`);
      t.match(r.out, /8 decision\(s\) replayed: 1 would change, 7 unchanged/);
      t.match(r.out, /allow→deny +1/);
      t.match(r.out, /lookup_customer +1 +1 +allow→deny 1/);
      t.match(r.out, /sam +7 +1 +allow→deny 1/);
      t.match(r.out, /skipped 1: the gateway's refusal of an approval/);
      t.match(r.out, /sam +support-agent +crm +lookup_customer +allow→deny +tool lookup_customer not found/);
      const plain = await run(['replay', '--bundle', bundle, '--baseline', main_, ...when, ...b.flags]);
      t.equal(plain.code, 0, 'without --fail-on-change a change is not a failure');
    });

    t.test('json, built from a policy directory', async (t) => {
      const r = await run([
        'replay',
        '--policies',
        changed.dir,
        '--baseline-policies',
        same.dir,
        ...when,
        ...b.flags,
        '--format',
        'json',
      ]);
      t.equal(r.code, 0, r.err);
      const report = JSON.parse(r.out);
      t.equal(report.changed, 1);
      t.same(report.transitions, { 'allow→deny': 1 });
      t.match(report.changes, [{ tool: 'lookup_customer', user: 'sam', candidate: { effect: 'deny' } }]);
    });

    t.test('no change: exit 0 with --fail-on-change', async (t) => {
      const r = await run([
        'replay',
        '--policies',
        same.dir,
        '--baseline',
        main_,
        ...when,
        ...b.flags,
        '--fail-on-change',
      ]);
      t.equal(r.code, 0, r.out + r.err);
      t.match(r.out, /8 decision\(s\) replayed: 0 would change, 8 unchanged/);
    });

    t.test('--limit stops short: said on stderr, and a CI gate fails', async (t) => {
      const r = await run([
        'replay',
        '--policies',
        same.dir,
        ...when,
        ...b.flags,
        '--limit',
        '1',
        '--fail-on-change',
      ]);
      t.equal(r.code, 1);
      t.match(r.out, /STOPPED SHORT: read 1 of \d+ decision events/);
      t.match(r.err, /stopped at --limit 1: \d+ decision\(s\) in the range not replayed/);
    });
  });
}

/** The URL of the Postgres test database `store` is connected to. */
async function pgUrl(store: AuditStore): Promise<string> {
  const { sql } = await import('kysely');
  const { rows } = await sql<{ db: string }>`SELECT current_database() AS db`.execute(store.db);
  const u = new URL(process.env.DATABASE_URL!);
  u.pathname = `/${rows[0]!.db}`;
  return u.toString();
}
