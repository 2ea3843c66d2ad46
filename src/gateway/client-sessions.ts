// Session ids for clients of the session revisions (2025-06-18, 2025-11-25) that any replica can
// check without shared state: the id is a MAC, under a key from the configuration, over the
// virtual server, the authenticated caller (issuer, user, agent), the time it was issued and a
// nonce. It carries no authority of its own — every request still needs its bearer token — and a
// stolen id is refused for any other caller. DELETE ends an id on the replica that receives it.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { loadSecret, type SecretSource } from '../identity/index.js';
import type { Caller } from './caller.js';

/** `gateway.client_sessions` (schema/gateway.schema.json). */
export interface ClientSessionSettings {
  /** The MAC key: the same on every replica, so that any replica accepts any replica's ids. */
  key?: SecretSource;
  /** How long an id is accepted after it was issued (default 86400). */
  ttl_seconds?: number;
}

export const DEFAULT_SESSION_TTL_SECONDS = 86_400;
/** Ended ids remembered (per replica) until they expire; beyond this the oldest are forgotten. */
const MAX_ENDED = 100_000;
/** Longer headers are not ids of ours: refused before any parsing. */
const MAX_ID_LENGTH = 128;
/** How far in the future an id's issue time may be (clocks of replicas differ a little). */
const SKEW_MS = 60_000;
const VERSION = 'a1';
export const SESSION_HEADER = 'mcp-session-id';

type Bound = Pick<Caller, 'user' | 'agent'>;

export class ClientSessions {
  readonly #key: Buffer;
  readonly #ttlMs: number;
  readonly #now: () => number;
  /** Ended id → when it would have expired anyway (insertion order: oldest first). */
  readonly #ended = new Map<string, number>();

  constructor(key: string | Buffer, ttlSeconds = DEFAULT_SESSION_TTL_SECONDS, now: () => number = Date.now) {
    this.#key = Buffer.isBuffer(key) ? key : Buffer.from(key, 'utf8');
    this.#ttlMs = ttlSeconds * 1000;
    this.#now = now;
  }

  /** A new id for `caller` on `virtual`. */
  issue(caller: Bound, virtual: string): string {
    const issued = Math.floor(this.#now() / 1000).toString(36);
    const nonce = randomBytes(16).toString('base64url');
    return `${VERSION}.${issued}.${nonce}.${this.#mac(caller, virtual, issued, nonce)}`;
  }

  /** Whether `id` was issued to this caller on this virtual server, is unexpired and not ended. */
  valid(id: string, caller: Bound, virtual: string): boolean {
    if (id.length > MAX_ID_LENGTH) return false;
    const parts = id.split('.');
    if (parts.length !== 4 || parts[0] !== VERSION) return false;
    const [, issued, nonce, mac] = parts as [string, string, string, string];
    if (!/^[0-9a-z]{1,11}$/.test(issued) || !/^[A-Za-z0-9_-]{22}$/.test(nonce)) return false;
    const expected = Buffer.from(this.#mac(caller, virtual, issued, nonce), 'base64url');
    const given = Buffer.from(mac, 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return false;
    const at = Number.parseInt(issued, 36) * 1000;
    const now = this.#now();
    if (at > now + SKEW_MS || now >= at + this.#ttlMs) return false;
    return !this.#ended.has(id);
  }

  /** Ends a valid id (false when it is not one of this caller's). */
  end(id: string, caller: Bound, virtual: string): boolean {
    if (!this.valid(id, caller, virtual)) return false;
    const now = this.#now();
    for (const [old, expires] of this.#ended) {
      if (expires > now && this.#ended.size < MAX_ENDED) break;
      this.#ended.delete(old);
    }
    const issuedMs = Number.parseInt(id.split('.')[1]!, 36) * 1000;
    this.#ended.set(id, issuedMs + this.#ttlMs);
    return true;
  }

  #mac(caller: Bound, virtual: string, issued: string, nonce: string): string {
    const iss = 'iss' in caller.user && typeof caller.user.iss === 'string' ? caller.user.iss : '';
    const bound = JSON.stringify([
      VERSION,
      virtual,
      iss,
      caller.user.sub,
      caller.agent.id ?? null,
      issued,
      nonce,
    ]);
    return createHmac('sha256', this.#key).update(bound).digest('base64url');
  }
}

/** The sessions of `settings`: its key read now (a missing secret fails the start), else a random one. */
export function clientSessions(settings: ClientSessionSettings | undefined): {
  sessions: ClientSessions;
  keyed: boolean;
} {
  const ttl = settings?.ttl_seconds ?? DEFAULT_SESSION_TTL_SECONDS;
  if (settings?.key)
    return { sessions: new ClientSessions(loadSecret(settings.key).reveal(), ttl), keyed: true };
  return { sessions: new ClientSessions(randomBytes(32), ttl), keyed: false };
}

const PROBLEM_BASE = 'https://airlock.dev/problems/';

function headerOf(request: Pick<FastifyRequest, 'headers'>): string | undefined {
  const v = request.headers[SESSION_HEADER];
  return Array.isArray(v) ? v[0] : v;
}

function notFound(reply: FastifyReply): FastifyReply {
  return reply
    .code(404)
    .header('content-type', 'application/problem+json')
    .send({
      type: `${PROBLEM_BASE}session-not-found`,
      title: 'Not found',
      status: 404,
      detail: 'no such session for this caller (ended, expired or never issued to it); initialize anew',
    });
}

/**
 * A request naming a session id that is not this caller's valid one: answered 404, as the
 * specification has it (the client then initializes anew); true when answered. Requests without an
 * id go on: clients that keep no session are served as before.
 */
export function refuseUnknownSession(
  sessions: ClientSessions,
  request: Pick<FastifyRequest, 'headers'>,
  reply: FastifyReply,
  caller: Caller,
  virtual: string,
): boolean {
  const id = headerOf(request);
  if (id === undefined || sessions.valid(id, caller, virtual)) return false;
  notFound(reply);
  return true;
}

/** DELETE: ends the caller's session id (`204`); `400` without one, `404` for one not its own. */
export function endSession(
  sessions: ClientSessions,
  request: Pick<FastifyRequest, 'headers'>,
  reply: FastifyReply,
  caller: Caller,
  virtual: string,
): FastifyReply {
  const id = headerOf(request);
  if (id === undefined)
    return reply
      .code(400)
      .header('content-type', 'application/problem+json')
      .send({
        type: `${PROBLEM_BASE}session-id-missing`,
        title: 'Bad request',
        status: 400,
        detail: 'DELETE ends a session: send its Mcp-Session-Id',
      });
  if (!sessions.end(id, caller, virtual)) return notFound(reply);
  return reply.code(204).send();
}
