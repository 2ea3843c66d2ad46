// The console's state and its one question to policy: who is signed in on this request, and what
// `airlock/console` lets them see and do. Routes (plugin.ts) and the approver API's cookie
// authentication (approver-guard.ts) share it.
import type { FastifyRequest } from 'fastify';
import { type Engine, EvaluationError } from '../engine/index.js';
import { type CookieFlags, cookie, readCookie, sessionCookieName } from './cookies.js';
import type { Session, SessionStore } from './sessions.js';
import type { SignIn } from './signin.js';

export const DEFAULT_CONSOLE_ENTRYPOINT = 'airlock/console';

export interface ConsoleVerdict {
  allow: boolean;
  actions: string[];
  reasons: string[];
}

export interface ConsoleServiceOptions {
  engine: Engine;
  sessions: SessionStore;
  signIn: SignIn;
  entrypoint?: string;
  /** Fixed redirect URI registered at the IdP; default `<this request's origin>/console/callback`. */
  redirectUri?: string;
  /** Session lifetime, for the cookie's Max-Age (s). */
  sessionTtlSeconds: number;
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);
const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const strings = (v: unknown) => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);

export class ConsoleService {
  readonly sessions: SessionStore;
  readonly signIn: SignIn;
  readonly #engine: Engine;
  readonly #entrypoint: string;
  readonly #redirectUri: string | undefined;
  readonly #ttl: number;

  constructor(options: ConsoleServiceOptions) {
    this.sessions = options.sessions;
    this.signIn = options.signIn;
    this.#engine = options.engine;
    this.#entrypoint = options.entrypoint ?? DEFAULT_CONSOLE_ENTRYPOINT;
    this.#redirectUri = options.redirectUri;
    this.#ttl = options.sessionTtlSeconds;
  }

  /** The bundle the console's policy questions are asked of: the active one. */
  get engine(): Engine {
    return this.#engine;
  }

  get entrypoint(): string {
    return this.#entrypoint;
  }

  /** `scheme://host[:port]` this request addressed (the Host header was checked by the origin guard). */
  origin(request: FastifyRequest): string {
    if (this.#redirectUri) return new URL(this.#redirectUri).origin;
    return `${request.protocol}://${request.host}`.toLowerCase();
  }

  redirectUri(request: FastifyRequest): string {
    return this.#redirectUri ?? `${this.origin(request)}/console/callback`;
  }

  /** Secure cookies everywhere but plain HTTP on a loopback name. */
  flags(request: FastifyRequest): CookieFlags {
    const url = new URL(this.origin(request));
    return { secure: !(url.protocol === 'http:' && LOOPBACK.has(url.hostname)) };
  }

  sessionId(request: FastifyRequest): string | undefined {
    return readCookie(request.headers.cookie, sessionCookieName(this.flags(request)));
  }

  /** The signed-in session of this request, if any (counts as activity). */
  session(request: FastifyRequest): Session | undefined {
    return this.sessions.get(this.sessionId(request));
  }

  sessionCookie(request: FastifyRequest, id: string): string {
    return cookie(sessionCookieName(this.flags(request)), id, this.#ttl, this.flags(request));
  }

  clearSessionCookie(request: FastifyRequest): string {
    return cookie(sessionCookieName(this.flags(request)), '', 0, this.flags(request));
  }

  /** What `airlock/console` says of this user (and action); throws EvaluationError without a verdict. */
  async verdict(user: { sub: string; groups: string[] }, action?: string): Promise<ConsoleVerdict> {
    let result: unknown;
    try {
      const r = await this.#engine.evaluate(this.#entrypoint, {
        user: { sub: user.sub, groups: user.groups },
        ...(action ? { action } : {}),
      });
      if (!r.defined) throw new EvaluationError(`${this.#entrypoint} gave no result`);
      result = r.result;
    } catch (err) {
      throw err instanceof EvaluationError ? err : new EvaluationError('console policy evaluation failed');
    }
    if (!isObject(result)) throw new EvaluationError(`${this.#entrypoint} did not answer an object`);
    return {
      allow: result.allow === true,
      actions: strings(result.actions),
      reasons: strings(result.reasons),
    };
  }
}
