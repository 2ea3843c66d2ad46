// The identity configuration: schema validation, rules beyond the schema,
// defaults, and secrets from env vars or files.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import t from 'tap';
import {
  IdentityConfigError,
  loadSecret,
  parseIdentityConfig,
  SecretUnavailableError,
} from '../../src/identity/index.js';

const base = {
  resource: 'https://airlock.example/mcp',
  issuers: [{ issuer: 'https://idp.example/realms/corp' }],
};

function problems(raw: unknown): string[] {
  try {
    parseIdentityConfig(raw);
  } catch (err) {
    if (err instanceof IdentityConfigError) return [...err.problems];
    throw err;
  }
  return [];
}

t.test('a minimal configuration gets safe defaults', async (t) => {
  const s = parseIdentityConfig(base);
  const iss = s.issuers[0]!;
  t.same(iss.audiences, ['https://airlock.example/mcp'], 'audience defaults to the resource');
  t.same(iss.algorithms, ['RS256', 'PS256', 'ES256', 'EdDSA']);
  t.same(iss.tokenTypes, ['at+jwt']);
  t.equal(iss.clockToleranceSeconds, 30);
  t.same(iss.claims.agentId, ['client_id', 'azp']);
  t.equal(iss.jwks.refetchCooldownMs, 30_000);
  t.equal(s.modelHeader, 'x-airlock-model');
  t.same(s.requiredScopes, []);
});

t.test('typ values are compared without application/ and case', async (t) => {
  const s = parseIdentityConfig({
    ...base,
    issuers: [{ issuer: base.issuers[0]!.issuer, token_types: ['application/AT+JWT', 'JWT'] }],
  });
  t.same(s.issuers[0]!.tokenTypes, ['at+jwt', 'jwt']);
});

t.test('none and HMAC algorithms cannot be configured', async (t) => {
  for (const alg of ['none', 'HS256', 'HS512']) {
    const p = problems({
      ...base,
      issuers: [{ issuer: base.issuers[0]!.issuer, algorithms: ['RS256', alg] }],
    });
    t.ok(
      p.some((m) => m.includes('/issuers/0/algorithms/1')),
      `${alg} refused: ${p.join('; ')}`,
    );
  }
});

t.test('plain http only on loopback and only when allowed', async (t) => {
  t.match(problems({ ...base, issuers: [{ issuer: 'http://idp.example' }] }), [/must be an https URL/]);
  t.match(problems({ ...base, allow_insecure_http: true, issuers: [{ issuer: 'http://idp.example' }] }), [
    /http is allowed only on loopback/,
  ]);
  t.same(
    problems({ ...base, allow_insecure_http: true, issuers: [{ issuer: 'http://127.0.0.1:8080' }] }),
    [],
  );
});

t.test('precise errors for bad input', async (t) => {
  t.match(problems({}), [/must have required property 'resource'/, /must have required property 'issuers'/]);
  t.match(problems({ ...base, issuers: [] }), [/issuers: must NOT have fewer than 1 items/]);
  t.match(problems({ ...base, extra: 1 }), [/must NOT have additional properties/]);
  t.match(problems({ ...base, issuers: [base.issuers[0], base.issuers[0]] }), [
    /issuer https:\/\/idp\.example\/realms\/corp is listed twice/,
  ]);
  t.match(problems({ ...base, upstreams: { gh: { mode: 'on_behalf_of', audience: 'https://gh' } } }), [
    /upstreams\.gh: mode on_behalf_of needs an issuer with exchange_client/,
  ]);
  t.ok(
    problems({ ...base, upstreams: { gh: { mode: 'static', secret: 'inline-secret' } } }).length > 0,
    'inline secrets refused',
  );
  t.ok(
    problems({ ...base, upstreams: { gh: { mode: 'passthrough' } } }).length > 0,
    'no passthrough mode exists',
  );
  t.ok(
    problems({ ...base, issuers: [{ issuer: base.issuers[0]!.issuer, clock_tolerance_seconds: 3600 }] })
      .length > 0,
  );
});

t.test('secrets from env vars and files; they never print', async (t) => {
  const s = loadSecret({ env: 'MY_SECRET' }, { MY_SECRET: 'hunter2-hunter2' });
  t.equal(s.reveal(), 'hunter2-hunter2');
  t.equal(String(s), '[redacted]');
  t.equal(JSON.stringify({ s }), '{"s":"[redacted]"}');
  t.equal(inspect(s), 'Secret(env:MY_SECRET)');
  t.notMatch(`${s} ${inspect({ s })}`, /hunter2/);

  const dir = mkdtempSync(join(tmpdir(), 'airlock-identity-'));
  const file = join(dir, 'secret');
  writeFileSync(file, 'from-a-file\n');
  t.equal(loadSecret({ file }).reveal(), 'from-a-file', 'trailing newline dropped');

  t.throws(() => loadSecret({ env: 'UNSET_VAR' }, {}), SecretUnavailableError);
  t.throws(() => loadSecret({ file: join(dir, 'missing') }), /secret file .* cannot be read/);
  writeFileSync(file, '');
  t.throws(() => loadSecret({ file }), /is empty/);
  writeFileSync(file, 'x'.repeat(70_000));
  t.throws(() => loadSecret({ file }), /larger than/);
});

t.test('the example in docs/identity.md is a valid configuration', async (t) => {
  const { readFileSync } = await import('node:fs');
  const { parse } = await import('yaml');
  const md = readFileSync(new URL('../../docs/identity.md', import.meta.url), 'utf8');
  const block = /```yaml\n([\s\S]*?)```/.exec(md)?.[1];
  t.ok(block, 'the doc has a yaml example');
  const s = parseIdentityConfig((parse(block!) as { identity: unknown }).identity);
  t.equal(s.upstreams['github']?.mode, 'on_behalf_of');
  t.equal(s.issuers[0]?.exchangeClient?.client_id, 'airlock');
});
