// Renders audit events for people and tools: table, JSON, NDJSON, CSV.
import { eventFields } from './canonical.js';
import type { AuditEvent } from './types.js';

export const FORMATS = ['table', 'json', 'ndjson', 'csv'] as const;
export type OutputFormat = (typeof FORMATS)[number];

/** An event as JSON output shows it (snake_case, like the table and the HTTP API). */
export function eventToJson(e: AuditEvent): Record<string, unknown> {
  const { requested_by, ...fields } = eventFields(e);
  const out: Record<string, unknown> = {};
  // requested_by (always shown, null when absent) right after the claimed user.
  for (const [k, v] of Object.entries(fields)) {
    out[k] = v;
    if (k === 'user_claims') out.requested_by = requested_by ?? null;
  }
  return { ...out, prev_hash: e.prevHash, hash: e.hash };
}

const CSV_COLUMNS = Object.keys(
  eventToJson({
    seq: 0,
    time: new Date(0),
    kind: 'decision',
    decisionId: null,
    phase: null,
    userSub: null,
    userClaims: null,
    requestedBy: null,
    agentId: null,
    actor: null,
    model: null,
    virtualServer: null,
    upstreamServer: null,
    targetType: null,
    targetName: null,
    arguments: null,
    result: null,
    effect: null,
    reasons: null,
    approvalId: null,
    bundleRevision: null,
    timings: null,
    details: null,
    prevHash: '',
    hash: '',
  }),
);

/**
 * One CSV field (RFC 4180). Text that a spreadsheet would run as a formula (starting with = + - @ tab
 * or CR) gets a leading apostrophe: audit data comes from agents and must not execute on open.
 */
function csvField(value: unknown): string {
  if (value === null || value === undefined) return '';
  let s = typeof value === 'string' ? value : JSON.stringify(value);
  if (typeof value === 'string' && /^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

export function csvHeader(): string {
  return `${CSV_COLUMNS.join(',')}\r\n`;
}

export function csvRow(e: AuditEvent): string {
  const j = eventToJson(e);
  return `${CSV_COLUMNS.map((c) => csvField(j[c])).join(',')}\r\n`;
}

export function ndjsonRow(e: AuditEvent): string {
  return `${JSON.stringify(eventToJson(e))}\n`;
}

const TABLE_COLUMNS: [string, (e: AuditEvent) => string, number][] = [
  ['SEQ', (e) => String(e.seq), 10],
  ['TIME', (e) => e.time.toISOString(), 24],
  ['KIND', (e) => e.kind, 18],
  ['USER', (e) => e.userSub ?? '', 24],
  ['REQUESTED_BY', (e) => e.requestedBy ?? '', 24],
  ['AGENT', (e) => e.agentId ?? '', 20],
  ['TOOL', (e) => e.targetName ?? '', 24],
  ['EFFECT', (e) => e.effect ?? '', 16],
  ['DECISION', (e) => e.decisionId ?? '', 36],
];

/** Control characters would let stored data repaint the terminal: show them escaped. */
function printable(s: string): string {
  return s.replace(
    /[\u0000-\u001f\u007f-\u009f]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** A fixed-width text table; cells longer than their column are cut with an ellipsis. */
export function formatTable(events: AuditEvent[]): string {
  const cells = events.map((e) =>
    TABLE_COLUMNS.map(([, get, max]) => {
      const s = printable(get(e));
      return s.length > max ? `${s.slice(0, max - 1)}…` : s;
    }),
  );
  const widths = TABLE_COLUMNS.map(([h], i) => Math.max(h.length, ...cells.map((r) => r[i]!.length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(TABLE_COLUMNS.map(([h]) => h)), ...cells.map(line)].join('\n') + '\n';
}
