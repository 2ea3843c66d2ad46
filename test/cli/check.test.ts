import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { main } from '../../src/cli/main.js';

async function run(argv: string[]) {
  let out = '';
  let err = '';
  const code = await main(argv, { out: (s) => (out += s), err: (s) => (err += s) });
  return { code, out, err };
}

function fixture(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'airlock-cli-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

t.test('airlock check: clean policies exit 0', async (t) => {
  const dir = fixture({ 'a.rego': 'package a\n\nallow if input.user == "alice"\n' });
  const r = await run(['check', dir]);
  t.equal(r.code, 0, r.err);
  t.equal(r.out, '');
});

t.test('airlock check: every error as path:line:col: code: message, exit 1', async (t) => {
  const dir = fixture({
    'bad.rego': 'package a\n\np if {\n\tx := \n}\n',
    'unsafe.rego': 'package b\n\np if {\n\ty > 1\n}\n',
  });
  const r = await run(['check', dir]);
  t.equal(r.code, 1);
  const lines = r.out.trim().split('\n');
  t.ok(lines.length >= 1, 'at least the parse error is reported');
  t.match(lines[0], new RegExp(`^${join(dir, 'bad.rego')}:\\d+:\\d+: rego_parse_error: `));
  const ok = await run(['check', join(dir, 'unsafe.rego')]);
  t.equal(ok.code, 1);
  t.match(ok.out, /unsafe\.rego:4:2: rego_unsafe_var_error: var y is unsafe/);
});

t.test('airlock check --format json', async (t) => {
  const dir = fixture({ 'u.rego': 'package b\n\np if {\n\ty > 1\n}\n' });
  const r = await run(['check', '--format', 'json', dir]);
  t.equal(r.code, 1);
  const doc = JSON.parse(r.out);
  t.equal(doc.files, 1);
  t.equal(doc.errors[0].code, 'rego_unsafe_var_error');
  t.same(doc.errors[0].location, { file: join(dir, 'u.rego'), row: 4, col: 2 });
});

t.test('airlock check: missing path and bad format are usage errors', async (t) => {
  const missing = await run(['check', '/nonexistent/airlock']).catch((e: Error) => ({ error: e.message }));
  t.match(missing, { error: /no such file or directory/ });
  const bad = await run(['check', '--format', 'xml', '.']);
  t.equal(bad.code, 2);
  t.match(bad.err, /--format must be text or json/);
});

t.test('airlock fmt: --check, --write and stdout', async (t) => {
  const messy = 'package a\nallow   if {   input.x == 1 }\n';
  const dir = fixture({ 'm.rego': messy });
  const file = join(dir, 'm.rego');
  const check = await run(['fmt', '--check', dir]);
  t.equal(check.code, 1);
  t.equal(check.out.trim(), file);
  const printed = await run(['fmt', file]);
  t.equal(printed.code, 0);
  t.not(printed.out, messy);
  t.equal(readFileSync(file, 'utf8'), messy, 'printing does not touch the file');
  const write = await run(['fmt', '--write', dir]);
  t.equal(write.code, 0);
  t.equal(readFileSync(file, 'utf8'), printed.out);
  const again = await run(['fmt', '--check', dir]);
  t.equal(again.code, 0, 'formatted output passes --check');
});

t.test('airlock --help lists the commands', async (t) => {
  const r = await run(['--help']);
  t.equal(r.code, 0);
  t.match(r.out, /check/);
  t.match(r.out, /fmt/);
});
