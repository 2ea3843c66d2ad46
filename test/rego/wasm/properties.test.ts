// Property tests of the runtime through the stock SDK: any JSON value round-trips, and sets
// come out deduplicated and sorted exactly as a reference implementation of OPA's order says.
import fc from 'fast-check';
import t from 'tap';
import { at, type LoadedPolicy, l, load, makePolicy, returning } from './plans.js';

let shared: LoadedPolicy;
async function pol(): Promise<LoadedPolicy> {
  shared ??= await load(
    makePolicy({
      strings: ['result'],
      plans: [
        returning('echo', [{ type: 'assign-var', source: l(0), target: 2, loc: at }]),
        returning('set', [
          { type: 'make-set', target: 2, loc: at },
          {
            type: 'scan',
            source: 0,
            key: 3,
            value: 4,
            block: { stmts: [{ type: 'set-add', value: l(4), set: 2, loc: at }] },
            loc: at,
          },
        ]),
      ],
    }),
  );
  return shared;
}

const json = fc.jsonValue({ maxDepth: 4, stringUnit: 'grapheme' });

/** OPA's order of JSON values (null < boolean < number < string < array < object). */
function rank(v: unknown): number {
  if (v === null) return 0;
  if (typeof v === 'boolean') return 1;
  if (typeof v === 'number') return 2;
  if (typeof v === 'string') return 3;
  if (Array.isArray(v)) return 4;
  return 5;
}

function compare(a: unknown, b: unknown): number {
  const ra = rank(a);
  const rb = rank(b);
  if (ra !== rb) return ra - rb;
  switch (ra) {
    case 0:
      return 0;
    case 1:
      return Number(a) - Number(b);
    case 2:
      return (a as number) < (b as number) ? -1 : (a as number) > (b as number) ? 1 : 0;
    case 3:
      return Buffer.compare(Buffer.from(a as string), Buffer.from(b as string));
    case 4: {
      const x = a as unknown[];
      const y = b as unknown[];
      for (let i = 0; i < Math.min(x.length, y.length); i++) {
        const c = compare(x[i], y[i]);
        if (c !== 0) return c;
      }
      return x.length - y.length;
    }
    default: {
      const x = a as Record<string, unknown>;
      const y = b as Record<string, unknown>;
      const kx = Object.keys(x).sort(compare);
      const ky = Object.keys(y).sort(compare);
      for (let i = 0; i < Math.min(kx.length, ky.length); i++) {
        const c = compare(kx[i], ky[i]) || compare(x[kx[i] as string], y[ky[i] as string]);
        if (c !== 0) return c;
      }
      return kx.length - ky.length;
    }
  }
}

/** What the runtime should dump for a JSON value: objects with keys in OPA order. */
function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return Object.fromEntries(
      Object.keys(o)
        .sort(compare)
        .map((k) => [k, canonical(o[k])]),
    );
  }
  return v;
}

t.test('any JSON value round-trips through input', async (t) => {
  const p = await pol();
  fc.assert(
    fc.property(json, (v) => {
      const out = p.evaluate(v === null ? new TextEncoder().encode('null').buffer : v, 'echo');
      // The SDK passes falsy inputs (false, 0, "") as no input at all.
      if (!v && v !== null) return out.length === 0;
      return JSON.stringify(out) === JSON.stringify([{ result: canonical(v) }]);
    }),
    { numRuns: 300 },
  );
  t.pass('300 random values');
});

t.test('sets deduplicate and sort in OPA order', async (t) => {
  const p = await pol();
  fc.assert(
    fc.property(fc.array(json, { maxLength: 12 }), (items) => {
      const out = p.evaluate(items, 'set');
      const want: unknown[] = [];
      for (const v of [...items].sort(compare)) {
        if (want.length === 0 || compare(want[want.length - 1], v) !== 0) want.push(canonical(v));
      }
      return JSON.stringify(out) === JSON.stringify([{ result: want }]);
    }),
    { numRuns: 300 },
  );
  t.pass('300 random arrays');
});
