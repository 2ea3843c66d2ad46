// The audit explorer's routes (audit.read in airlock/console):
//
//   GET /console/api/audit          one page of the trail, filtered, paginated by sequence
//   GET /console/api/audit/chain    the chain verified now (as `airlock audit verify`), and the last
//                                   signed checkpoint this process wrote, held against the chain
//   GET /console/api/audit/export   the filter's events as CSV or NDJSON, oldest first, streamed page by
//                                   page (by sequence), at most `limit` (≤ 100 000) events
import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import { replyProblem } from '../api/errors.js';
import type { Checkpointer } from '../audit/checkpointer.js';
import { csvHeader, csvRow, eventToJson, ndjsonRow } from '../audit/format.js';
import type { AuditSchema } from '../audit/index.js';
import { type AuditQuery, auditQueryFromParams, InvalidQueryError, queryEvents } from '../audit/query.js';
import { verifyChain } from '../audit/verify.js';
import type { Session } from './sessions.js';

export const MAX_EXPORT_EVENTS = 100_000;
/** Events read per database round trip while exporting. */
export const EXPORT_PAGE = 1000;
/** Exports streaming at once; more get 503. */
export const MAX_EXPORTS = 4;

const FILTERS = [
  'user',
  'agent',
  'model',
  'tool',
  'server',
  'effect',
  'kind',
  'decision_id',
  'approval_id',
  'since',
  'until',
];
const PAGE_PARAMS = new Set([...FILTERS, 'after', 'limit', 'order']);
const EXPORT_PARAMS = new Set([...FILTERS, 'format', 'limit']);
const FORMATS = {
  csv: { type: 'text/csv; charset=utf-8', ext: 'csv' },
  ndjson: { type: 'application/x-ndjson; charset=utf-8', ext: 'ndjson' },
} as const;

export interface AuditRoutesOptions {
  db: Kysely<AuditSchema>;
  /** The store's checkpointer, when checkpoints are configured. */
  checkpointer?: () => Checkpointer | undefined;
  allowed: (request: FastifyRequest, reply: FastifyReply, actions: string[]) => Promise<Session | undefined>;
  secure: (reply: FastifyReply) => FastifyReply;
}

/** The query string as parameters, refusing unknown names; empty values dropped. */
function params(request: FastifyRequest, known: Set<string>): URLSearchParams | string {
  const p = new URLSearchParams(request.url.split('?')[1] ?? '');
  for (const name of p.keys())
    if (!known.has(name)) return `unknown parameter ${JSON.stringify(name.slice(0, 64))}`;
  for (const [k, v] of [...p.entries()]) if (v === '') p.delete(k);
  return p;
}

export function registerAuditRoutes(app: FastifyInstance, options: AuditRoutesOptions): void {
  const { db, allowed, secure } = options;
  const bad = (reply: FastifyReply, detail: string) =>
    replyProblem(secure(reply), 400, 'bad-request', 'Bad request', detail);

  app.get('/console/api/audit', async (request, reply) => {
    if (!(await allowed(request, reply, ['audit.read']))) return reply;
    const p = params(request, PAGE_PARAMS);
    if (typeof p === 'string') return bad(reply, p);
    if (!p.has('limit')) p.set('limit', '50');
    try {
      const q = auditQueryFromParams(p);
      if ((q.limit ?? 50) > 200) return bad(reply, 'limit must be at most 200');
      const page = await queryEvents(db, q);
      return secure(reply).send({ events: page.events.map(eventToJson), next: page.next });
    } catch (err) {
      if (err instanceof InvalidQueryError) return bad(reply, err.message);
      throw err;
    }
  });

  // One verification at a time: it reads the whole chain.
  let verifying = false;
  app.get('/console/api/audit/chain', async (request, reply) => {
    if (!(await allowed(request, reply, ['audit.read']))) return reply;
    if (verifying)
      return replyProblem(
        secure(reply).header('retry-after', '5'),
        503,
        'verify-busy',
        'A verification is running',
        'one chain verification runs at a time; try again shortly',
      );
    verifying = true;
    try {
      const checkpointer = options.checkpointer?.();
      const last = checkpointer?.lastCheckpoint;
      const started = Date.now();
      const report = await verifyChain(
        db,
        last && checkpointer ? { checkpoints: [last], publicKey: checkpointer.publicKey } : {},
      );
      return secure(reply).send({
        ok: report.ok,
        checked: report.checked,
        head: report.head,
        ...(report.break ? { break: report.break } : {}),
        verified_at: new Date().toISOString(),
        took_ms: Date.now() - started,
        checkpoints: checkpointer ? 'configured' : 'not configured',
        last_checkpoint: last ?? null,
      });
    } finally {
      verifying = false;
    }
  });

  let exporting = 0;
  app.get('/console/api/audit/export', async (request, reply) => {
    if (!(await allowed(request, reply, ['audit.read']))) return reply;
    const p = params(request, EXPORT_PARAMS);
    if (typeof p === 'string') return bad(reply, p);
    const format = p.get('format') ?? 'ndjson';
    if (format !== 'csv' && format !== 'ndjson') return bad(reply, 'format must be csv or ndjson');
    p.delete('format');
    let max = MAX_EXPORT_EVENTS;
    const limitText = p.get('limit');
    if (limitText !== null) {
      max = Number(limitText);
      if (!/^\d{1,6}$/.test(limitText) || max < 1 || max > MAX_EXPORT_EVENTS)
        return bad(reply, `limit must be a whole number from 1 to ${MAX_EXPORT_EVENTS}`);
      p.delete('limit');
    }
    let base: AuditQuery;
    try {
      base = { ...auditQueryFromParams(p), order: 'asc' };
    } catch (err) {
      if (err instanceof InvalidQueryError) return bad(reply, err.message);
      throw err;
    }
    if (exporting >= MAX_EXPORTS)
      return replyProblem(
        secure(reply).header('retry-after', '10'),
        503,
        'export-busy',
        'Too many exports',
        `at most ${MAX_EXPORTS} exports run at once; try again shortly`,
      );
    exporting++;
    async function* rows(): AsyncGenerator<string> {
      if (format === 'csv') yield csvHeader();
      let after: number | undefined;
      let sent = 0;
      while (sent < max) {
        const page = await queryEvents(db, {
          ...base,
          limit: Math.min(EXPORT_PAGE, max - sent),
          ...(after !== undefined ? { after } : {}),
        });
        let chunk = '';
        for (const e of page.events) chunk += format === 'csv' ? csvRow(e) : ndjsonRow(e);
        if (chunk) yield chunk;
        sent += page.events.length;
        if (page.next === null) break;
        after = page.next;
      }
    }
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    const stream = Readable.from(rows());
    stream.once('close', () => exporting--);
    stream.on('error', (err) => request.log.error({ err: err.message }, 'console audit export failed'));
    return secure(reply)
      .type(FORMATS[format].type)
      .header('content-disposition', `attachment; filename="airlock-audit-${stamp}.${FORMATS[format].ext}"`)
      .header('x-airlock-export-limit', String(max))
      .send(stream);
  });
}
