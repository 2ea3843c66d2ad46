// `airlock migrate` and `airlock audit …` end to end, on an embedded PGlite directory.
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError } from 'commander';
import { sql } from 'kysely';
import t from 'tap';
import { type AuditDatabase, AuditStore, migrationSql, openDatabase } from '../../src/audit/index.js';
import { parseTime, registerAudit } from '../../src/cli/commands/audit.js';
import { registerMigrate } from '../../src/cli/commands/migrate.js';
import type { CliContext } from '../../src/cli/main.js';
import { sampleEvent } from './suite.js';

// These tests are about PGlite; a CI DATABASE_URL must not redirect them.
delete process.env.DATABASE_URL;

interface Result {
  code: number;
  out: string;
  err: string;
}

/** Runs the two commands as `airlock` would (same commander settings as src/cli/main.ts). */
async function airlock(...argv: string[]): Promise<Result> {
  let out = '';
  let err = '';
  const ctx: CliContext = { exitCode: 0, out: (s) => void (out += s), err: (s) => void (err += s) };
  const cli = new Command('airlock').configureOutput({ writeOut: ctx.out, writeErr: ctx.err }).exitOverride();
  registerMigrate(cli, ctx);
  registerAudit(cli, ctx);
  try {
    await cli.parseAsync(argv, { from: 'user' });
  } catch (e) {
    if (!(e instanceof CommanderError)) throw e;
    return { code: e.exitCode === 0 ? 0 : 2, out, err };
  }
  return { code: ctx.exitCode, out, err };
}

const tmp = mkdtempSync(join(tmpdir(), 'airlock-audit-cli-'));
const dataDir = join(tmp, 'data');
const db = ['--data-dir', dataDir];
let keeper: AuditStore | undefined;
let raw: AuditDatabase | undefined;

t.teardown(async () => {
  await keeper?.close();
  await raw?.close();
  rmSync(tmp, { recursive: true, force: true });
});

t.test('migrate --print-sql prints the schema and the gateway grants, touching no database', async (t) => {
  const r = await airlock('migrate', '--print-sql', '--role', 'gw_app');
  t.equal(r.code, 0);
  t.match(r.out, /CREATE TABLE audit_events/);
  t.match(r.out, /BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_events/);
  t.match(r.out, /GRANT SELECT, INSERT ON public\.audit_events TO gw_app;/);
  t.notMatch(
    r.out,
    /GRANT[^;]*(UPDATE|DELETE|TRUNCATE)[^;]* ON public\.audit_events /,
    'grants nothing that changes audit rows',
  );
  t.notMatch(r.out, /GRANT[^;]*(DELETE|TRUNCATE)/, 'no DELETE or TRUNCATE anywhere');
  t.match(r.out, /GRANT SELECT, INSERT, UPDATE \(status, [^)]*\) ON public\.airlock_approvals TO gw_app;/);
  const bad = await airlock('migrate', '--print-sql', '--role', 'x; DROP TABLE y');
  t.equal(bad.code, 2, 'a role name that is not an identifier is refused');
  t.match(bad.err, /role name must match/);
  const reference = readFileSync(fileURLToPath(new URL('../../schema/audit.sql', import.meta.url)), 'utf8');
  t.ok(reference.startsWith(migrationSql()), 'schema/audit.sql begins with the audit schema');
  t.equal(
    reference,
    (await airlock('migrate', '--print-sql')).out,
    'schema/audit.sql is current (regenerate: airlock migrate --print-sql > schema/audit.sql)',
  );
});

t.test('audit commands refuse a database that was never migrated', async (t) => {
  raw = await openDatabase({ dataDir }); // keeps PGlite warm for every command below
  const r = await airlock('audit', 'verify', ...db);
  t.equal(r.code, 2);
  t.match(r.err, /run `airlock migrate`/);
});

t.test('migrate creates the schema once', async (t) => {
  const first = await airlock('migrate', ...db);
  t.equal(first.code, 0, first.err);
  t.match(first.out, /applied 0001_audit_events/);
  keeper = await AuditStore.open({ dataDir });
  const second = await airlock('migrate', ...db);
  t.match(second.out, /up to date/);
});

t.test('query prints events as table, json, ndjson and csv', async (t) => {
  for (let i = 0; i < 12; i++) await keeper!.record(sampleEvent(i));
  await keeper!.record(
    sampleEvent(99, { user: { sub: '=HYPERLINK("http://evil")' }, agentId: 'bell\u0007agent' }),
  );

  const table = await airlock('audit', 'query', ...db, '--user', 'alice');
  t.equal(table.code, 0, table.err);
  const lines = table.out.trim().split('\n');
  t.match(lines[0], /^SEQ\s+TIME\s+KIND\s+USER\s+REQUESTED_BY\s+AGENT\s+TOOL\s+EFFECT\s+DECISION$/);
  t.equal(lines.length, 1 + 3, 'alice has 3 of the first 12 events');
  t.ok(lines.slice(1).every((l) => / alice /.test(l)));

  const json = await airlock(
    'audit',
    'query',
    ...db,
    '--format',
    'json',
    '--agent',
    'devops-agent',
    '--limit',
    '2',
  );
  const parsed = JSON.parse(json.out) as { events: { seq: number; agent_id: string }[]; next: number };
  t.equal(parsed.events.length, 2);
  t.ok(parsed.events.every((e) => e.agent_id === 'devops-agent'));
  t.equal(parsed.next, parsed.events[1]?.seq, 'the cursor is the last seq');
  const page2 = await airlock(
    'audit',
    'query',
    ...db,
    '--format',
    'json',
    '--agent',
    'devops-agent',
    '--after',
    String(parsed.next),
  );
  const p2 = JSON.parse(page2.out) as { events: { seq: number }[]; next: number | null };
  t.ok(p2.events.every((e) => e.seq > parsed.next));
  t.equal(p2.next, null, 'last page');

  const nd = await airlock('audit', 'query', ...db, '--format', 'ndjson', '--tool', 'delete_repo');
  const rows = nd.out
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { target_name: string; hash: string });
  t.ok(
    rows.length > 0 && rows.every((r) => r.target_name === 'delete_repo' && /^[0-9a-f]{64}$/.test(r.hash)),
  );

  const csv = await airlock('audit', 'query', ...db, '--format', 'csv', '--limit', '1000');
  const csvLines = csv.out.split('\r\n').filter(Boolean);
  t.match(csvLines[0], /^seq,time,kind,decision_id,/);
  t.equal(csvLines.length, 1 + 13);
  t.match(csv.out, /,"'=HYPERLINK\(""http:\/\/evil""\)",/, 'formula-looking text is defused and quoted');
  t.match(csv.out, /"\{""n"":1,/, 'JSON columns are quoted JSON');

  const shown = await airlock('audit', 'query', ...db, '--decision', 'dec-99');
  t.match(shown.out, /bell\\u0007agent/, 'control characters are escaped in the table');

  const limited = await airlock('audit', 'query', ...db, '--limit', '5');
  t.match(limited.err, /more events: continue with --after 5/);
  const all = await airlock('audit', 'query', ...db, '--limit', '5', '--all', '--format', 'ndjson');
  t.equal(all.out.trim().split('\n').length, 13, '--all follows the pages');

  const window = await airlock('audit', 'query', ...db, '--since', '2000-01-01', '--until', '2000-01-02');
  t.match(window.out, /no matching events/);
});

t.test('query reports bad flags precisely', async (t) => {
  const since = await airlock('audit', 'query', ...db, '--since', 'tuesday');
  t.equal(since.code, 2);
  t.match(since.err, /--since wants an ISO 8601 time/);
  const limit = await airlock('audit', 'query', ...db, '--limit', '5000');
  t.equal(limit.code, 2);
  t.match(limit.err, /--limit wants a whole number up to 1000/);
  const kind = await airlock('audit', 'query', ...db, '--kind', 'nope');
  t.equal(kind.code, 2);
  t.match(kind.err, /Allowed choices are decision, call_result/);
  t.equal(
    parseTime('2026-01-06T16:00', '--since').toISOString(),
    '2026-01-06T16:00:00.000Z',
    'no zone means UTC',
  );
  t.equal(parseTime('2026-01-06T18:00:00+02:00', '--since').toISOString(), '2026-01-06T16:00:00.000Z');
  t.equal(parseTime('2026-01-06', '--since').toISOString(), '2026-01-06T00:00:00.000Z');
  t.throws(() => parseTime('2026-02-30', '--since'), /--since: "2026-02-30" is not a valid time/);
  t.throws(() => parseTime('2026-01-06T24:00', '--until'), /not a valid time/);
});

t.test('keygen, checkpoint and verify catch a truncated tail', async (t) => {
  const priv = join(tmp, 'cp.key');
  const pub = join(tmp, 'cp.pub');
  const gen = await airlock('audit', 'keygen', '--private-key', priv, '--public-key', pub);
  t.equal(gen.code, 0, gen.err);
  t.equal(statSync(priv).mode & 0o777, 0o600, 'private key is private');
  const again = await airlock('audit', 'keygen', '--private-key', priv, '--public-key', pub);
  t.equal(again.code, 2, 'never overwrites a key');
  t.match(again.err, /EEXIST/);

  const cpFile = join(tmp, 'checkpoints.ndjson');
  const noKey = await airlock('audit', 'checkpoint', ...db);
  t.equal(noKey.code, 2);
  t.match(noKey.err, /needs --signing-key/);
  const cp = await airlock('audit', 'checkpoint', ...db, '--signing-key', priv, '--sink', `file:${cpFile}`);
  t.equal(cp.code, 0, cp.err);
  t.match(cp.err, /checkpoint of seq 13 written/);
  const toStdout = await airlock('audit', 'checkpoint', ...db, '--signing-key', priv);
  t.match(JSON.parse(toStdout.out), { v: 1, seq: 13 }, 'stdout sink prints the checkpoint line');

  const ok = await airlock('audit', 'verify', ...db, '--checkpoint', cpFile, '--public-key', pub);
  t.equal(ok.code, 0, ok.err);
  t.match(ok.out, /audit chain OK: 13 events verified, head seq 13.*consistent with 1 signed checkpoint/);
  const noPub = await airlock('audit', 'verify', ...db, '--checkpoint', cpFile);
  t.equal(noPub.code, 2);
  t.match(noPub.err, /needs --public-key/);
  const garbled = join(tmp, 'garbled.ndjson');
  await import('node:fs/promises').then((fs) => fs.writeFile(garbled, '{"v":1}\n'));
  const bad = await airlock('audit', 'verify', ...db, '--checkpoint', garbled, '--public-key', pub);
  t.equal(bad.code, 2);
  t.match(bad.err, /garbled\.ndjson:1: seq must be a positive integer/);

  // A superuser cuts the last three rows.
  await sql.raw('ALTER TABLE audit_events DISABLE TRIGGER USER').execute(keeper!.db);
  await sql.raw('DELETE FROM audit_events WHERE seq > 10').execute(keeper!.db);
  await sql.raw('ALTER TABLE audit_events ENABLE TRIGGER USER').execute(keeper!.db);
  const plain = await airlock('audit', 'verify', ...db);
  t.equal(plain.code, 0, 'without the checkpoint the shorter chain still links');
  const broken = await airlock('audit', 'verify', ...db, '--checkpoint', cpFile, '--public-key', pub);
  t.equal(broken.code, 1);
  t.match(broken.out, /audit chain BROKEN at seq 11 \(truncated\)/);
  const asJson = await airlock(
    'audit',
    'verify',
    ...db,
    '--checkpoint',
    cpFile,
    '--public-key',
    pub,
    '--format',
    'json',
  );
  t.match(JSON.parse(asJson.out), { ok: false, break: { kind: 'truncated', seq: 11 } });
  const refuse = await airlock(
    'audit',
    'checkpoint',
    ...db,
    '--signing-key',
    priv,
    '--sink',
    `file:${cpFile}`,
  );
  t.equal(refuse.code, 0, 'a consistent (if shortened) chain can be signed again…');
  t.equal(
    readFileSync(cpFile, 'utf8').trim().split('\n').length,
    2,
    '…but the older checkpoint still exposes the cut',
  );
});

t.test('help texts describe the commands', async (t) => {
  const help = await airlock('audit', 'verify', '--help');
  t.equal(help.code, 0);
  t.match(help.out, /Exit status: 0 chain intact, 1 chain broken, 2 error/);
  const q = await airlock('audit', 'query', '--help');
  t.match(q.out, /--format <format>\s+output format \(choices: "table", "json", "ndjson",\s+"csv"/);
  t.match(q.out, /Example: what did any agent read/);
});
