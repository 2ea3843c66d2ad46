// `npm run demo` end to end, in process: the real gateway, IdP, upstreams and embedded PGlite. The
// demo must tell every step apart by its MCP answer and exit 0; a misbehaving step must be named
// and make the exit code non-zero.
import { existsSync } from 'node:fs';
import t from 'tap';
import { Narrator, StepFailure, Steps } from '../../scripts/demo/narrator.js';
import { runDemo } from '../../scripts/demo.mjs';

t.test('the whole story behaves as expected', async (t) => {
  let out = '';
  const outcome = await runDemo({
    write: (text) => {
      out += text;
    },
    color: false,
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
