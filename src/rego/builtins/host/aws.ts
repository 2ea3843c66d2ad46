// providers.aws.sign_req: AWS Signature Version 4 over a request object (as
// http.send takes it), with node:crypto's SHA-256 and HMAC.
import { createHash, createHmac } from 'node:crypto';
import { marshal } from './encoding.js';
import { builtinError } from './errors.js';
import type { Family } from './family.js';
import { RegoObject, toJSONText, type Value } from './value.js';

const sha256hex = (s: string | Buffer) => createHash('sha256').update(s).digest('hex');
const hmac = (key: Buffer | string, s: string) => createHmac('sha256', key).update(s, 'utf8').digest();

/** RFC 3986 unreserved characters stay; everything else is %XX (AWS's URI encoding). */
function awsEncode(s: string, keepSlash: boolean): string {
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(b);
    if (/[A-Za-z0-9\-_.~]/.test(c) || (keepSlash && c === '/')) out += c;
    else out += `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

function stringField(name: string, o: RegoObject, key: string, required: boolean): string | undefined {
  const v = o.get(key);
  if (v === undefined) {
    if (required) throw builtinError(name, `missing required AWS config parameter: ${key}`);
    return undefined;
  }
  if (typeof v !== 'string') throw builtinError(name, `AWS config parameter ${key} must be a string`);
  return v;
}

function amzDate(ns: bigint): string {
  const d = new Date(Number(ns / 1_000_000n));
  return d
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
}

export const aws: Family = {
  'providers.aws.sign_req': (a) => {
    const req = a.object(1);
    const cfg = a.object(2);
    const ns = BigInt(a.integer(3));
    const name = a.name;
    const access = stringField(name, cfg, 'aws_access_key', true) as string;
    const secret = stringField(name, cfg, 'aws_secret_access_key', true) as string;
    const service = stringField(name, cfg, 'aws_service', true) as string;
    const region = stringField(name, cfg, 'aws_region', true) as string;
    const token = stringField(name, cfg, 'aws_session_token', false);
    const unsigned = cfg.get('disable_payload_signing') === true;
    const method = req.get('method');
    const url = req.get('url');
    if (typeof method !== 'string' || typeof url !== 'string')
      throw builtinError(name, 'request needs a string method and url');
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      throw builtinError(name, `invalid url ${JSON.stringify(url)}`);
    }
    const raw = req.get('raw_body');
    const body = req.get('body');
    const payload = typeof raw === 'string' ? raw : body !== undefined ? marshal(body) : '';
    const payloadHash = unsigned ? 'UNSIGNED-PAYLOAD' : sha256hex(payload);
    const stamp = amzDate(ns);
    const day = stamp.slice(0, 8);

    const given = req.get('headers');
    const headers = new Map<string, [string, string]>(); // lower name → [name as given, value]
    if (given instanceof RegoObject) {
      for (const [k, v] of given) {
        if (typeof k !== 'string') continue;
        headers.set(k.toLowerCase(), [k, typeof v === 'string' ? v : toJSONText(v, 'plain')]);
      }
    }
    headers.set('host', ['host', u.host]);
    // A caller-supplied x-amz-content-sha256 is signed as given (as OPA does); the
    // request that goes out carries the computed payload hash.
    const givenSha = headers.get('x-amz-content-sha256');
    headers.set('x-amz-content-sha256', ['x-amz-content-sha256', givenSha?.[1] ?? payloadHash]);
    headers.set('x-amz-date', ['x-amz-date', stamp]);
    if (token !== undefined) headers.set('x-amz-security-token', ['x-amz-security-token', token]);
    headers.delete('authorization');

    const names = [...headers.keys()].sort();
    const canonicalHeaders = names
      .map((n) => `${n}:${(headers.get(n)?.[1] ?? '').trim().replace(/\s+/g, ' ')}\n`)
      .join('');
    const signedHeaders = names.join(';');
    const query = [...u.searchParams.entries()]
      .map(([k, v]) => [awsEncode(k, false), awsEncode(v, false)] as const)
      .sort((x, y) => (x[0] === y[0] ? (x[1] < y[1] ? -1 : 1) : x[0] < y[0] ? -1 : 1))
      .map(([k, v]) => `${k}=${v}`)
      .join('&');
    // The path as written (OPA signs an empty path as empty); S3 paths are not encoded again.
    const rawPath = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*([^?#]*)/i.exec(url)?.[1] ?? '';
    const path = service === 's3' ? rawPath : awsEncode(decodeURIComponent(rawPath), true);
    // The method as given (OPA does not upper-case it before signing).
    const canonical = [method, path, query, canonicalHeaders, signedHeaders, payloadHash].join('\n');
    const scope = `${day}/${region}/${service}/aws4_request`;
    const toSign = ['AWS4-HMAC-SHA256', stamp, scope, sha256hex(canonical)].join('\n');
    const key = hmac(hmac(hmac(hmac(`AWS4${secret}`, day), region), service), 'aws4_request');
    const signature = createHmac('sha256', key).update(toSign, 'utf8').digest('hex');

    headers.set('x-amz-content-sha256', ['x-amz-content-sha256', payloadHash]);
    const outHeaders = new RegoObject();
    for (const [, [k, v]] of headers) outHeaders.set(k, v);
    outHeaders.set(
      'Authorization',
      `AWS4-HMAC-SHA256 Credential=${access}/${scope},SignedHeaders=${signedHeaders},Signature=${signature}`,
    );
    const out = new RegoObject(req);
    out.set('headers', outHeaders);
    return out as Value;
  },
};
