import t from 'tap';
import {
  allBuiltins,
  builtin,
  builtinForInfix,
  isBuiltinNamespace,
  parseSignature,
  parseType,
  signatureToString,
  typeToString,
} from '../../../src/rego/builtins/index.js';

t.test('arities of a sample of built-ins', async (t) => {
  const sample: [string, number][] = [
    ['count', 1],
    ['sprintf', 2],
    ['concat', 2],
    ['substring', 3],
    ['regex.template_match', 4],
    ['time.add_date', 4],
    ['time.now_ns', 0],
    ['io.jwt.decode', 1],
    ['io.jwt.decode_verify', 2],
    ['json.patch', 2],
    ['object.get', 3],
    ['numbers.range_step', 3],
    ['internal.member_2', 2],
    ['internal.member_3', 3],
    ['graph.reachable', 2],
    ['crypto.x509.parse_and_verify_certificates_with_options', 2],
  ];
  for (const [name, arity] of sample) t.equal(builtin(name)?.arity, arity, name);
});

t.test('operators are built-ins with their infix symbol', async (t) => {
  const ops: [string, string][] = [
    ['=', 'eq'],
    [':=', 'assign'],
    ['==', 'equal'],
    ['!=', 'neq'],
    ['<', 'lt'],
    ['<=', 'lte'],
    ['>', 'gt'],
    ['>=', 'gte'],
    ['+', 'plus'],
    ['-', 'minus'],
    ['*', 'mul'],
    ['/', 'div'],
    ['%', 'rem'],
    ['&', 'and'],
    ['|', 'or'],
    ['in', 'internal.member_2'],
  ];
  for (const [op, name] of ops) t.equal(builtinForInfix(op)?.name, name, op);
  t.equal(builtinForInfix('**'), undefined);
});

t.test('flags: networked, nondeterministic, void, deprecated, relation', async (t) => {
  t.equal(builtin('http.send')?.networked, true);
  t.equal(builtin('net.lookup_ip_addr')?.networked, true);
  t.same(
    allBuiltins()
      .filter((b) => b.networked)
      .map((b) => b.name)
      .sort(),
    ['http.send', 'net.lookup_ip_addr'],
  );
  t.equal(builtin('time.now_ns')?.nondeterministic, true);
  t.equal(builtin('rand.intn')?.nondeterministic, true);
  t.notOk(builtin('count')?.nondeterministic);
  t.equal(builtin('print')?.hasResult, false);
  t.equal(builtin('print')?.arity, 0);
  t.same(builtin('print')?.signature.variadic, { kind: 'any' });
  t.equal(builtin('internal.print')?.hasResult, false);
  t.equal(builtin('count')?.hasResult, true);
  t.equal(builtin('re_match')?.deprecated, true);
  t.equal(builtin('walk')?.relation, true);
  t.equal(builtin('no.such.builtin'), undefined);
});

t.test('the table covers every category with unique names', async (t) => {
  const all = allBuiltins();
  t.ok(all.length >= 190, `${all.length} built-ins`);
  t.equal(new Set(all.map((b) => b.name)).size, all.length);
  for (const b of all) {
    // Every row's signature round-trips through the notation.
    t.same(parseSignature(signatureToString(b.signature)).args.length, b.signature.args.length, b.name);
  }
  t.ok(isBuiltinNamespace('io.jwt'));
  t.ok(isBuiltinNamespace('crypto.x509'));
  t.notOk(isBuiltinNamespace('count'));
});

t.test('type notation', async (t) => {
  t.same(parseType('array[string]'), { kind: 'array', of: { kind: 'string' } });
  t.same(parseType('object[string: any]'), {
    kind: 'object',
    key: { kind: 'string' },
    value: { kind: 'any' },
  });
  t.equal(typeToString(parseType('string | set[number]')), 'any<string, set[number]>');
  t.equal(typeToString(parseType('[boolean, null | string]')), 'array<boolean, any<null, string>>');
  t.equal(
    signatureToString(builtin('count')!.signature),
    '(any<string, array[any], object[any: any], set[any]>) => number',
  );
  t.throws(() => parseSignature('(strin) => number'), /expected a type name/);
  t.throws(() => parseSignature('(string => number'), /expected/);
  t.throws(() => parseSignature('(string) => number extra'), /end of signature/);
});
