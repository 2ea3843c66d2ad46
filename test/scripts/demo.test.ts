// `npm run demo` end to end, in process: the real gateway, IdP, upstreams and embedded PGlite. The
// demo must tell every step apart by its MCP answer and exit 0; a misbehaving step must be named
// and make the exit code non-zero. It ends with the console's URL and the approver's sign-in; while
// it stays, signing in there as that approver (the IdP's real login page) shows the call it parked.
import { existsSync } from 'node:fs';
import t from 'tap';
import { printConsoleSignIn } from '../../scripts/demo/console.js';
import { Narrator, StepFailure, Steps } from '../../scripts/demo/narrator.js';
import { runDemo, stayWanted } from '../../scripts/demo.mjs';
import { signInWithoutBrowser } from '../console/fixture.js';

t.test('the whole story behaves as expected', async (t) => {
  let out = '';
  let whileStaying:
    | { url: string; printed: string; page: number; me: unknown; approvals: unknown }
    | undefined;
  const outcome = await runDemo({
    write: (text) => {
      out += text;
    },
    color: false,
    // While it stays: sign in as the account the demo printed, with the password it suggests.
    stay: async (url) => {
      const account = /Sign in as the approver: account (\w+) .*password: anything, e\.g\. "(\w+)"/.exec(out);
      t.ok(account, 'the sign-in line is printed before the demo waits');
      const page = (await fetch(url)).status;
      const cookie = await signInWithoutBrowser(url, account?.[1] ?? 'bob');
      const get = async (path: string) => (await fetch(new URL(path, url), { headers: { cookie } })).json();
      whileStaying = {
        url,
        printed: out,
        page,
        me: await get('/console/api/me'),
        approvals: await get('/console/api/approvals'),
      };
    },
  });
  t.same(
    outcome,
    { exitCode: 0, failed: [] },
    out
      .split('\n')
      .filter((l) => l.includes('✘'))
      .join('\n'),
  );
  t.notMatch(out, /\u001b\[/, 'no colour codes when asked for none');
  t.notMatch(out, /✘/, 'no failed expectation');
  // One key line per step.
  t.match(out, /✔ github__transfer_repo and ops-db__drop_table are not listed/);
  t.match(out, /sub=alice {2}act\.sub=devops-agent {2}aud=https:\/\/api\.github\.example/);
  t.match(out, /"code": -32602,\s+"message": "Tool github__transfer_repo not found"/);
  t.match(out, /"code": -32001,[\s\S]*?"decision_id": "[0-9a-f-]{36}"/);
  t.match(out, /1 \| Ada Lovelace \| \[REDACTED\] \| \[REDACTED\] \| enterprise/);
  t.notMatch(out, /ada@example\.com|4111 1111 1111 1111/, 'the raw PII never shows in the output');
  t.match(out, /the requester may not approve their own call/);
  t.match(out, /✔ the github server saw exactly one delete/);
  t.match(out, /reason "replayed"/);
  t.match(out, /audit chain OK: \d+ events verified/);
  t.match(out, /All steps behaved as expected\./);

  // It ends with the console, checked while it ran, and how to sign in as the approver.
  t.match(out, /✔ GET \/console\/ answers the console page/);
  t.match(out, /✔ GET \/console\/login sends the browser to the OpenID provider/);
  const url = /\nConsole: (http:\/\/127\.0\.0\.1:\d+\/console\/)\n/.exec(out)?.[1];
  t.ok(url, 'the console URL is printed after the summary');
  t.ok(out.indexOf('Console: ') > out.indexOf('All steps behaved as expected.'), 'at the end');
  t.match(out, /Sign in as the approver: account bob \(group security\), password: anything/);
  t.match(out, /Throwaway demo accounts: the demo OpenID provider runs on loopback, takes any password/);
  t.match(out, /Everything keeps running until you press Ctrl-C\./);
  t.ok(whileStaying, 'the demo stayed up');
  t.equal(whileStaying?.url, url, 'the URL it printed is the one it serves');
  t.equal(whileStaying?.page, 200, 'the console page answers while the demo stays');
  t.match(whileStaying?.me, { user: { sub: 'bob', groups: ['security'] } }, 'signed in as bob');
  t.same(
    (whileStaying?.me as { actions?: string[] })?.actions,
    ['approvals.answer', 'approvals.own', 'audit.read', 'policy.read', 'policy.replay'],
    'an approver, as airlock/console decides',
  );
  t.same(
    (whileStaying?.approvals as { approvals?: { tool: string; arguments: unknown }[] })?.approvals?.map((a) =>
      JSON.stringify(a.arguments),
    ),
    ['{"repo":"corp/old-wiki"}'],
    "bob's inbox holds the call alice's agent parked at the end",
  );
  t.match(out, /Stopping: Airlock, the upstreams and the OpenID provider/);
  t.ok(
    url &&
      (await fetch(url).then(
        () => 'up',
        () => 'closed',
      )) === 'closed',
    'closed after the stay',
  );
  const workDir = /embedded PGlite in (\S+)\/data/.exec(out)?.[1];
  t.ok(workDir, 'the output names the temporary directory');
  t.notOk(workDir && existsSync(workDir), 'the temporary directory (bundle, database) is deleted');
});

t.test('a misbehaving step is named and fails the run; later steps still run', async (t) => {
  let out = '';
  const say = new Narrator({ write: (text) => (out += text), color: false });
  const steps = new Steps(say);
  t.equal(
    await steps.run('4 denied call', async () => say.expect(false, 'JSON-RPC -32001', 'got a result')),
    false,
  );
  t.equal(
    await steps.run('5 redacted result', async () => {
      throw new Error('connection refused');
    }),
    false,
  );
  t.equal(await steps.run('6 approval', async () => say.expect(true, 'approved')), true);
  t.equal(steps.finish(), 1);
  t.same(steps.failed, ['4 denied call', '5 redacted result']);
  t.match(out, /✘ JSON-RPC -32001 — got a result/);
  t.match(out, /unexpected error: Error: connection refused/);
  t.match(out, /step "4 denied call" did not behave as expected/);
  t.match(out, /2 step\(s\) did not behave as expected: 4 denied call, 5 redacted result/);
  t.type(new StepFailure('x'), Error);
});

t.test('without staying, the sign-in is printed with a note that the console has closed', async (t) => {
  let out = '';
  const say = new Narrator({ write: (text) => (out += text), color: false });
  printConsoleSignIn(say, 'http://127.0.0.1:8080/console/', false);
  t.match(out, /^\nConsole: http:\/\/127\.0\.0\.1:8080\/console\/\n/);
  t.match(out, /account bob \(group security\), password: anything, e\.g\. "demo"/);
  t.match(out, /account alice \(group eng\), who sees only her own calls/);
  t.match(out, /this console is closed now\. To keep it running:\n {3}npm run demo -- --stay/);
  t.notMatch(out, /Ctrl-C/);
});

t.test('--stay, --no-stay, AIRLOCK_DEMO_STAY and the terminal default', async (t) => {
  t.equal(stayWanted([], {}, true), true, 'a terminal stays');
  t.equal(stayWanted([], {}, false), false, 'a pipe or CI does not');
  t.equal(stayWanted(['--stay'], {}, false), true);
  t.equal(stayWanted(['--no-stay'], { AIRLOCK_DEMO_STAY: '1' }, true), false, 'the flag wins');
  t.equal(stayWanted([], { AIRLOCK_DEMO_STAY: '1' }, false), true);
  t.equal(stayWanted([], { AIRLOCK_DEMO_STAY: '0' }, true), false);
  t.equal(stayWanted(['-h'], {}, true), 'help');
  t.throws(() => stayWanted([], { AIRLOCK_DEMO_STAY: 'maybe' }, true), /AIRLOCK_DEMO_STAY must be 1 or 0/);
  t.throws(() => stayWanted(['--stay', '--no-stay'], {}, true), /exclude each other/);
  t.throws(() => stayWanted(['--bogus'], {}, true), /Unknown option/);
});
