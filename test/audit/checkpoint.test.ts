// Signed checkpoints: signatures, the file format, and the sinks they are written to.
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import t from 'tap';
import {
  CheckpointError,
  fileSink,
  generateSigningKey,
  httpSink,
  keyId,
  parseCheckpoints,
  privateKeyFromPem,
  publicKeyFromPem,
  signCheckpoint,
  sinkFromSpec,
  streamSink,
  verifyCheckpoint,
} from '../../src/audit/index.js';

const head = { seq: 42, hash: 'c0'.repeat(32) };

t.test('a checkpoint verifies with its key and nothing else', async (t) => {
  const { privateKeyPem, publicKeyPem } = generateSigningKey();
  const priv = privateKeyFromPem(privateKeyPem);
  const pub = publicKeyFromPem(publicKeyPem);
  const cp = signCheckpoint(head, priv, new Date('2026-01-06T16:00:00Z'));
  t.match(cp, { v: 1, seq: 42, hash: head.hash, time: '2026-01-06T16:00:00.000Z', key_id: keyId(pub) });
  t.match(cp.key_id, /^[0-9a-f]{32}$/);
  t.ok(verifyCheckpoint(cp, pub));
  t.ok(
    verifyCheckpoint(cp, publicKeyFromPem(privateKeyPem)),
    'the public key can be derived from the private PEM',
  );
  t.notOk(verifyCheckpoint({ ...cp, seq: 43 }, pub), 'seq is signed');
  t.notOk(verifyCheckpoint({ ...cp, hash: 'c1'.repeat(32) }, pub), 'hash is signed');
  t.notOk(verifyCheckpoint({ ...cp, time: '2026-01-07T16:00:00.000Z' }, pub), 'time is signed');
  const other = generateKeyPairSync('ed25519');
  t.notOk(verifyCheckpoint(cp, other.publicKey), 'another key does not verify it');
  t.notOk(
    verifyCheckpoint({ ...cp, key_id: keyId(other.publicKey) }, other.publicKey),
    'nor does relabelling it',
  );
});

t.test('only Ed25519 PEM keys are accepted', async (t) => {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 });
  t.throws(
    () => privateKeyFromPem(rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()),
    /must be Ed25519, got rsa/,
  );
  t.throws(() => signCheckpoint(head, rsa.privateKey), /must be Ed25519/);
  t.throws(() => privateKeyFromPem('not a key'), CheckpointError);
  t.throws(
    () => publicKeyFromPem('-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n'),
    /not a PEM public key/,
  );
});

t.test('checkpoint files parse line by line with precise errors', async (t) => {
  const { privateKey } = generateKeyPairSync('ed25519');
  const a = signCheckpoint(head, privateKey);
  const b = signCheckpoint({ seq: 50, hash: 'd0'.repeat(32) }, privateKey);
  t.same(
    parseCheckpoints(`${JSON.stringify(a)}\n\n  ${JSON.stringify(b)}  \n`),
    [a, b],
    'blank lines and spaces ignored',
  );
  const errors: [string, RegExp][] = [
    ['{nope', /cps:1: not valid JSON/],
    ['[1]', /cps:1: expected a JSON object/],
    [JSON.stringify({ ...a, v: 2 }), /unsupported version 2/],
    [JSON.stringify({ ...a, seq: 0 }), /seq must be a positive integer/],
    [JSON.stringify({ ...a, hash: 'AB'.repeat(32) }), /hash must be 64 lowercase hex digits/],
    [JSON.stringify({ ...a, time: 'yesterday' }), /time must be an ISO 8601 time/],
    [JSON.stringify({ ...a, key_id: 'k' }), /key_id must be 32 lowercase hex digits/],
    [JSON.stringify({ ...a, sig: 'a+b/' }), /sig must be base64url/],
    [`${JSON.stringify(a)}\n${'x'.repeat(5000)}`, /cps:2: line longer than 4096/],
  ];
  for (const [text, why] of errors) t.throws(() => parseCheckpoints(text, 'cps'), why);
});

t.test('file and stream sinks write one line per checkpoint', async (t) => {
  const { privateKey } = generateKeyPairSync('ed25519');
  const dir = mkdtempSync(join(tmpdir(), 'airlock-cp-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'cp.ndjson');
  const sink = fileSink(path);
  const a = signCheckpoint(head, privateKey);
  const b = signCheckpoint({ seq: 43, hash: 'e0'.repeat(32) }, privateKey);
  await sink.write(a);
  await sink.write(b);
  t.same(parseCheckpoints(readFileSync(path, 'utf8')), [a, b], 'appended, readable by verify');
  t.equal(sinkFromSpec(`file:${path}`).name, `file:${path}`);
  t.equal(sinkFromSpec(path).name, `file:${path}`, 'a bare path is a file');
  t.throws(() => sinkFromSpec('file:'), /needs a file path/);

  const stream = new PassThrough();
  let text = '';
  stream.on('data', (d) => (text += d));
  await streamSink(stream, 'test').write(a);
  t.equal(text, `${JSON.stringify(a)}\n`);
  t.equal(sinkFromSpec('stdout').name, 'stdout');
});

t.test('the HTTP sink POSTs JSON and fails on non-2xx answers', async (t) => {
  const { privateKey } = generateKeyPairSync('ed25519');
  const received: unknown[] = [];
  let status = 204;
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      received.push({ method: req.method, type: req.headers['content-type'], body: JSON.parse(body) });
      res.statusCode = status;
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/checkpoints?token=secret`;
  const sink = sinkFromSpec(url);
  t.notMatch(sink.name, /secret/, 'the query string (possibly a token) is not shown');
  const cp = signCheckpoint(head, privateKey);
  await sink.write(cp);
  t.same(received, [{ method: 'POST', type: 'application/json', body: cp }]);
  status = 500;
  await t.rejects(sink.write(cp), /answered HTTP 500/);
  t.throws(() => httpSink('ftp://example.com/x'), /must be http\(s\)/);
});
