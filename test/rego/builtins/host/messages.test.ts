// Host built-in errors read as OPA's: every failure is a BuiltinError (eval_type_error or
// eval_builtin_error), and none carries the JavaScript engine's or Node's own text.
import t from 'tap';
import {
  Args,
  BuiltinError,
  fromJS,
  HOST_IMPLEMENTATIONS,
} from '../../../../src/rego/builtins/host/index.js';
import { allBuiltins } from '../../../../src/rego/builtins/index.js';
import { host } from './helpers.js';

const ODD: unknown[] = [
  '',
  'x',
  '{',
  '(',
  '%zz',
  '-1',
  'nan',
  'é',
  0,
  -1,
  1.5,
  1e300,
  -1e300,
  null,
  true,
  [],
  [1, 'a'],
  {},
  { a: 1 },
];
/** Phrases of V8, Node and OpenSSL errors that must never reach a policy author. */
const FOREIGN =
  /JSON at position|is not valid JSON|Unexpected (token|end)|BigInt|Cannot read|is not a function|undefined|error:[0-9A-F]{8}|ERR_[A-Z_]+/;

t.test('every host built-in over odd operands: a value, or an error of its own words', async (t) => {
  const facts = new Map(allBuiltins().map((b) => [b.name, b]));
  const ctx = { strict: true, now: () => 0n, print: () => {}, memo: new Map() };
  let calls = 0;
  const foreign: string[] = [];
  for (const [name, impl] of Object.entries(HOST_IMPLEMENTATIONS)) {
    if (facts.get(name)?.nondeterministic || name === 'print') continue;
    const n = facts.get(name)?.arity ?? 2;
    const rows: unknown[][] = [];
    if (n === 1) for (const x of ODD) rows.push([x]);
    else
      for (const x of ODD) for (const y of ODD.slice(0, 10)) rows.push([x, y, ...new Array(n - 2).fill(y)]);
    for (const row of rows) {
      calls++;
      try {
        impl(
          new Args(
            name,
            row.map((v) => fromJS(v)),
          ),
          ctx,
        );
      } catch (e) {
        if (!(e instanceof BuiltinError))
          foreign.push(`${name}(${JSON.stringify(row)}): not a BuiltinError: ${e}`);
        else if (FOREIGN.test(e.message)) foreign.push(`${name}(${JSON.stringify(row)}): ${e.message}`);
      }
    }
  }
  t.same(foreign, [], `${calls} calls`);
});

t.test('instances found: integers beyond 64 bits, dates beyond range', async (t) => {
  const h = host();
  t.throws(() => h.call('time.add_date', 0, 0, 1e300, 1e300), {
    message: 'eval_type_error: time.add_date: operand 3 must be integer number but got floating-point number',
  });
  t.throws(() => h.call('time.add_date', 0, 0, 2 ** 62, 0), {
    message: 'eval_builtin_error: time.add_date: time outside of valid range',
  });
  t.throws(() => h.call('substring', 'abc', 1, 2 ** 70), /operand 3 must be integer number/);
});

t.test("keys and certificates Node cannot read: our words, not OpenSSL's", async (t) => {
  const h = host();
  const block = (type: string) => `-----BEGIN ${type}-----\nAAAA\n-----END ${type}-----`;
  const cases: [string, unknown[], string][] = [
    [
      'crypto.x509.parse_certificates',
      [block('CERTIFICATE')],
      'failed to parse certificate: malformed certificate',
    ],
    [
      'crypto.parse_private_keys',
      [block('PRIVATE KEY')],
      'failed to parse private key: malformed private key',
    ],
    ['io.jwt.verify_rs256', ['eyJhbGciOiJSUzI1NiJ9.e30.AAAA', block('PUBLIC KEY')], 'failed to parse a PEM'],
    ['io.jwt.encode_sign_raw', ['{"alg":"RS256"}', '{}', '{"kty":"RSA","n":"AA"}'], 'failed to sign: '],
    ['io.jwt.encode_sign_raw', ['{"alg":"HS256"}', '{}', '{x'], "invalid JWK: invalid character 'x'"],
  ];
  for (const [name, args, want] of cases) {
    const err = t.throws(() => h.call(name, ...args)) as Error | undefined;
    t.ok(err?.message.startsWith(`eval_builtin_error: ${name}: ${want}`), `${name}: ${err?.message}`);
    t.notMatch(err?.message ?? '', FOREIGN);
  }
});
