import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { main } from '../../src/cli/main.js';
import { readBundle } from '../../src/rego/bundle.js';

async function run(argv: string[]) {
  let out = '';
  let err = '';
  const code = await main(argv, { out: (s) => (out += s), err: (s) => (err += s) });
  return { code, out, err };
}

function policyTree(): string {
  const dir = mkdtempSync(join(tmpdir(), 'airlock-build-'));
  mkdirSync(join(dir, 'roles'));
  writeFileSync(
    join(dir, 'decision.rego'),
    'package airlock\n\n# METADATA\n# entrypoint: true\ndecision := {"effect": "allow"} if input.user in data.roles.admins\n\ndecision := {"effect": "deny"} if not input.user in data.roles.admins\n',
  );
  writeFileSync(join(dir, 'decision_test.rego'), 'package airlock\n\ntest_x if true\n');
  writeFileSync(join(dir, 'roles', 'data.json'), '{"admins": ["alice"]}');
  writeFileSync(join(dir, 'alice.json'), '{"user": "alice"}');
  writeFileSync(join(dir, 'bob.json'), '{"user": "bob"}');
  return dir;
}

t.test('airlock build writes an OPA bundle that airlock eval runs', async (t) => {
  const dir = policyTree();
  const out = join(dir, 'out', 'bundle.tar.gz');
  const built = await run(['build', dir, '-o', out, '--revision', 'r1']);
  t.equal(built.code, 0, built.err);
  const bundle = await readBundle(readFileSync(out));
  t.equal(bundle.manifest.revision, 'r1');
  t.same(bundle.manifest.roots, ['airlock', 'roles']);
  t.same(bundle.manifest.wasm, [{ entrypoint: 'airlock/decision', module: '/policy.wasm' }]);
  t.same(bundle.data, { roles: { admins: ['alice'] } });
  t.same([...bundle.sources.keys()], ['/decision.rego'], 'test files stay out of the bundle');

  const alice = await run(['eval', '-b', out, '-i', join(dir, 'alice.json'), 'data.airlock.decision']);
  t.equal(alice.code, 0, alice.err);
  t.same(JSON.parse(alice.out), { effect: 'allow' });
  const bob = await run(['eval', '-b', out, '-i', join(dir, 'bob.json'), 'data.airlock.decision']);
  t.same(JSON.parse(bob.out), { effect: 'deny' });

  const again = join(dir, 'again.tar.gz');
  await run(['build', dir, '-o', again, '--revision', 'r1']);
  t.ok(readFileSync(out).equals(readFileSync(again)), 'the same sources build the same bytes');
});

t.test('airlock eval -d compiles on the fly; queries print bindings', async (t) => {
  const dir = policyTree();
  const r = await run(['eval', '-d', dir, '-i', join(dir, 'alice.json'), 'data.airlock.decision.effect = e']);
  t.equal(r.code, 0, r.err);
  t.same(JSON.parse(r.out), [{ e: 'allow' }]);
  const undef = await run(['eval', '-d', dir, 'data.airlock.nothing']);
  t.equal(undef.code, 1);
  t.match(undef.err, /undefined/);
});

t.test('airlock build reports compile errors with file:line:col', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'airlock-build-'));
  writeFileSync(join(dir, 'bad.rego'), 'package bad\n\np if {\n\tq := http.send({})\n}\n');
  const r = await run(['build', dir, '-e', 'bad/p', '-o', join(dir, 'b.tar.gz')]);
  t.equal(r.code, 1);
  t.match(r.out, /bad\.rego:4:\d+: rego_compile_error: .*http\.send/);
  const plan = await run(['build', policyTree(), '--dump-plan']);
  t.equal(plan.code, 0);
  t.match(plan.out, /plan airlock\/decision/);
});

t.test(
  'airlock eval reports evaluation errors and prints <undefined> for undefined print arguments',
  async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'airlock-eval-'));
    writeFileSync(
      join(dir, 'p.rego'),
      'package p\n\nc := 1 if input.n > 0\n\nc := 2 if input.n > 1\n\nshown if {\n\tprint("n is", input.missing)\n}\n',
    );
    writeFileSync(join(dir, 'in.json'), '{"n": 5}');
    const conflict = await run(['eval', '-d', dir, '-i', join(dir, 'in.json'), 'data.p.c']);
    t.equal(conflict.code, 1);
    t.match(
      conflict.err,
      /evaluation error: .*eval_conflict_error: rule data\.p\.c produced conflicting values/,
    );
    const printed = await run(['eval', '-d', dir, 'data.p.shown']);
    t.equal(printed.code, 0);
    t.match(printed.err, /n is <undefined>/);
  },
);

t.test('airlock eval passes falsy inputs (false, 0, "") as input, not as absent', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'airlock-eval-'));
  writeFileSync(join(dir, 'p.rego'), 'package p\n\nkind := type_name(input)\n');
  writeFileSync(join(dir, 'false.json'), 'false');
  writeFileSync(join(dir, 'zero.json'), '0');
  const f = await run(['eval', '-d', dir, '-i', join(dir, 'false.json'), 'data.p.kind']);
  t.equal(f.code, 0, f.err);
  t.same(JSON.parse(f.out), 'boolean');
  const z = await run(['eval', '-d', dir, '-i', join(dir, 'zero.json'), 'data.p.kind']);
  t.same(JSON.parse(z.out), 'number');
});
