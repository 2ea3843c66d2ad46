// Upstream sessions per caller. An MCP session holds state on the upstream's side (log level,
// subscriptions, whatever the server keeps per session), so a session shared by two users lets one
// user's actions reach the other. The pool gives each caller — user, agent and virtual server —
// a session of its own on every upstream that keeps sessions, bounded in number (the least recently
// used idle session makes room), closed after an idle time, and opened again when the upstream
// forgets it. Upstreams that keep no session (a Streamable HTTP server that answers `initialize`
// without `Mcp-Session-Id`) and stdio upstreams configured `shared` use one session for everybody.
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';

/** The key of a caller's sessions: the virtual server, the user and the agent. */
export function sessionKey(
  caller: { user: { sub: string }; agent: { id: string | null } },
  virtual: string,
): string {
  return JSON.stringify([virtual, caller.user.sub, caller.agent.id]);
}

/** The one session of a shared upstream (and of calls that name no caller). */
export const SHARED_SESSION = '';

/**
 * `per_caller`: a session per caller when the upstream keeps sessions (HTTP: it named one in its
 * `initialize` answer; stdio: always, each session is a process of its own). `shared`: one session.
 */
export type SessionIsolation = 'per_caller' | 'shared';

export const DEFAULT_MAX_SESSIONS = 256;
export const DEFAULT_IDLE_MS = 300_000;

export interface SessionPoolOptions {
  isolation: SessionIsolation;
  /** Most sessions open at once (per upstream). */
  max: number;
  /** A session without a call in flight is closed after this long. */
  idleMs: number;
  /** Opens and initializes a new upstream session. */
  open: (session: UpstreamSession) => Promise<Client>;
  /** Whether the upstream keeps state per session (false: one session can serve everybody). */
  keepsSessions: (client: Client) => boolean;
  /** Ends a session: tells the upstream when it can (HTTP DELETE), then closes the transport. */
  end: (client: Client) => Promise<void>;
  /** The error thrown when every session is in use and none can be opened. */
  full: (max: number) => Error;
}

/** One caller's session on one upstream, with what is cached for it. */
export class UpstreamSession {
  client: Promise<Client> | undefined;
  /** Lists fetched over this session (see Upstream). */
  lists: Record<string, unknown> = {};
  /** Requests in flight on this session: it is neither idle nor evicted while any is. */
  busy = 0;
  /** The caller's open notification streams: the session is not idle while any is, but may be evicted. */
  listeners = 0;
  lastUsed = Date.now();
  timer: NodeJS.Timeout | undefined;
  /** The caller's log level, set again when the session is re-created (per-caller sessions only). */
  logLevel: string | undefined;
  /** Subscribed resource URIs and the callers (session keys) subscribed to each; restored likewise. */
  readonly subscribers = new Map<string, Set<string>>();

  constructor(readonly key: string) {}
}

/** A session taken for one request; `release` gives it back (once). */
export interface Lease {
  session: UpstreamSession;
  client: Client;
  release: () => void;
}

export class SessionPool {
  readonly #sessions = new Map<string, UpstreamSession>();
  /** Whether the upstream keeps sessions; undefined until the first session tells. */
  #keeps: boolean | undefined;
  #probe: Promise<void> | undefined;
  #closed = false;

  constructor(readonly options: SessionPoolOptions) {}

  /** Sessions open now (for tests and metrics). */
  get size(): number {
    return this.#sessions.size;
  }

  /** Whether callers get sessions of their own: per_caller and the upstream keeps sessions. */
  get perCaller(): boolean | undefined {
    return this.options.isolation === 'shared' ? false : this.#keeps;
  }

  /** The session `key` (a caller's, or SHARED_SESSION) is served by, connected, taken for one request. */
  async acquire(key: string): Promise<Lease> {
    if (this.#closed) throw new Error('the upstream connection is closed');
    if (this.options.isolation === 'per_caller' && this.#keeps === undefined) {
      this.#probe ??= this.#detect(key).finally(() => {
        this.#probe = undefined;
      });
      await this.#probe;
    }
    const session = this.#session(this.perCaller ? key : SHARED_SESSION);
    session.busy++;
    session.lastUsed = Date.now();
    clearTimeout(session.timer);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      session.busy--;
      session.lastUsed = Date.now();
      this.#idle(session);
    };
    try {
      return { session, client: await this.#connect(session), release };
    } catch (err) {
      release();
      throw err;
    }
  }

  /**
   * Keeps `key`'s session from being closed for idleness until the returned function is called (a
   * caller's open notification stream: its log messages and updates come on that session). A full
   * pool may still evict it (listening must not lock others out). Nothing is held before the
   * upstream's kind is known, or when every session is in use.
   */
  hold(key: string): () => void {
    if (this.#closed || this.perCaller === undefined) return () => {};
    let session: UpstreamSession;
    try {
      session = this.#session(this.perCaller ? key : SHARED_SESSION);
    } catch {
      return () => {};
    }
    session.listeners++;
    clearTimeout(session.timer);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      session.listeners--;
      this.#idle(session);
    };
  }

  /** The session serving `key` now, if one is open (nothing is connected or taken). */
  peek(key: string): UpstreamSession | undefined {
    return this.#sessions.get(this.perCaller ? key : SHARED_SESSION);
  }

  /** The upstream lost or broke `session`'s connection: the next request opens a new one. */
  drop(session: UpstreamSession): void {
    const pending = session.client;
    session.client = undefined;
    session.lists = {};
    if (session.key === SHARED_SESSION && this.options.isolation === 'per_caller') this.#keeps = undefined;
    pending?.then((c) => c.close()).catch(() => {});
  }

  /** Every session of the pool (for notifications that concern all of them). */
  sessions(): UpstreamSession[] {
    return [...this.#sessions.values()];
  }

  async close(): Promise<void> {
    this.#closed = true;
    const all = [...this.#sessions.values()];
    this.#sessions.clear();
    await Promise.all(all.map((s) => this.#end(s)));
  }

  /** Opens the first session (as `key`'s) and learns from it whether the upstream keeps sessions. */
  async #detect(key: string): Promise<void> {
    const session = this.#session(key);
    session.busy++;
    try {
      const client = await this.#connect(session);
      this.#keeps = this.options.keepsSessions(client);
      if (!this.#keeps && key !== SHARED_SESSION) {
        // One session serves everybody, opened as such (what it declares is decided for no caller
        // in particular): this caller's is ended, the shared one opens on first use.
        this.#sessions.delete(key);
        void this.#end(session);
      }
    } finally {
      session.busy--;
      if (this.#sessions.get(key) === session) this.#idle(session);
    }
  }

  #session(key: string): UpstreamSession {
    let session = this.#sessions.get(key);
    if (session) {
      // Most recently used last: Map iteration order is the eviction order.
      this.#sessions.delete(key);
      this.#sessions.set(key, session);
      return session;
    }
    if (this.#sessions.size >= this.options.max) {
      // The least recently used without a request in flight, one nobody listens on first.
      const free = [...this.#sessions.values()].filter((s) => s.busy === 0);
      const idle = free.find((s) => s.listeners === 0) ?? free[0];
      if (!idle) throw this.options.full(this.options.max);
      this.#sessions.delete(idle.key);
      void this.#end(idle);
    }
    session = new UpstreamSession(key);
    this.#sessions.set(key, session);
    return session;
  }

  #connect(session: UpstreamSession): Promise<Client> {
    if (session.client) return session.client;
    const pending = this.options.open(session);
    session.client = pending;
    pending.catch(() => {
      if (session.client === pending) session.client = undefined;
    });
    return pending;
  }

  #idle(session: UpstreamSession): void {
    clearTimeout(session.timer);
    // A session with subscriptions waits for updates: not idle (it can still be evicted when full).
    if (session.busy > 0 || session.listeners > 0 || session.subscribers.size > 0 || this.#closed) return;
    session.timer = setTimeout(() => {
      if (session.busy > 0 || session.listeners > 0 || this.#sessions.get(session.key) !== session) return;
      this.#sessions.delete(session.key);
      void this.#end(session);
    }, this.options.idleMs);
    session.timer.unref();
  }

  async #end(session: UpstreamSession): Promise<void> {
    clearTimeout(session.timer);
    const pending = session.client;
    session.client = undefined;
    session.lists = {};
    if (!pending) return;
    await pending.then((c) => this.options.end(c)).catch(() => {});
  }
}
