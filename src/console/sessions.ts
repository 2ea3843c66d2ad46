// Console sessions: who signed in, held in memory on this process, bounded and expiring. A session
// id is 32 random bytes sent only in an HttpOnly cookie; the store keys sessions by the id's SHA-256,
// so a lookup compares digests, never the secret itself. Each session carries its own CSRF token.
import { createHash, randomBytes } from 'node:crypto';

export interface ConsoleUser {
  sub: string;
  groups: string[];
  email?: string;
  name?: string;
}

export interface Session {
  user: ConsoleUser;
  /** Sent back in the X-Airlock-CSRF header on every write. */
  csrf: string;
  createdAt: number;
  lastSeen: number;
  /** Absolute end, whatever the activity. */
  expiresAt: number;
}

export interface SessionLimits {
  /** Absolute lifetime (ms). */
  ttlMs: number;
  /** A session unused this long ends (ms). */
  idleMs: number;
  /** At most this many sessions; signing in beyond it ends the least recently used one. */
  max: number;
}

const digest = (id: string) => createHash('sha256').update(id, 'utf8').digest('base64url');
const token = () => randomBytes(32).toString('base64url');
/** What a session id looks like (so a malformed cookie is refused before any lookup). */
export const SESSION_ID = /^[A-Za-z0-9_-]{43}$/;

export class SessionStore {
  // Insertion order is recency order: a touched session is moved to the end.
  readonly #sessions = new Map<string, Session>();
  readonly #limits: SessionLimits;
  readonly #now: () => number;

  constructor(limits: SessionLimits, now: () => number = Date.now) {
    this.#limits = limits;
    this.#now = now;
  }

  get size(): number {
    return this.#sessions.size;
  }

  /** A new session for `user`; returns its id (the cookie value) and the session. */
  create(user: ConsoleUser): { id: string; session: Session } {
    this.#sweep();
    while (this.#sessions.size >= this.#limits.max) {
      const oldest = this.#sessions.keys().next().value;
      if (oldest === undefined) break;
      this.#sessions.delete(oldest);
    }
    const id = token();
    const now = this.#now();
    const session: Session = {
      user: { ...user, groups: [...user.groups] },
      csrf: token(),
      createdAt: now,
      lastSeen: now,
      expiresAt: now + this.#limits.ttlMs,
    };
    this.#sessions.set(digest(id), session);
    return { id, session };
  }

  /** The live session for `id`, its idle clock restarted; undefined when unknown, expired or idle. */
  get(id: string | undefined): Session | undefined {
    if (!id || !SESSION_ID.test(id)) return undefined;
    const key = digest(id);
    const s = this.#sessions.get(key);
    if (!s) return undefined;
    const now = this.#now();
    if (now >= s.expiresAt || now - s.lastSeen >= this.#limits.idleMs) {
      this.#sessions.delete(key);
      return undefined;
    }
    s.lastSeen = now;
    this.#sessions.delete(key);
    this.#sessions.set(key, s);
    return s;
  }

  /** The live session for `id` without counting this as activity (long-lived streams re-check with it). */
  peek(id: string | undefined): Session | undefined {
    if (!id || !SESSION_ID.test(id)) return undefined;
    const s = this.#sessions.get(digest(id));
    const now = this.#now();
    if (!s || now >= s.expiresAt || now - s.lastSeen >= this.#limits.idleMs) return undefined;
    return s;
  }

  /** Ends the session (logout). */
  delete(id: string | undefined): boolean {
    if (!id || !SESSION_ID.test(id)) return false;
    return this.#sessions.delete(digest(id));
  }

  /** Drops expired and idle sessions (at most `max` to look at). */
  #sweep(): void {
    const now = this.#now();
    for (const [key, s] of this.#sessions)
      if (now >= s.expiresAt || now - s.lastSeen >= this.#limits.idleMs) this.#sessions.delete(key);
  }
}
