import { readFile } from 'node:fs/promises';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { AuditStore, databaseConfigFrom } from '../../audit/index.js';
import {
  type Candidate,
  CandidateError,
  candidateFromSources,
  candidateFromTarball,
  DEFAULT_LISTED,
  DEFAULT_REPLAY_LIMIT,
  formatReplayTable,
  MAX_REPLAY_LIMIT,
  type ReplayReport,
  replay,
} from '../../replay/index.js';
import type { CliContext } from '../main.js';
import { loadPolicyTree } from '../policy-files.js';
import { parseTime } from './audit.js';

interface ReplayFlags {
  bundle?: string;
  policies?: string[];
  baseline?: string;
  baselinePolicies?: string[];
  entrypoint: string[];
  since: string;
  until?: string;
  format: 'table' | 'json';
  limit: number;
  maxListed: number;
  failOnChange?: boolean;
  quiet?: boolean;
  databaseUrl?: string;
  dataDir?: string;
}

function wholeNumber(flag: string, min: number, max: number) {
  return (value: string): number => {
    if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max)
      throw new InvalidArgumentError(`${flag} wants a whole number from ${min} to ${max}, got "${value}"`);
    return Number(value);
  };
}

/** The exit status of a finished replay. */
export function replayExitCode(report: ReplayReport, failOnChange: boolean): number {
  if (!failOnChange) return 0;
  return report.changed > 0 || report.truncated ? 1 : 0;
}

const HELP = `
What it does: reads the decision events recorded in [--since, --until) from the audit trail, asks
the candidate bundle each recorded input again, and reports every decision that would come out
differently — allow → deny, deny → allow, into or out of require_approval, or the same effect with
other arguments masked — with counts per transition, per tool and per user, then the changed events.

The candidate: --bundle FILE (a tarball from airlock build or opa build -t wasm), or --policies DIR
(built in memory with Airlock's compiler, exactly as airlock build would; entrypoints as there).
A candidate that does not load or compile is an error (exit 2) naming file:line:col; nothing is
replayed and nothing is printed on stdout.

Compared with what: without a baseline, with the outcomes the trail recorded. With --baseline FILE
or --baseline-policies DIR (the bundle in production, or the policy repository's main branch), both
are asked the same kept inputs and compared with each other, so what the trail could not keep
(masked arguments, live data that changed since) cancels out; the report also counts the decisions
the baseline does not reproduce. In CI, prefer a baseline.

What the candidate sees is the input as the trail kept it:
  - arguments as the recorded decision asked them to be kept: where it masked an argument, the
    candidate sees the mask, not the value; such changes are marked * (json: argumentsMasked);
  - the live data (revocations…) in the database now, not as it was when the decision was made;
  - decisions whose input was not kept are skipped and counted by reason (recorded before
    inputs were kept, inputs over 64 KiB, list and relayed-request decisions, failed evaluations,
    the gateway's own refusal of a used approval). Response-phase decisions (result masking)
    are not replayed: the trail keeps the result as returned, already masked.

Exit status: 0 replayed (changes or not, unless --fail-on-change); 1 with --fail-on-change when any
decision would change or --limit stopped the replay before the end of the range; 2 error (bad
options, a candidate that does not build or load, no database).

Progress goes to stderr every 1000 decisions (-q: none). Reports are printed once, at the end.

Database: --database-url (Postgres), else --data-dir (embedded PGlite), else $DATABASE_URL, else
PGlite in $AIRLOCK_DATA_DIR or ./.airlock/data. PGlite admits one process per directory: stop serve
(or use the console's what-if) to replay its embedded trail.

Examples:
  airlock replay --policies policies/ --since 2026-01-05T00:00:00Z --fail-on-change
  airlock replay --bundle candidate.tar.gz --since 2026-01-06 --until 2026-01-07 --format json
`;

export function registerReplay(cli: Command, ctx: CliContext): void {
  cli
    .command('replay')
    .description(
      'Replay recorded decisions of a time range against a candidate bundle and report what would change',
    )
    .option('--bundle <file>', 'candidate bundle tarball')
    .option('--policies <paths...>', 'candidate policy directory (or files), built in memory')
    .option(
      '--baseline <file>',
      'compare with this bundle replayed on the same inputs (e.g. the one in production)',
    )
    .option(
      '--baseline-policies <paths...>',
      'compare with these policies, built in memory, replayed on the same inputs',
    )
    .option(
      '-e, --entrypoint <name>',
      'with --policies: entrypoint to compile (repeatable; annotated `entrypoint: true` rules are added)',
      (v: string, acc: string[]) => [...acc, v],
      [] as string[],
    )
    .requiredOption('--since <time>', 'decisions at or after this ISO 8601 time (UTC unless a zone is given)')
    .option('--until <time>', 'decisions before this ISO 8601 time (default: now)')
    .addOption(new Option('--format <format>', 'report format').choices(['table', 'json']).default('table'))
    .option(
      '--limit <n>',
      `most decision events read, 1 to ${MAX_REPLAY_LIMIT}`,
      wholeNumber('--limit', 1, MAX_REPLAY_LIMIT),
      DEFAULT_REPLAY_LIMIT,
    )
    .option(
      '--max-listed <n>',
      'most changed events listed (all are counted)',
      wholeNumber('--max-listed', 0, MAX_REPLAY_LIMIT),
      DEFAULT_LISTED,
    )
    .option('--fail-on-change', 'exit 1 when any decision would change (for CI)')
    .option('-q, --quiet', 'no progress output')
    .option(
      '--database-url <url>',
      'Postgres URL (default: $DATABASE_URL; prefer the variable, arguments show in ps)',
    )
    .option(
      '--data-dir <dir>',
      'embedded PGlite data directory when no database URL is set (default: ./.airlock/data)',
    )
    .addHelpText('after', HELP)
    .action(async (opts: ReplayFlags) => {
      const fail = (message: string) => {
        ctx.err(`airlock replay: ${message}\n`);
        ctx.exitCode = 2;
      };
      if (!!opts.bundle === !!opts.policies)
        return fail('give the candidate with --bundle FILE or --policies DIR (one of them)');
      if (opts.baseline && opts.baselinePolicies)
        return fail('give the baseline with --baseline FILE or --baseline-policies DIR, not both');
      if (opts.bundle && opts.entrypoint.length > 0)
        return fail('--entrypoint goes with --policies (a bundle names its own)');
      let since: Date;
      let until: Date | undefined;
      try {
        since = parseTime(opts.since, '--since');
        until = opts.until === undefined ? undefined : parseTime(opts.until, '--until');
      } catch (err) {
        return fail((err as Error).message);
      }
      if (until && until.getTime() <= since.getTime()) return fail('--until must be later than --since');
      // The candidate first: one that does not build stops here, before any database work.
      let candidate: Candidate;
      let baseline: Candidate | undefined;
      const load = async (file: string | undefined, paths: string[] | undefined, role: string) => {
        if (file) return candidateFromTarball(await readFile(file), file);
        const tree = await loadPolicyTree(paths!);
        if (tree.sources.length === 0)
          throw new CandidateError(`${role}: no .rego files under ${paths!.join(', ')}`);
        return candidateFromSources(tree, paths!.join(' '), { entrypoints: opts.entrypoint });
      };
      try {
        candidate = await load(opts.bundle, opts.policies, 'candidate');
        if (opts.baseline || opts.baselinePolicies)
          baseline = await load(opts.baseline, opts.baselinePolicies, 'baseline');
      } catch (err) {
        return fail(err instanceof CandidateError ? err.message : (err as Error).message);
      }
      let store: AuditStore | undefined;
      let report: ReplayReport;
      try {
        store = await AuditStore.open({ ...databaseConfigFrom(opts), migrate: 'never', poolSize: 2 });
        report = await replay({
          db: store.db,
          candidate,
          baseline,
          since,
          until,
          limit: opts.limit,
          listed: opts.maxListed,
          onProgress: opts.quiet
            ? undefined
            : (done, total) => {
                if (total >= 1000) ctx.err(`replay: ${done}/${total} decisions\n`);
              },
        });
      } catch (err) {
        return fail((err as Error).message);
      } finally {
        await store?.close();
      }
      ctx.out(opts.format === 'json' ? `${JSON.stringify(report, null, 2)}\n` : formatReplayTable(report));
      if (report.truncated)
        ctx.err(
          `airlock replay: stopped at --limit ${opts.limit}: ${report.total - report.read} decision(s) in the range not replayed\n`,
        );
      ctx.exitCode = replayExitCode(report, !!opts.failOnChange);
    });
}
