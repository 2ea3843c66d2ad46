// A replay report as text for people: the summary, the transitions, per tool and per user, then the
// changed events. (JSON output is the report itself.)
import type { GroupCount, ReplayReport } from './replay.js';
import { transition } from './replay.js';

/** One line of printable text: control characters (terminal escapes, newlines) become spaces. */
const clean = (text: string) => text.replace(/[\u0000-\u001f\u007f-\u009f]+/g, ' ');

function table(header: string[], body: string[][]): string {
  const rows = body.map((r) => r.map(clean));
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return `${[line(header), ...rows.map(line)].join('\n')}\n`;
}

const name = (v: string | null) => v ?? '-';
const counts = (t: Record<string, number>) =>
  Object.entries(t)
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .map(([k, n]) => `${k} ${n}`)
    .join(', ');

function groupTable(title: string, groups: GroupCount[]): string {
  const changed = groups.filter((g) => g.changed > 0);
  if (changed.length === 0) return '';
  return `\n${table(
    [title, 'REPLAYED', 'CHANGED', 'TRANSITIONS'],
    changed.map((g) => [name(g.name), String(g.replayed), String(g.changed), counts(g.transitions)]),
  )}`;
}

const SKIPS: Record<string, string> = {
  input_not_kept:
    'kept no input (recorded before inputs were kept, or a list, relayed request or failed evaluation)',
  input_too_large: 'input too large to keep',
  approval_refused: "the gateway's refusal of an approval (not a policy decision)",
  no_effect: 'no effect recorded',
};

export function formatReplayTable(r: ReplayReport): string {
  const c = r.candidate;
  let out =
    `replay of ${r.since} – ${r.until} against ${c.origin}${c.revision ? ` (revision ${c.revision})` : ''}\n` +
    `compared with ${r.baseline ? `baseline ${r.baseline.origin}${r.baseline.revision ? ` (revision ${r.baseline.revision})` : ''} on the same inputs` : 'the outcomes the trail recorded'}\n` +
    `${r.replayed} decision(s) replayed: ${r.changed} would change, ${r.unchanged} unchanged\n`;
  if (r.baseline && r.baselineDiffersFromTrail > 0)
    out += `${r.baselineDiffersFromTrail} decision(s) come out differently under the baseline than recorded (what the trail kept is not all the policy saw, live data changed, or another bundle decided them)\n`;
  if (r.truncated)
    out += `STOPPED SHORT: read ${r.read} of ${r.total} decision events in the range (raise --limit or narrow the range)\n`;
  for (const [reason, n] of Object.entries(r.skipped)) out += `skipped ${n}: ${SKIPS[reason] ?? reason}\n`;
  if (r.candidateErrors > 0)
    out += `${r.candidateErrors} replayed decision(s) could not be decided by the candidate (counted as deny, as the gateway fails closed)\n`;
  if (r.changedWithMaskedArguments > 0)
    out += `${r.changedWithMaskedArguments} change(s) on calls whose arguments the trail kept masked: the candidate saw the masks, not the values (marked *)\n`;
  if (r.changed === 0) return out;
  out += `\n${table(
    ['TRANSITION', 'COUNT'],
    Object.entries(r.transitions)
      .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
      .map(([k, n]) => [k, String(n)]),
  )}`;
  out += groupTable('TOOL', r.byTool);
  out += groupTable('USER', r.byUser);
  out += `\n${table(
    ['SEQ', 'TIME', 'USER', 'AGENT', 'SERVER', 'TOOL', 'CHANGE', 'CANDIDATE REASONS'],
    r.changes.map((ch) => [
      `${ch.seq}${ch.argumentsMasked ? '*' : ''}`,
      ch.time,
      name(ch.user),
      name(ch.agent),
      name(ch.server),
      name(ch.tool),
      transition(ch),
      ch.candidate.error ? `evaluation failed: ${ch.candidate.error}` : ch.candidate.reasons.join('; '),
    ]),
  )}`;
  if (r.changesNotListed > 0) out += `… and ${r.changesNotListed} more change(s) not listed (--max-listed)\n`;
  return out;
}
