// Replay: the recorded decisions of a time range against a candidate bundle — what would change.
//
// For the console (and any program of your own), one call: candidate bundle bytes in, report out.
//
//   const report = await replayBundle(store.db, bytes, { since, until, limit: 10_000 });
//   report.changed, report.transitions['allow→deny'], report.byTool, report.byUser, report.changes
//
// A tarball that is not a loadable bundle rejects with CandidateError (nothing is replayed); bad
// options with ReplayError. See docs/replay.md for what a replay can and cannot see.
import type { Kysely } from 'kysely';
import type { AuditSchema } from '../audit/index.js';
import type { VerificationConfig } from '../engine/signature.js';
import { candidateFromTarball } from './candidate.js';
import { type ReplayOptions, type ReplayReport, replay } from './replay.js';

export {
  type Candidate,
  CandidateError,
  candidateFromSources,
  candidateFromTarball,
} from './candidate.js';
export { formatReplayTable } from './format.js';
export {
  type ChangeKind,
  currentLiveData,
  DEFAULT_LISTED,
  DEFAULT_REPLAY_LIMIT,
  type GroupCount,
  MAX_REPLAY_LIMIT,
  type Outcome,
  type ReplayChange,
  ReplayError,
  type ReplayOptions,
  type ReplayReport,
  replay,
  type SkipReason,
  transition,
} from './replay.js';

export interface ReplayBundleOptions extends Omit<ReplayOptions, 'db' | 'candidate'> {
  /** Named in the report (default `upload`). */
  origin?: string | undefined;
  /** With a key, an unsigned or badly signed candidate is refused, as serve would refuse it. */
  verification?: VerificationConfig | undefined;
  /** The bundle tarball to compare with (the active one), replayed on the same inputs; see ReplayOptions.baseline. */
  baselineBytes?: Uint8Array | undefined;
}

/** Replays [since, until) of the trail in `db` against the bundle tarball `bytes`. */
export async function replayBundle(
  db: Kysely<AuditSchema>,
  bytes: Uint8Array,
  options: ReplayBundleOptions,
): Promise<ReplayReport> {
  const { origin, verification, baselineBytes, ...rest } = options;
  const candidate = await candidateFromTarball(bytes, origin ?? 'upload', verification);
  const baseline = baselineBytes ? await candidateFromTarball(baselineBytes, 'baseline') : rest.baseline;
  return replay({ ...rest, db, candidate, baseline });
}
