// serve's `audit.checkpoints` section: the signing key from a secret reference, the sink (file or
// http(s)), where a file sink resumes, and start-up errors that name the setting.
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { stringify as stringifyYaml } from 'yaml';
import {
  CheckpointConfigError,
  generateSigningKey,
  prepareCheckpoints,
  privateKeyFromPem,
  signCheckpoint,
} from '../../src/audit/index.js';
import { main } from '../../src/cli/main.js';
import { validateServeConfig } from '../../src/cli/serve-config.js';

const dir = mkdtempSync(join(tmpdir(), 'airlock-cpconf-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const ours = generateSigningKey();
const keyFile = join(dir, 'signing.pem');
writeFileSync(keyFile, ours.privateKeyPem, { mode: 0o600 });
const hash = (n: number) => n.toString(16).padStart(2, '0').repeat(32);

t.test('the schema takes interval, key reference and sink; and nothing inline', async (t) => {
  const ok = {
    audit: { checkpoints: { interval_seconds: 30, signing_key: { file: keyFile }, sink: 'a.ndjson' } },
  };
  t.same(validateServeConfig(ok, 'test').audit?.checkpoints?.interval_seconds, 30);
  t.ok(
    validateServeConfig({ audit: { checkpoints: { signing_key: { env: 'K' }, sink: 'https://x/cp' } } }, 't'),
  );
  t.throws(
    () =>
      validateServeConfig({ audit: { checkpoints: { signing_key: ours.privateKeyPem, sink: 'a' } } }, 't'),
    /signing_key/,
    'a PEM inline is refused',
  );
  t.throws(() => validateServeConfig({ audit: { checkpoints: { signing_key: { env: 'K' } } } }, 't'), /sink/);
  t.throws(
    () =>
      validateServeConfig(
        { audit: { checkpoints: { interval_seconds: 0, signing_key: { env: 'K' }, sink: 'a' } } },
        't',
      ),
    /interval_seconds/,
  );
  t.ok(validateServeConfig({ database: { timeout_ms: 2000 } }, 't'));
  t.throws(() => validateServeConfig({ database: { timeout_ms: 0 } }, 't'), /timeout_ms/);
});

t.test('the key comes from a file or a variable; a bad key names signing_key', async (t) => {
  const sink = join(dir, 'a.ndjson');
  const fromFile = await prepareCheckpoints({ signing_key: { file: keyFile }, sink });
  t.equal(fromFile.privateKey.asymmetricKeyType, 'ed25519');
  t.equal(fromFile.intervalMs, 60_000, 'default interval 60 s');
  t.equal(fromFile.sink.name, `file:${sink}`);
  const fromEnv = await prepareCheckpoints(
    { interval_seconds: 5, signing_key: { env: 'CP_KEY' }, sink },
    { CP_KEY: ours.privateKeyPem },
  );
  t.equal(fromEnv.intervalMs, 5000);

  const rsa = join(dir, 'rsa.pem');
  writeFileSync(
    rsa,
    generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }),
  );
  const garbage = join(dir, 'garbage.pem');
  writeFileSync(garbage, 'not a key');
  for (const [what, source, env, why] of [
    ['an RSA key', { file: rsa }, {}, /must be Ed25519/],
    ['not a key', { file: garbage }, {}, /not a PEM private key/],
    ['a missing file', { file: join(dir, 'nope.pem') }, {}, /cannot be read/],
    ['an unset variable', { env: 'CP_UNSET' }, {}, /CP_UNSET is not set/],
    ['a public key', { env: 'CP_KEY' }, { CP_KEY: ours.publicKeyPem }, /not a PEM private key/],
  ] as const) {
    const err = await prepareCheckpoints({ signing_key: source, sink }, env).catch((e: unknown) => e);
    t.type(err, CheckpointConfigError, what);
    t.equal((err as CheckpointConfigError).setting, 'audit.checkpoints.signing_key', what);
    t.match((err as Error).message, why, what);
    t.notMatch((err as Error).message, /BEGIN/, 'no key material in the message');
  }
});

t.test('sinks: a file is created and must be appendable; URLs are http(s) without credentials', async (t) => {
  const bad = async (sink: string) => {
    const err = await prepareCheckpoints({ signing_key: { file: keyFile }, sink }).catch((e: unknown) => e);
    t.type(err, CheckpointConfigError, sink);
    t.equal((err as CheckpointConfigError).setting, 'audit.checkpoints.sink', sink);
    return (err as Error).message;
  };
  t.match(await bad(join(dir, 'no-such-dir', 'cp.ndjson')), /cannot append to .*\(ENOENT\)/);
  t.match(await bad(dir), /cannot append to .*\(EISDIR\)/);
  t.match(await bad('stdout'), /file path or an http\(s\) URL/);
  t.match(await bad('file:'), /file path or an http\(s\) URL/);
  t.notMatch(await bad('https://user:hunter2@sink.example/cp'), /hunter2/);
  const http = await prepareCheckpoints({
    signing_key: { file: keyFile },
    sink: 'https://sink.example/cp?token=abc',
  });
  t.equal(http.sink.name, 'https://sink.example/cp', 'the query string is not shown');
  t.notOk(http.resumeFrom, 'an HTTP sink cannot be read back');
  const prefixed = await prepareCheckpoints({
    signing_key: { file: keyFile },
    sink: `file:${join(dir, 'p.ndjson')}`,
  });
  t.equal(prefixed.sink.name, `file:${join(dir, 'p.ndjson')}`);
});

t.test('a file sink resumes from the newest checkpoint this key signed', async (t) => {
  const key = privateKeyFromPem(ours.privateKeyPem);
  const other = privateKeyFromPem(generateSigningKey().privateKeyPem);
  const sink = join(dir, 'resume.ndjson');
  const forged = { ...signCheckpoint({ seq: 99, hash: hash(99) }, key), hash: hash(98) };
  writeFileSync(
    sink,
    [
      JSON.stringify(signCheckpoint({ seq: 3, hash: hash(3) }, key)),
      JSON.stringify(signCheckpoint({ seq: 7, hash: hash(7) }, key)),
      JSON.stringify(signCheckpoint({ seq: 50, hash: hash(50) }, other)),
      JSON.stringify(forged),
      'not json',
      JSON.stringify(signCheckpoint({ seq: 5, hash: hash(5) }, key)),
      '',
    ].join('\n'),
  );
  const p = await prepareCheckpoints({ signing_key: { file: keyFile }, sink });
  t.match(p.resumeFrom, { seq: 7, hash: hash(7) }, 'the highest seq signed by this key');
  t.equal(p.ignoredLines, 3, "another key's, a forged and a garbage line are ignored");
  const empty = await prepareCheckpoints({ signing_key: { file: keyFile }, sink: join(dir, 'new.ndjson') });
  t.notOk(empty.resumeFrom, 'a new file: nothing to resume from');
});

t.test('`airlock serve` exits 2 naming the checkpoint setting', async (t) => {
  const run = async (checkpoints: Record<string, unknown>) => {
    const file = join(dir, `serve-${Math.random().toString(36).slice(2)}.yaml`);
    writeFileSync(
      file,
      stringifyYaml({
        log_level: 'silent',
        bundle: { source: join(dir, 'never-built.tar.gz'), policies: join(dir, 'no-policies') },
        database: { data_dir: join(dir, 'data') },
        audit: { checkpoints },
      }),
    );
    const err: string[] = [];
    const code = await main(['serve', '-c', file, '--addr', '127.0.0.1:0'], {
      out: () => {},
      err: (text) => void err.push(text),
    });
    return { code, err: err.join('') };
  };
  const garbage = join(dir, 'garbage2.pem');
  writeFileSync(garbage, 'not a key');
  const badKey = await run({ signing_key: { file: garbage }, sink: join(dir, 'x.ndjson') });
  t.equal(badKey.code, 2);
  t.match(badKey.err, /^airlock serve: audit\.checkpoints\.signing_key: /);
  const badSink = await run({ signing_key: { file: keyFile }, sink: join(dir, 'missing', 'x.ndjson') });
  t.equal(badSink.code, 2);
  t.match(badSink.err, /^airlock serve: audit\.checkpoints\.sink: cannot append/);
});
