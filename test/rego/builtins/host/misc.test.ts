import t from 'tap';
import { hostBuiltins } from '../../../../src/rego/builtins/host/index.js';
import { host } from './helpers.js';

const h = host();

t.test('units', async (t) => {
  t.equal(h.call('units.parse', '500m'), 0.5);
  t.equal(h.call('units.parse', '0.0000005M'), 0.5, 'decimal scaling is exact');
  t.equal(h.call('units.parse', '8k'), 8000);
  t.equal(h.call('units.parse', '1Ki'), 1024);
  t.equal(h.text('units.parse', '128Gi'), '137438953472');
  t.equal((h.call('units.parse', '4.1Mi') as number) > (h.call('units.parse', '4Mi') as number), true);
  t.throws(() => h.call('units.parse', 'abc'), /units.parse: could not parse/);
  t.throws(() => h.call('units.parse', '1x'), /unit "x" not recognized/);
  t.equal(h.call('units.parse_bytes', '1KB'), 1000);
  t.equal(h.call('units.parse_bytes', '1kib'), 1024);
  t.equal(h.call('units.parse_bytes', '1.5K'), 1500);
  t.equal(h.call('units.parse_bytes', '100'), 100);
  t.throws(() => h.call('units.parse_bytes', '1QB'), /byte unit/);
});

t.test('semver', async (t) => {
  t.equal(h.call('semver.is_valid', '1.2.3-rc.1+build.5'), true);
  t.equal(h.call('semver.is_valid', 'v1.2.3'), false);
  t.equal(h.call('semver.is_valid', '01.2.3'), false);
  t.equal(h.call('semver.is_valid', 123), false);
  t.equal(h.call('semver.compare', '1.2.3', '1.10.0'), -1);
  t.equal(h.call('semver.compare', '1.0.0-alpha', '1.0.0'), -1);
  t.equal(
    h.call('semver.compare', '1.0.0-alpha.10', '1.0.0-alpha.9'),
    1,
    'numeric identifiers compare as numbers',
  );
  t.equal(h.call('semver.compare', '1.0.0-alpha', '1.0.0-1'), 1, 'alphanumeric above numeric');
  t.equal(h.call('semver.compare', '1.0.0+a', '1.0.0+b'), 0, 'build metadata ignored');
  t.throws(() => h.call('semver.compare', 'x', '1.0.0'), /string "x" is not a valid SemVer/);
});

t.test('uuid', async (t) => {
  const a = h.call('uuid.rfc4122', 'k1') as string;
  t.match(a, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  t.equal(h.call('uuid.rfc4122', 'k1'), a, 'stable for one key within an evaluation');
  t.not(h.call('uuid.rfc4122', 'k2'), a);
  t.not(host().call('uuid.rfc4122', 'k1'), a, 'another instance draws again');
  t.same(h.call('uuid.parse', a), { variant: 'RFC4122', version: 4 });
  const v1 = h.call('uuid.parse', '00000000-0000-1000-8000-000000000000') as Record<string, unknown>;
  t.equal(v1.version, 1);
  t.equal(v1.macvariables, 'global:unicast');
  t.equal(h.call('uuid.parse', 'not-a-uuid'), undefined);
});

t.test('rand.intn is stable per evaluation; newEvaluation resets it', async (t) => {
  const x = h.call('rand.intn', 'seed', 1_000_000) as number;
  t.ok(Number.isInteger(x) && x >= 0 && x < 1_000_000);
  t.equal(h.call('rand.intn', 'seed', 1_000_000), x);
  t.equal(h.call('rand.intn', 'seed', 0), 0);
});

t.test('print goes to options.print, never stdout', async (t) => {
  const lines: string[] = [];
  const b = hostBuiltins({ strict: true, print: (m) => lines.push(m), wire: 'plain' });
  const f = b['internal.print'];
  t.ok(f);
  f?.([['hello'], [1], [], [{ a: [1, 'x'] }], [1, 2]]);
  t.same(lines, ['hello 1 <undefined> {"a": [1, "x"]} {1, 2}']);
});
