// RFC 9728 metadata URL and WWW-Authenticate challenges; redaction helpers.
import t from 'tap';
import { bearerChallenge, resourceMetadataPath, resourceMetadataUrl } from '../../src/identity/metadata.js';
import { redactHeaders, redactText } from '../../src/identity/redact.js';
import { bearerToken } from '../../src/identity/verify.js';

t.test('metadata URL inserts the well-known segment before the resource path (RFC 9728 §3.1)', async (t) => {
  t.equal(
    resourceMetadataUrl('https://a.example/mcp'),
    'https://a.example/.well-known/oauth-protected-resource/mcp',
  );
  t.equal(
    resourceMetadataUrl('https://a.example/'),
    'https://a.example/.well-known/oauth-protected-resource',
  );
  t.equal(
    resourceMetadataUrl('https://a.example:8443/v/dev/'),
    'https://a.example:8443/.well-known/oauth-protected-resource/v/dev',
  );
  t.equal(resourceMetadataPath('https://a.example/mcp'), '/.well-known/oauth-protected-resource/mcp');
});

t.test('challenges quote their parameters', async (t) => {
  t.equal(bearerChallenge('https://a/m'), 'Bearer resource_metadata="https://a/m"');
  t.equal(
    bearerChallenge('https://a/m', {
      code: 'insufficient_scope',
      description: 'needs "x"\\y\n',
      scope: ['a', 'b'],
    }),
    'Bearer resource_metadata="https://a/m", error="insufficient_scope", error_description="needs \\"x\\"\\\\y ", scope="a b"',
  );
});

t.test('bearer header parsing', async (t) => {
  t.equal(bearerToken('Bearer abc.def.ghi'), 'abc.def.ghi');
  t.equal(bearerToken('bearer abc'), 'abc', 'scheme is case-insensitive');
  t.throws(() => bearerToken(undefined), { name: 'MissingTokenError', bearerError: undefined });
  t.throws(() => bearerToken('Basic abc'), { name: 'MissingTokenError', bearerError: 'invalid_request' });
  t.throws(() => bearerToken('Bearer a b'), { name: 'MissingTokenError', bearerError: 'invalid_request' });
  t.throws(() => bearerToken('Bearer '), { name: 'MissingTokenError', bearerError: 'invalid_request' });
});

t.test('redaction', async (t) => {
  const jwt = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl';
  t.equal(redactText(`token ${jwt} end`), 'token [redacted] end');
  t.equal(redactText('Authorization: Bearer abc123.def'), 'Authorization: Bearer [redacted]');
  t.equal(redactText('nothing secret here'), 'nothing secret here');
  t.same(
    redactHeaders({ authorization: 'Bearer x', 'X-Api-Key': 'k', accept: 'json', 'x-custom': 's' }, [
      'X-Custom',
    ]),
    {
      authorization: '[redacted]',
      'X-Api-Key': '[redacted]',
      accept: 'json',
      'x-custom': '[redacted]',
    },
  );
});

t.test('property: a JWT embedded anywhere in text never survives redaction', async (t) => {
  const { default: fc } = await import('fast-check');
  const seg = fc.stringMatching(/^[A-Za-z0-9_-]{8,40}$/);
  fc.assert(
    fc.property(fc.string(), seg, seg, seg, fc.string(), (before, h, p, s, after) => {
      const token = `eyJ${h}.${p}.${s}`;
      const out = redactText(`${before} ${token} ${after}`);
      return !out.includes(`${p}.${s}`);
    }),
  );
  t.pass('checked');
});

t.test('property: challenge parameters stay inside their quotes', async (t) => {
  const { default: fc } = await import('fast-check');
  fc.assert(
    fc.property(fc.string({ minLength: 1 }), (description) => {
      const header = bearerChallenge('https://a/m', { code: 'invalid_token', description });
      const inner = header.slice(header.indexOf('error_description="') + 'error_description="'.length, -1);
      // Every quote inside is escaped, and no control character (header splitting) remains.
      return !/(^|[^\\])(\\\\)*"/.test(inner) && !/[\x00-\x1f\x7f]/.test(header);
    }),
  );
  t.pass('checked');
});
