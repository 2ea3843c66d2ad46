// Replay against real recorded decisions, on PGlite and (with DATABASE_URL) Postgres.
import t from 'tap';
import type { AuditStore } from '../../src/audit/index.js';
import { loadPolicyTree } from '../../src/cli/policy-files.js';
import { MASK } from '../../src/gateway/index.js';
import {
  CandidateError,
  candidateFromSources,
  candidateFromTarball,
  formatReplayTable,
  ReplayError,
  replay,
  replayBundle,
} from '../../src/replay/index.js';
import { type Backend, pgliteBackend, postgresBackend } from '../audit/backends.js';
import { candidateDir, noApprovals, noLookups, recordDecisions, tarballOf } from './fixture.js';

t.setTimeout(600_000); // two databases, the gateway and several builds of the reference policies
/** `details` of a decision event, as the tests read it. */
type Kept = {
  api?: string;
  arguments_masked?: string[];
  input: Record<string, unknown> & { user: { groups: string[] } };
};

const backends: (Backend | string)[] = [pgliteBackend(), await postgresBackend()];

for (const backend of backends) {
  if (typeof backend === 'string') {
    t.test('postgres', { skip: backend }, () => {});
    continue;
  }
  t.test(backend.name, async (t) => {
    const store: AuditStore = await backend.open();
    t.teardown(async () => {
      await store.close();
      await backend.teardown();
    });
    const range = await recordDecisions(store);
    const same = candidateDir();
    const changed = candidateDir(noLookups);
    t.teardown(() => {
      same.remove();
      changed.remove();
    });

    t.test('the trail keeps each decision input, arguments as the policy kept them', async (t) => {
      const page = await store.query({ kind: 'decision', since: range.since, until: range.until });
      const calls = page.events.filter((e) => e.phase === 'request');
      t.equal(calls.length, 9);
      const granted = calls.find((e) => e.targetName === 'close_ticket' && e.effect === 'allow')!;
      t.match(
        (granted.details as Kept).input.approval,
        { status: 'approved', approver: { sub: 'sally' } },
        'the decision made again keeps the approval it saw',
      );
      const asked = calls.find((e) => e.targetName === 'create_issue')!;
      const kept = asked.details as Kept;
      t.equal(kept.api, 'data');
      t.same(kept.input.user.groups, ['eng']);
      t.notOk('arguments' in kept.input);
      t.match(asked.arguments, { repo: 'corp/payments' });
      const update = calls.find((e) => e.targetName === 'update_customer')!;
      const details = update.details as Kept;
      t.equal(details.input.action, 'tools/call');
      t.same(details.input.user.groups, ['support'], 'the groups the policy saw');
      t.notOk('arguments' in details.input, 'the arguments are not kept twice');
      t.same(details.arguments_masked, ['/note']);
      t.same(update.arguments, { id: 'C-7', note: MASK });
      t.notMatch(JSON.stringify(update), /4111/, 'no card number anywhere in the event');
    });

    t.test(
      'a candidate that changes one decision, compared with a baseline: allow → deny for one tool and user',
      async (t) => {
        const report = await replay({
          db: store.db,
          candidate: candidateFromSources(await loadPolicyTree([changed.dir]), changed.dir, {
            revision: 'candidate-1',
          }),
          baseline: await candidateFromTarball(await tarballOf(same.dir, 'main'), 'main.tar.gz'),
          ...range,
        });
        t.match(report.candidate, { revision: 'candidate-1', origin: changed.dir });
        t.same(report.baseline, { origin: 'main.tar.gz', revision: 'main' });
        t.equal(report.replayed, 8, 'seven gateway decisions, one over the decision API');
        t.equal(
          report.skipped.approval_refused,
          1,
          "the gateway's refusal of a used approval is not replayed",
        );
        t.ok(
          (report.skipped.input_not_kept ?? 0) > 0,
          'the tools/list decisions kept no input: counted as skipped',
        );
        t.equal(report.changed, 1);
        t.equal(report.unchanged, 7);
        t.same(report.transitions, { 'allow→deny': 1 });
        t.equal(report.baselineDiffersFromTrail, 1, 'the masked card number: the baseline no longer sees it');
        t.equal(report.changes.length, 1);
        t.match(report.changes[0], {
          tool: 'lookup_customer',
          user: 'sam',
          agent: 'support-agent',
          server: 'crm',
          action: 'tools/call',
          kind: 'effect',
          recorded: { effect: 'allow' },
          baseline: { effect: 'allow' },
          candidate: { effect: 'deny', reasons: ['tool lookup_customer not found'] },
          argumentsMasked: false,
        });
        t.match(report.byTool[0], {
          name: 'lookup_customer',
          replayed: 1,
          changed: 1,
          transitions: { 'allow→deny': 1 },
        });
        t.match(report.byUser, [
          { name: 'sam', replayed: 7, changed: 1, transitions: { 'allow→deny': 1 } },
          { name: 'alice', replayed: 1, changed: 0, transitions: {} },
        ]);
        t.equal(report.truncated, false);
        const text = formatReplayTable(report);
        t.match(text, /8 decision\(s\) replayed: 1 would change, 7 unchanged/);
        t.match(text, /lookup_customer +1 +1 +allow→deny 1/);
      },
    );

    t.test('compared with the trail, the masked argument shows: the candidate saw the mask', async (t) => {
      const report = await replay({
        db: store.db,
        candidate: candidateFromSources(await loadPolicyTree([changed.dir]), changed.dir),
        ...range,
      });
      t.equal(report.baseline, null);
      t.equal(report.changed, 2);
      t.same(report.transitions, { 'allow→deny': 1, 'deny→allow': 1 });
      t.equal(report.changedWithMaskedArguments, 1);
      const masked = report.changes.find((c) => c.tool === 'update_customer');
      t.match(masked, {
        argumentsMasked: true,
        recorded: { effect: 'deny', maskedArguments: ['/note'] },
        candidate: { effect: 'allow' },
      });
      t.match(formatReplayTable(report), /change\(s\) on calls whose arguments the trail kept masked/);
    });

    t.test('an approval change: require_approval → allow, the approved call unchanged', async (t) => {
      const lax = candidateDir(noApprovals);
      t.teardown(lax.remove);
      const report = await replayBundle(store.db, await tarballOf(lax.dir, 'lax'), {
        ...range,
        baselineBytes: await tarballOf(same.dir, 'main'),
      });
      t.equal(report.changed, 3);
      t.same(report.transitions, { 'require_approval→allow': 3 });
      t.same(
        report.changes.map((c) => [c.tool, c.recorded.effect, c.candidate.effect]),
        [
          ['close_ticket', 'require_approval', 'allow'],
          ['close_ticket', 'require_approval', 'allow'],
          ['close_ticket', 'require_approval', 'allow'],
        ],
      );
      t.match(report.byTool[0], { name: 'close_ticket', replayed: 4, changed: 3 });
    });

    t.test('the policy the calls were decided by changes nothing', async (t) => {
      const bytes = await tarballOf(same.dir, 'same');
      const report = await replayBundle(store.db, bytes, { ...range, baselineBytes: bytes });
      t.equal(report.replayed, 8);
      t.equal(report.changed, 0, JSON.stringify(report.changes));
      t.same(report.changes, []);
      t.same(report.transitions, {});
      t.match(formatReplayTable(report), /8 decision\(s\) replayed: 0 would change, 8 unchanged/);
    });

    t.test('the limit bounds the work and the report says it stopped short', async (t) => {
      const progress: number[][] = [];
      const report = await replay({
        db: store.db,
        candidate: await candidateFromTarball(await tarballOf(changed.dir, 'c'), 'c.tar.gz'),
        ...range,
        limit: 2,
        onProgress: (done, total) => progress.push([done, total]),
      });
      t.equal(report.read, 2);
      t.ok(report.total > 2);
      t.equal(report.truncated, true);
      t.ok(progress.length > 0);
      await t.rejects(
        replay({
          db: store.db,
          candidate: candidateFromSources(await loadPolicyTree([same.dir]), 'x'),
          ...range,
          limit: 0,
        }),
        ReplayError,
      );
    });

    t.test('a candidate that does not build: the error names file:line:col', async (t) => {
      const broken = candidateDir();
      t.teardown(broken.remove);
      const { writeFileSync } = await import('node:fs');
      writeFileSync(
        `${broken.dir}/broken.rego`,
        'package airlock.broken\n\nimport rego.v1\n\nx if {\n  input.a ==\n}\n',
      );
      const tree = await loadPolicyTree([broken.dir]);
      t.throws(() => candidateFromSources(tree, broken.dir), CandidateError);
      try {
        candidateFromSources(tree, broken.dir);
      } catch (err) {
        t.match((err as Error).message, new RegExp(`${broken.dir}/broken\\.rego:7:1: `));
      }
      await t.rejects(replayBundle(store.db, Buffer.from('not a tarball'), { ...range }), CandidateError);
    });
  });
}
