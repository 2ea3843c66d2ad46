// Small hooks of the session revisions' front (served by the SDK's v1 server): which revision a
// request says it speaks, and the GET stream that only session revisions have.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { HEADER, isPerRequestRevision } from './revisions.js';

/** The session revision a request names in its MCP-Protocol-Version header, when it names one. */
export function sessionRevision(request: Pick<FastifyRequest, 'headers'>): { revision: string } | undefined {
  const v = request.headers[HEADER.protocolVersion];
  const s = (Array.isArray(v) ? v[0] : v)?.trim();
  return s ? { revision: s } : undefined;
}

/**
 * A GET naming 2026-07-28: that revision is POST only (list changes come on `subscriptions/listen`).
 * Answered 405 problem+json; true when answered.
 */
export function refusePerRequestGet(headers: FastifyRequest['headers'], reply: FastifyReply): boolean {
  const v = headers[HEADER.protocolVersion];
  const s = (Array.isArray(v) ? v[0] : v)?.trim();
  if (!s || !isPerRequestRevision(s)) return false;
  void reply
    .code(405)
    .header('allow', 'POST')
    .header('content-type', 'application/problem+json')
    .send({
      type: 'https://airlock.dev/problems/method-not-allowed',
      title: 'Method not allowed',
      status: 405,
      detail: `protocol revision ${s} is served over POST only`,
    });
  return true;
}
