// Replay: the recorded decisions of a time range, asked again of a candidate bundle, and what would
// change — the impact of a policy change before it ships.
//
// What is replayed is the input *as the audit trail kept it*: each `decision` event holds the input
// the policy saw in `details.input` (without the arguments) and the arguments in its own column, as
// the policy asked them to be kept — where the recorded decision masked an argument, the candidate
// sees the mask, not the original value, and every such event is marked `argumentsMasked`. Live data
// (revocations…) is today's, not the data of the day the decision was made. Events that kept no input
// (written before inputs were kept, too large to keep, lists and relayed requests, the gateway's own
// refusals) are counted as skipped, by reason, never guessed at.
import { type Kysely, sql } from 'kysely';
import type { AuditEvent, AuditSchema, Effect } from '../audit/index.js';
import { EFFECTS, queryEvents } from '../audit/index.js';
import { Engine } from '../engine/index.js';
import { DECISION_ENTRYPOINT, DecisionError, decide } from '../gateway/decision.js';
import type { Candidate } from './candidate.js';

/** Default and largest number of decision events one replay reads. */
export const DEFAULT_REPLAY_LIMIT = 10_000;
export const MAX_REPLAY_LIMIT = 1_000_000;
/** Default number of changed events listed in a report (all are counted). */
export const DEFAULT_LISTED = 1000;

export interface ReplayOptions {
  /** The audit database (an AuditStore's `db`). */
  db: Kysely<AuditSchema>;
  candidate: Candidate;
  /**
   * The bundle to compare with, replayed on the same kept inputs (usually the active one). Without it
   * the candidate is compared with the outcomes the trail recorded; with it, differences that come
   * from what the trail could not keep (masked arguments, live data since changed) cancel out.
   */
  baseline?: Candidate | undefined;
  /** Inclusive lower bound on the decision time. */
  since: Date;
  /** Exclusive upper bound (default: now, when the replay starts). */
  until?: Date | undefined;
  /** Most decision events read (default 10 000, at most 1 000 000); the report says when it stopped short. */
  limit?: number | undefined;
  /** Most changed events listed in the report (default 1000); counts cover all of them. */
  listed?: number | undefined;
  /** The live data document the candidate evaluates with (default: the database's current live data). */
  liveData?: Record<string, unknown> | undefined;
  /** Called after every 1000 events replayed, and once at the end. */
  onProgress?: ((done: number, total: number) => void) | undefined;
  /** Deadline of one evaluation (default 1000 ms, as in serve). */
  timeoutMs?: number | undefined;
}

/** What a decision came to: its effect and the argument pointers kept masked. */
export interface Outcome {
  /** null for a result that is not a decision (a data read over the Data API). */
  effect: Effect | null;
  reasons: string[];
  maskedArguments: string[];
  /** Set when the candidate could not decide (the gateway then denies: fail closed). */
  error?: string;
}

export type ChangeKind = 'effect' | 'redaction';

export interface ReplayChange {
  seq: number;
  time: string;
  decisionId: string | null;
  user: string | null;
  agent: string | null;
  server: string | null;
  tool: string | null;
  action: string | null;
  /** The revision that made the recorded decision. */
  recordedRevision: string | null;
  kind: ChangeKind;
  /** The outcome the trail recorded. */
  recorded: Outcome;
  /** The baseline's outcome on the kept input, when a baseline was given: what the candidate is compared with. */
  baseline?: Outcome;
  candidate: Outcome;
  /**
   * The trail kept some arguments (or a forward-auth request's header and query values) masked: the
   * candidate saw the mask, not the value.
   */
  argumentsMasked: boolean;
}

export interface GroupCount {
  name: string | null;
  replayed: number;
  changed: number;
  /** `allow→deny`, `deny→allow`, `allow→allow (redaction)`, … */
  transitions: Record<string, number>;
}

export type SkipReason = 'input_not_kept' | 'input_too_large' | 'approval_refused' | 'no_effect';

export interface ReplayReport {
  candidate: { origin: string; revision: string; entrypoints: string[] };
  /** The baseline compared with, or null when the candidate was compared with the trail. */
  baseline: { origin: string; revision: string } | null;
  /**
   * With a baseline: replayed decisions whose baseline outcome differs from the one recorded (the
   * kept input was not all the policy saw, live data changed, or the trail was decided by another
   * bundle). Zero means the replay reproduced the trail.
   */
  baselineDiffersFromTrail: number;
  since: string;
  until: string;
  /** Decision events in the range. */
  total: number;
  /** Decision events read (at most the limit). */
  read: number;
  /** True when the limit stopped the replay before the end of the range. */
  truncated: boolean;
  replayed: number;
  unchanged: number;
  changed: number;
  /** Changes on events whose arguments the trail kept masked (the candidate saw the masks). */
  changedWithMaskedArguments: number;
  /** Replayed events the candidate could not decide (counted as deny, as the gateway would). */
  candidateErrors: number;
  skipped: Partial<Record<SkipReason, number>>;
  transitions: Record<string, number>;
  byTool: GroupCount[];
  byUser: GroupCount[];
  /** The changed events, oldest first, at most `listed` of them. */
  changes: ReplayChange[];
  /** Changed events not listed (beyond `listed`). */
  changesNotListed: number;
}

/** Raised for options a replay cannot run with. */
export class ReplayError extends Error {
  override name = 'ReplayError';
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);
const strings = (v: unknown): string[] =>
  Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];

/** The transition label of a change: `allow→deny`, or `redact→redact (redaction)` for masking only. */
export function transition(c: Pick<ReplayChange, 'kind' | 'recorded' | 'baseline' | 'candidate'>): string {
  const before = c.baseline ?? c.recorded;
  const label = `${before.effect ?? 'none'}→${c.candidate.effect ?? 'none'}`;
  return c.kind === 'redaction' ? `${label} (redaction)` : label;
}

/** The recorded input of an event, or why it cannot be replayed. */
function recordedInput(e: AuditEvent): { input: unknown; gateway: boolean } | { skip: SkipReason } {
  const d = isObject(e.details) ? e.details : {};
  if (d.approval_refused !== undefined) return { skip: 'approval_refused' };
  if (d.input_omitted_bytes !== undefined) return { skip: 'input_too_large' };
  const gateway = typeof d.api !== 'string';
  if (d.input_absent === true) return { input: undefined, gateway };
  if (!('input' in d)) return { skip: 'input_not_kept' };
  if (gateway && e.effect === null) return { skip: 'no_effect' };
  const input = isObject(d.input) && e.arguments !== null ? { ...d.input, arguments: e.arguments } : d.input;
  return { input, gateway };
}

/** The effect the decision API records for a result (as src/api/decision-log.ts does). */
function apiOutcome(api: unknown, defined: boolean, result: unknown): Outcome {
  const out = isObject(result) ? result : undefined;
  const effect =
    typeof out?.effect === 'string' && (EFFECTS as readonly string[]).includes(out.effect)
      ? (out.effect as Effect)
      : api === 'http' && defined
        ? out?.allow === true
          ? 'allow'
          : 'deny'
        : null;
  return { effect, reasons: strings(out?.reasons), maskedArguments: [] };
}

async function candidateOutcome(
  engine: Engine,
  e: AuditEvent,
  input: unknown,
  gateway: boolean,
): Promise<Outcome> {
  if (gateway) {
    try {
      const d = await decide(engine, input);
      return { effect: d.effect, reasons: d.reasons, maskedArguments: d.redact?.arguments ?? [] };
    } catch (err) {
      const message = err instanceof DecisionError ? err.message : (err as Error).message;
      return { effect: 'deny', reasons: [], maskedArguments: [], error: message };
    }
  }
  const d = e.details as Record<string, unknown>;
  const path = typeof d.path === 'string' && d.path !== '' ? d.path : DECISION_ENTRYPOINT;
  try {
    const r = await engine.query(path.split('/'), input);
    return apiOutcome(d.api, r.defined, r.result);
  } catch (err) {
    return { effect: 'deny', reasons: [], maskedArguments: [], error: (err as Error).message };
  }
}

function recordedOutcome(e: AuditEvent): Outcome {
  const d = isObject(e.details) ? e.details : {};
  return { effect: e.effect, reasons: strings(e.reasons), maskedArguments: strings(d.arguments_masked) };
}

const sameSet = (a: string[], b: string[]) => {
  const x = [...new Set(a)].sort();
  const y = [...new Set(b)].sort();
  return x.length === y.length && x.every((v, i) => v === y[i]);
};

/** How `after` differs from `before`: its effect, else (same effect) the arguments it masks; or not at all. */
function differ(before: Outcome, after: Outcome): ChangeKind | undefined {
  if (before.effect !== after.effect) return 'effect';
  if (before.effect !== null && !sameSet(before.maskedArguments, after.maskedArguments)) return 'redaction';
  return undefined;
}

/** The live data document in the database (empty when no live data was ever written). */
export async function currentLiveData(db: Kysely<AuditSchema>): Promise<Record<string, unknown>> {
  const exists = await sql<{ t: string | null }>`SELECT to_regclass('airlock_live_data')::text AS t`.execute(
    db,
  );
  if (!exists.rows[0]?.t) return {};
  const { rows } = await sql<{ root: string; value: unknown }>`
    SELECT root, value FROM airlock_live_data WHERE value IS NOT NULL`.execute(db);
  const doc: Record<string, unknown> = {};
  for (const r of rows) doc[r.root] = typeof r.value === 'string' ? JSON.parse(r.value) : r.value;
  return doc;
}

function countGroup(map: Map<string | null, GroupCount>, name: string | null, change: string | undefined) {
  let g = map.get(name);
  if (!g) {
    g = { name, replayed: 0, changed: 0, transitions: {} };
    map.set(name, g);
  }
  g.replayed++;
  if (change) {
    g.changed++;
    g.transitions[change] = (g.transitions[change] ?? 0) + 1;
  }
}

/** Groups with changes first (most changes first), then by name. */
const groups = (map: Map<string | null, GroupCount>) =>
  [...map.values()].sort((a, b) => b.changed - a.changed || String(a.name).localeCompare(String(b.name)));

/** How many events are evaluated at once (the engine's workers queue the rest). */
const WINDOW = 16;
const PAGE = 1000;

/**
 * Replays the decision events of [since, until) against the candidate and reports what would change.
 * The candidate is loaded into an engine of its own (one worker thread), closed before this returns.
 */
export async function replay(options: ReplayOptions): Promise<ReplayReport> {
  const limit = options.limit ?? DEFAULT_REPLAY_LIMIT;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_REPLAY_LIMIT)
    throw new ReplayError(`limit must be a whole number from 1 to ${MAX_REPLAY_LIMIT}, got ${limit}`);
  const listed = options.listed ?? DEFAULT_LISTED;
  if (!Number.isInteger(listed) || listed < 0)
    throw new ReplayError(`listed must be a whole number, got ${listed}`);
  const since = options.since;
  const until = options.until ?? new Date();
  if (Number.isNaN(since.getTime()) || Number.isNaN(until.getTime()))
    throw new ReplayError('since and until must be valid times');
  if (until.getTime() <= since.getTime())
    throw new ReplayError(`until (${until.toISOString()}) must be later than since (${since.toISOString()})`);

  const { db, candidate } = options;
  const counted = await db
    .selectFrom('audit_events')
    .select(sql<string>`count(*)`.as('n'))
    .where('kind', '=', 'decision')
    .where('time', '>=', since)
    .where('time', '<', until)
    .executeTakeFirst();
  const total = Number(counted?.n ?? 0);
  const liveData = options.liveData ?? (await currentLiveData(db));

  const engine = new Engine({ workers: 1, timeoutMs: options.timeoutMs });
  const baseline = options.baseline ? new Engine({ workers: 1, timeoutMs: options.timeoutMs }) : undefined;
  const report: ReplayReport = {
    candidate: {
      origin: candidate.origin,
      revision: candidate.bundle.manifest.revision,
      entrypoints: [...candidate.bundle.entrypoints],
    },
    baseline: options.baseline
      ? { origin: options.baseline.origin, revision: options.baseline.bundle.manifest.revision }
      : null,
    baselineDiffersFromTrail: 0,
    since: since.toISOString(),
    until: until.toISOString(),
    total,
    read: 0,
    truncated: false,
    replayed: 0,
    unchanged: 0,
    changed: 0,
    changedWithMaskedArguments: 0,
    candidateErrors: 0,
    skipped: {},
    transitions: {},
    byTool: [],
    byUser: [],
    changes: [],
    changesNotListed: 0,
  };
  const byTool = new Map<string | null, GroupCount>();
  const byUser = new Map<string | null, GroupCount>();
  try {
    engine.setLiveData(liveData);
    await engine.activate(candidate.bundle, candidate.origin);
    if (baseline && options.baseline) {
      baseline.setLiveData(liveData);
      await baseline.activate(options.baseline.bundle, options.baseline.origin);
    }
    let after: number | undefined;
    const goal = Math.min(total, limit);
    for (;;) {
      const want = Math.min(PAGE, limit - report.read);
      if (want <= 0) break;
      const page = await queryEvents(db, { kind: 'decision', since, until, after, limit: want });
      report.read += page.events.length;
      // Evaluated WINDOW at a time, recorded in sequence order.
      for (let i = 0; i < page.events.length; i += WINDOW) {
        const slice = page.events.slice(i, i + WINDOW);
        const outcomes = await Promise.all(
          slice.map(async (e) => {
            const recorded = recordedInput(e);
            if ('skip' in recorded) return { e, skip: recorded.skip };
            const [outcome, before] = await Promise.all([
              candidateOutcome(engine, e, recorded.input, recorded.gateway),
              baseline ? candidateOutcome(baseline, e, recorded.input, recorded.gateway) : undefined,
            ]);
            return { e, outcome, before };
          }),
        );
        for (const o of outcomes) {
          if ('skip' in o && o.skip) {
            report.skipped[o.skip] = (report.skipped[o.skip] ?? 0) + 1;
            continue;
          }
          const { outcome, before } = o as { outcome: Outcome; before: Outcome | undefined };
          tally(report, byTool, byUser, o.e, outcome, before, listed);
          if (report.replayed % PAGE === 0) options.onProgress?.(report.replayed, goal);
        }
      }
      if (page.next === null) break;
      after = page.next;
    }
    report.truncated = report.read < total;
    options.onProgress?.(report.replayed, goal);
  } finally {
    await engine.close();
    await baseline?.close();
  }
  report.byTool = groups(byTool);
  report.byUser = groups(byUser);
  return report;
}

function tally(
  report: ReplayReport,
  byTool: Map<string | null, GroupCount>,
  byUser: Map<string | null, GroupCount>,
  e: AuditEvent,
  candidate: Outcome,
  baseline: Outcome | undefined,
  listed: number,
): void {
  report.replayed++;
  if (candidate.error) report.candidateErrors++;
  const recorded = recordedOutcome(e);
  const d0 = isObject(e.details) ? e.details : {};
  const masked = recorded.maskedArguments.length > 0 || Array.isArray(d0.input_masked);
  if (baseline && differ(recorded, baseline)) report.baselineDiffersFromTrail++;
  const kind = differ(baseline ?? recorded, candidate);
  let label: string | undefined;
  if (kind) {
    const d = isObject(e.details) ? e.details : {};
    const input = isObject(d.input) ? d.input : {};
    const change: ReplayChange = {
      seq: e.seq,
      time: e.time.toISOString(),
      decisionId: e.decisionId,
      user: e.userSub,
      agent: e.agentId,
      server: e.upstreamServer ?? e.virtualServer,
      tool: e.targetName,
      action:
        typeof input.action === 'string' ? input.action : typeof d.action === 'string' ? d.action : null,
      recordedRevision: e.bundleRevision,
      kind,
      recorded,
      ...(baseline ? { baseline } : {}),
      candidate,
      argumentsMasked: masked,
    };
    label = transition(change);
    report.changed++;
    if (masked) report.changedWithMaskedArguments++;
    report.transitions[label] = (report.transitions[label] ?? 0) + 1;
    if (report.changes.length < listed) report.changes.push(change);
    else report.changesNotListed++;
  } else report.unchanged++;
  countGroup(byTool, e.targetName, label);
  countGroup(byUser, e.userSub, label);
}
