import t from 'tap';
import { host } from './helpers.js';

const h = host();
const lax = host({ strict: false });
const tagged = host({ wire: 'tagged' });

t.test('cidr_contains / intersects / is_valid', async (t) => {
  t.equal(h.call('net.cidr_contains', '10.0.0.0/8', '10.1.2.3'), true);
  t.equal(h.call('net.cidr_contains', '10.0.0.0/8', '11.0.0.1'), false);
  t.equal(h.call('net.cidr_contains', '10.0.0.0/8', '10.1.0.0/16'), true);
  t.equal(h.call('net.cidr_contains', '10.1.0.0/16', '10.0.0.0/8'), false);
  t.equal(h.call('net.cidr_contains', '2001:db8::/32', '2001:db8:1::1'), true);
  t.equal(h.call('net.cidr_contains', '2001:db8::/32', '10.0.0.1'), false, 'families never mix');
  t.equal(h.call('net.cidr_contains', '0.0.0.0/0', '::ffff:1.2.3.4'), true, 'IPv4-mapped IPv6 is IPv4');
  t.throws(
    () => h.call('net.cidr_contains', '10.0.0.0/33', '10.0.0.1'),
    /invalid CIDR address: 10.0.0.0\/33/,
  );
  t.equal(lax.call('net.cidr_contains', 'nope', '10.0.0.1'), undefined);
  t.equal(h.call('net.cidr_intersects', '192.168.0.0/16', '192.168.1.0/24'), true);
  t.equal(h.call('net.cidr_intersects', '192.168.0.0/24', '192.168.1.0/24'), false);
  t.equal(h.call('net.cidr_is_valid', '192.168.0.0/24'), true);
  t.equal(h.call('net.cidr_is_valid', '192.168.0.0'), false);
  t.equal(h.call('net.cidr_is_valid', '010.0.0.0/8'), false, 'leading zeros refused, like Go');
});

t.test('cidr_expand and cidr_merge', async (t) => {
  t.same(h.call('net.cidr_expand', '192.168.0.0/30'), [
    '192.168.0.0',
    '192.168.0.1',
    '192.168.0.2',
    '192.168.0.3',
  ]);
  t.same(h.call('net.cidr_expand', '2001:db8::/127'), ['2001:db8::', '2001:db8::1']);
  t.throws(() => h.call('net.cidr_expand', '10.0.0.0/8'), /more than 65536 addresses/);
  t.same(h.call('net.cidr_merge', ['192.0.128.0/24', '192.0.129.0/24']), ['192.0.128.0/23']);
  t.same(h.call('net.cidr_merge', ['10.0.0.1', '10.0.0.0', '10.0.0.2']), ['10.0.0.0/31', '10.0.0.2/32']);
  t.same(h.call('net.cidr_merge', ['10.0.0.0/8', '10.1.0.0/16', '2001:db8::/33', '2001:db8:8000::/33']), [
    '10.0.0.0/8',
    '2001:db8::/32',
  ]);
  t.throws(
    () => h.call('net.cidr_merge', ['::1']),
    /^eval_builtin_error: net.cidr_merge: IPv6 invalid: needs prefix length$/,
  );
});

t.test('cidr_contains_matches', async (t) => {
  t.same(h.call('net.cidr_contains_matches', ['1.1.1.0/24', '1.1.2.0/24'], '1.1.2.1'), [[1, '1.1.2.1']]);
  t.same(
    h.call('net.cidr_contains_matches', { a: '10.0.0.0/8', b: ['1.0.0.0/8', 'extra'] }, [
      '10.1.1.1',
      '1.2.3.4',
    ]),
    [
      ['a', 0],
      ['b', 1],
    ],
  );
  t.same(
    tagged.call('net.cidr_contains_matches', { s: ['1.1.1.0/24'] }, { s: ['1.1.1.1'] }),
    { s: [['1.1.1.0/24', '1.1.1.1']] },
    'set members are their own keys',
  );
});
