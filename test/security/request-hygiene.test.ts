// A real `airlock serve`: tokens in the query string are refused and never reach its log (info level),
// other query values are masked in request lines, malformed URLs get a clean 400, and a bundle built
// by `airlock build` without --revision decides normally.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { freshPgliteDir } from '../helpers/pglite-dir.js';
import { runAirlock, startAirlockProcess } from './airlock-process.js';

// A build and a serve start each take seconds, minutes on a loaded machine: no time assertion here.
t.setTimeout(900_000);

const dir = mkdtempSync(join(tmpdir(), 'airlock-hygiene-'));
const bundle = join(dir, 'airlock.tar.gz');

const input = {
  phase: 'request',
  action: 'tools/call',
  user: { sub: 'alice', groups: ['eng'] },
  agent: { id: 'devops-agent' },
  server: { name: 'github' },
  tool: { name: 'get_file' },
  arguments: {},
};

t.test('query-string credentials, request logs, bad URLs, bundles without a revision', async (t) => {
  // No --revision: the manifest's revision is "", as `opa build` makes it by default.
  const built = await runAirlock(['build', 'policies', '-e', 'airlock/decision', '-o', bundle], {}, 400_000);
  t.equal(built.code, 0, built.stderr);
  const airlock = await startAirlockProcess({
    config: {
      addr: '127.0.0.1:0',
      bundle: { source: bundle },
      database: { data_dir: await freshPgliteDir(join(dir, 'data')) },
    },
    timeoutMs: 400_000,
  });
  t.teardown(() => airlock.stop());
  const { url } = airlock;
  t.equal(airlock.listening.bundle, '', 'the active bundle has no revision');

  const viaQuery = await fetch(
    `${url}/v1/data/airlock/decision?input=${encodeURIComponent(JSON.stringify(input))}&access_token=SECRET-QUERY-1`,
  );
  t.equal(viaQuery.status, 400);
  t.match(await viaQuery.json(), {
    code: 'invalid_parameter',
    message: /credentials must not be sent in the URL/,
  });
  const health = await fetch(`${url}/health?token=SECRET-QUERY-2`);
  t.equal(health.status, 400);
  t.match(health.headers.get('content-type'), /problem\+json/);
  // The same list as the agents' listener refuses (identity/url-credentials.ts): API keys too.
  const apiKey = await fetch(`${url}/health?API_KEY=SECRET-QUERY-6`);
  t.equal(apiKey.status, 400, 'api_key in the query string is refused on the API listener');
  const badUrl = await fetch(`${url}/v1/data/a%zz?access_token=SECRET-QUERY-3`);
  t.equal(badUrl.status, 400);
  t.notMatch(await badUrl.text(), /SECRET/, 'the URL is not echoed');

  // A normal decision from a bundle without a revision, with another query value and a bearer
  // header that must not be logged either. decision_log sync: 200 means the audit trail has it.
  const ok = await fetch(
    `${url}/v1/data/airlock/decision?input=${encodeURIComponent(JSON.stringify(input))}&pretty=SECRET-VALUE-4`,
    { headers: { authorization: 'Bearer SECRET-HEADER-5' } },
  );
  t.equal(ok.status, 200);
  const decided = (await ok.json()) as { result: { effect: string }; decision_id: string };
  t.equal(decided.result.effect, 'allow');
  const post = await fetch(`${url}/v1/data/airlock/decision`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ input }),
  });
  t.equal(post.status, 200);

  t.equal(await airlock.stop(), 0);
  const output = airlock.output();
  t.notMatch(output, /SECRET/, 'no token or query value in the log');
  const urls = airlock
    .logs()
    .map((l) => (l.req as { url?: string } | undefined)?.url)
    .filter((u): u is string => typeof u === 'string');
  t.ok(urls.includes('/health?token=***'), 'request lines keep the path and parameter names');
  t.ok(urls.includes('/v1/data/airlock/decision?input=***&pretty=***'));
  t.ok(
    airlock.logs().some((l) => l.msg === 'request refused: a credential in the query string'),
    'the refusal is logged, without the token',
  );
});
