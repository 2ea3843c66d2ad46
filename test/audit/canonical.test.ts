// The canonical encoding and hash chain rule, and the validation that keeps them stable through jsonb.
import { createHash } from 'node:crypto';
import t from 'tap';
import { canonicalParts, measuredEvent, normaliseEvent, toJson } from '../../src/audit/canonical.js';
import {
  type AuditEvent,
  chainHash,
  DEFAULT_LIMITS,
  encodeEvent,
  GENESIS_HASH,
  InvalidEventError,
} from '../../src/audit/index.js';

const at = new Date('2026-01-06T16:00:00Z');

function positioned(
  content: ReturnType<typeof normaliseEvent>,
  seq = 7,
): Omit<AuditEvent, 'prevHash' | 'hash'> {
  return { ...content, seq, time: at };
}

t.test('the encoding is RFC 8785 JSON of the documented members', async (t) => {
  const content = normaliseEvent({
    kind: 'decision',
    user: { sub: 'alice', claims: { b: 1, a: [true, null] } },
    arguments: { z: '\u2028', é: 1, a: 0.1, n: -0, big: 1e21, tiny: 5e-7, q: 'say "hi"\n' },
  });
  const expected =
    '{"actor":null,"agent_id":null,"approval_id":null,' +
    '"arguments":{"a":0.1,"big":1e+21,"n":0,"q":"say \\"hi\\"\\n","tiny":5e-7,"z":"\u2028","é":1},' +
    '"bundle_revision":null,"decision_id":null,"details":null,"effect":null,"kind":"decision","model":null,' +
    '"phase":null,"reasons":null,"result":null,"seq":7,"target_name":null,"target_type":null,' +
    '"time":"2026-01-06T16:00:00.000Z","timings":null,"upstream_server":null,' +
    '"user_claims":{"a":[true,null],"b":1},"user_sub":"alice","v":1,"virtual_server":null}';
  t.equal(encodeEvent(positioned(content)), expected);
  const prev = 'ab'.repeat(32);
  const want = createHash('sha256')
    .update(Buffer.from(expected, 'utf8'))
    .update(Buffer.from(prev, 'hex'))
    .digest('hex');
  t.equal(chainHash(positioned(content), prev), want, 'hash = SHA-256(UTF-8 encoding ‖ raw prev hash)');
});

t.test('the hash depends on content, position and predecessor, not on member order', async (t) => {
  const a = normaliseEvent({ kind: 'decision', arguments: { x: 1, y: [1, 2] }, effect: 'allow' });
  const b = normaliseEvent({ effect: 'allow', arguments: { y: [1, 2], x: 1 }, kind: 'decision' });
  const h = chainHash(positioned(a), GENESIS_HASH);
  t.equal(chainHash(positioned(b), GENESIS_HASH), h, 'member order is irrelevant');
  t.not(chainHash(positioned(a, 8), GENESIS_HASH), h, 'seq is covered');
  t.not(
    chainHash({ ...positioned(a), time: new Date(at.getTime() + 1) }, GENESIS_HASH),
    h,
    'time is covered',
  );
  t.not(chainHash(positioned(a), '1'.repeat(64)), h, 'the predecessor is covered');
  t.not(chainHash(positioned({ ...a, effect: 'deny' }), GENESIS_HASH), h, 'content is covered');
  t.not(
    chainHash(positioned({ ...a, arguments: { x: 1, y: [2, 1] } }), GENESIS_HASH),
    h,
    'array order matters',
  );
  t.throws(() => chainHash(positioned(a), 'nothex'), /64 lowercase hex/);
});

t.test('values that jsonb would not return unchanged are refused with their path', async (t) => {
  const bad: [unknown, RegExp][] = [
    [{ s: 'a\u0000b' }, /\/arguments\/s: contains U\+0000/],
    [{ 'k\u0000': 1 }, /member name contains U\+0000/],
    [{ s: 'x\ud800y' }, /\/arguments\/s: contains a lone UTF-16 surrogate/],
    [{ s: '\udc00' }, /lone UTF-16 surrogate/],
    [{ list: [1, Number.NaN] }, /\/arguments\/list\/1: NaN is not a JSON number/],
    [{ n: Number.POSITIVE_INFINITY }, /Infinity is not a JSON number/],
    [{ n: 10n }, /a bigint is not JSON/],
    [{ d: new Date() }, /a Date object is not JSON/],
    [{ f: () => 1 }, /a function is not JSON/],
    [{ 'a/b': { '~': new Map() } }, /\/arguments\/a~1b\/~0: a Map object/],
  ];
  for (const [args, why] of bad) {
    t.throws(() => normaliseEvent({ kind: 'decision', arguments: args as never }), why);
  }
});

t.test('valid surrogate pairs, -0 and undefined members are normalised like JSON', async (t) => {
  const c = normaliseEvent({
    kind: 'decision',
    arguments: { s: '\ud83d\ude00', z: -0, gone: undefined } as never,
  });
  t.same(c.arguments, { s: '😀', z: 0 });
  t.ok(Object.is((c.arguments as { z: number }).z, 0));
});

t.test('a __proto__ member is data, not a prototype', async (t) => {
  const args = JSON.parse('{"__proto__":{"polluted":true},"a":1}') as Record<string, unknown>;
  const c = normaliseEvent({ kind: 'decision', arguments: args as never });
  t.ok(Object.hasOwn(c.arguments as object, '__proto__'), 'kept as an own member');
  t.equal(({} as { polluted?: boolean }).polluted, undefined, 'no pollution');
  t.match(encodeEvent(positioned(c)), /"arguments":\{"__proto__":\{"polluted":true\},"a":1\}/);
});

t.test('fields are checked and bounded', async (t) => {
  const cases: [object, RegExp][] = [
    [{}, /\/kind: is required/],
    [{ kind: 'nope' }, /\/kind: expected one of decision, call_result/],
    [
      { kind: 'decision', effect: 'maybe' },
      /\/effect: expected one of allow, deny, redact, require_approval/,
    ],
    [{ kind: 'decision', phase: 'later' }, /\/phase/],
    [{ kind: 'decision', decisionId: '' }, /\/decisionId: must not be empty/],
    [{ kind: 'decision', decisionId: 42 }, /\/decisionId: expected a string, got number/],
    [
      { kind: 'decision', agentId: 'x'.repeat(DEFAULT_LIMITS.maxTextLength + 1) },
      /\/agentId: longer than 1024/,
    ],
    [{ kind: 'decision', user: { claims: {} } }, /\/user: expected \{sub, claims\?\}/],
    [{ kind: 'decision', target: { type: 'tool' } }, /\/target\/name|\/target: needs both/],
    [
      { kind: 'decision', target: { type: 'socket', name: 'x' } },
      /\/target\/type: expected one of tool, resource, prompt/,
    ],
    [{ kind: 'decision', reasons: 'because' }, /\/reasons: expected an array of strings/],
    [{ kind: 'decision', reasons: ['ok', 3] }, /\/reasons\/1: expected a string/],
  ];
  for (const [input, why] of cases)
    t.throws(() => normaliseEvent(input as never), why, JSON.stringify(input).slice(0, 60));
  t.throws(() => normaliseEvent(null as never), InvalidEventError);

  let deep: unknown = 1;
  for (let i = 0; i < 70; i++) deep = [deep];
  t.throws(
    () => normaliseEvent({ kind: 'decision', arguments: deep as never }),
    /nested deeper than 64 levels/,
  );
  t.throws(
    () =>
      normaliseEvent(
        { kind: 'decision', result: 'x'.repeat(2000) },
        { ...DEFAULT_LIMITS, maxEventBytes: 1000 },
      ),
    /canonical encoding is \d+ bytes, over the limit of 1000/,
  );
  t.doesNotThrow(() =>
    normaliseEvent({ kind: 'decision', result: 'x'.repeat(500) }, { ...DEFAULT_LIMITS, maxEventBytes: 1000 }),
  );
  t.same(toJson({ a: [1, 'b', null, false] }, '/x'), { a: [1, 'b', null, false] });
});

t.test('canonicalParts cut the very encoding that verify recomputes around seq and time', async (t) => {
  const { default: fc } = await import('fast-check');
  const text = fc.option(fc.string({ minLength: 1, maxLength: 20 }), { nil: undefined });
  // Arbitrary JSON, including members named like the top-level ones (a nested "seq", "time", …).
  const json = fc.jsonValue({ maxDepth: 3 }).map((v) => toJson(v, ''));
  const named = fc.dictionary(fc.constantFrom('seq', 'time', 'v', 'kind', '"seq":', 'zz'), json);
  fc.assert(
    fc.property(
      text,
      text,
      fc.option(fc.oneof(json, named), { nil: undefined }),
      fc.option(json, { nil: undefined }),
      fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
      fc.integer({ min: 0, max: 253402300799999 }),
      (requestedBy, agentId, args, result, seq, ms) => {
        let measured: ReturnType<typeof measuredEvent>;
        try {
          measured = measuredEvent({ kind: 'decision', requestedBy, agentId, arguments: args, result });
        } catch (err) {
          if (err instanceof InvalidEventError) return; // unstorable strings are refused, as before
          throw err;
        }
        const { content, parts, bytes } = measured;
        const time = new Date(ms);
        const whole = encodeEvent({ ...content, seq, time });
        const spliced = parts.beforeSeq + String(seq) + parts.beforeTime + time.toISOString() + parts.rest;
        if (spliced !== whole) throw new Error(`spliced ${spliced} differs from ${whole}`);
        if (bytes !== Buffer.byteLength(encodeEvent({ ...content, seq: 0, time: new Date(0) })))
          throw new Error('the measured size differs from the encoding at the placeholder position');
      },
    ),
    { numRuns: 300 },
  );
  t.pass('300 random events: the parts splice into encodeEvent, and the size is the same as before');
  t.same(canonicalParts(normaliseEvent({ kind: 'decision' })), {
    beforeSeq:
      '{"actor":null,"agent_id":null,"approval_id":null,"arguments":null,"bundle_revision":null,"decision_id":null,"details":null,"effect":null,"kind":"decision","model":null,"phase":null,"reasons":null,"result":null,"seq":',
    beforeTime: ',"target_name":null,"target_type":null,"time":"',
    rest: '","timings":null,"upstream_server":null,"user_claims":null,"user_sub":null,"v":1,"virtual_server":null}',
  });
});
