import { createHash, createHmac } from 'node:crypto';
import t from 'tap';
import { host } from './helpers.js';

const h = host();
const cfg = {
  aws_access_key: 'AKID',
  aws_secret_access_key: 'SECRET',
  aws_service: 'execute-api',
  aws_region: 'eu-west-1',
};
const NS = 1_451_311_705_000_000_000; // 2015-12-28T14:08:25Z

/** The SigV4 signature computed independently, step by step, for a GET without body or query. */
function expectedSignature(
  method: string,
  host_: string,
  path: string,
  extra: [string, string][] = [],
  signedSha?: string,
): string {
  const sha = (s: string) => createHash('sha256').update(s).digest('hex');
  const hm = (k: string | Buffer, s: string) => createHmac('sha256', k).update(s).digest();
  const payload = sha('');
  const hdrs: [string, string][] = [
    ...extra,
    ['host', host_],
    ['x-amz-content-sha256', signedSha ?? payload],
    ['x-amz-date', '20151228T140825Z'],
  ];
  hdrs.sort((a, b) => (a[0] < b[0] ? -1 : 1));
  const canonical = [
    method,
    path,
    '',
    hdrs.map(([k, v]) => `${k}:${v}\n`).join(''),
    hdrs.map(([k]) => k).join(';'),
    payload,
  ].join('\n');
  const sts = [
    'AWS4-HMAC-SHA256',
    '20151228T140825Z',
    '20151228/eu-west-1/execute-api/aws4_request',
    sha(canonical),
  ].join('\n');
  const key = hm(hm(hm(hm('AWS4SECRET', '20151228'), 'eu-west-1'), 'execute-api'), 'aws4_request');
  return createHmac('sha256', key).update(sts).digest('hex');
}

t.test('providers.aws.sign_req adds SigV4 headers', async (t) => {
  const out = h.call(
    'providers.aws.sign_req',
    { method: 'GET', url: 'https://api.example.com/v1/items', headers: { 'X-Trace': ' a  b ' } },
    cfg,
    NS,
  ) as {
    headers: Record<string, string>;
    method: string;
  };
  t.equal(out.method, 'GET', 'request fields kept');
  t.equal(out.headers['x-amz-date'], '20151228T140825Z');
  t.equal(out.headers.host, 'api.example.com');
  t.equal(out.headers['X-Trace'], ' a  b ', 'given headers kept as given');
  const sig = expectedSignature('GET', 'api.example.com', '/v1/items', [['x-trace', 'a b']]);
  t.equal(
    out.headers.Authorization,
    `AWS4-HMAC-SHA256 Credential=AKID/20151228/eu-west-1/execute-api/aws4_request,SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-trace,Signature=${sig}`,
  );
  const tokened = h.call(
    'providers.aws.sign_req',
    { method: 'GET', url: 'https://api.example.com/' },
    { ...cfg, aws_session_token: 'TOK' },
    NS,
  ) as {
    headers: Record<string, string>;
  };
  t.equal(tokened.headers['x-amz-security-token'], 'TOK');
  t.match(
    tokened.headers.Authorization,
    /SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token,/,
  );
  const unsigned = h.call(
    'providers.aws.sign_req',
    { method: 'GET', url: 'https://x/' },
    { ...cfg, disable_payload_signing: true },
    NS,
  ) as {
    headers: Record<string, string>;
  };
  t.equal(unsigned.headers['x-amz-content-sha256'], 'UNSIGNED-PAYLOAD');
  const body = h.call(
    'providers.aws.sign_req',
    { method: 'POST', url: 'https://x/', body: { a: 1 } },
    cfg,
    NS,
  ) as { headers: Record<string, string> };
  t.equal(
    body.headers['x-amz-content-sha256'],
    createHash('sha256').update('{"a":1}').digest('hex'),
    'body hashed as json.marshal',
  );
  t.throws(
    () => h.call('providers.aws.sign_req', { method: 'GET', url: 'https://x/' }, { aws_access_key: 'A' }, NS),
    /missing required AWS config parameter/,
  );
});

t.test(
  'providers.aws.sign_req signs a given x-amz-content-sha256 as given, and sends the computed hash',
  async (t) => {
    const out = h.call(
      'providers.aws.sign_req',
      {
        method: 'GET',
        url: 'https://api.example.com/v1/items',
        headers: { 'x-amz-content-sha256': 'given' },
      },
      cfg,
      NS,
    ) as { headers: Record<string, string> };
    const empty = createHash('sha256').update('').digest('hex');
    t.equal(out.headers['x-amz-content-sha256'], empty);
    const sig = expectedSignature('GET', 'api.example.com', '/v1/items', [], 'given');
    t.match(out.headers.Authorization, new RegExp(`Signature=${sig}$`));
  },
);
