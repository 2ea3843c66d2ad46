// Parked calls: when policy answers `require_approval`, the gateway stores the call here with its exact
// arguments; approvers answer it (src/api/approvals.ts); the gateway then runs it once, with those
// arguments, before it expires. Rows live in the shared database, so any replica can answer a call
// parked (and held open) on another: answers are announced with NOTIFY and waiters also poll, so a
// lost notification costs at most one poll interval.
//
// Time: every comparison uses the store's clock (`now`, default Date.now) passed to SQL as a parameter,
// never the server's now(), so tests control expiry and all replicas judge expiry alike (within their
// clock skew).
import { createHash, randomUUID } from 'node:crypto';
import canonicalize from 'canonicalize';
import { type Kysely, sql } from 'kysely';
import pg from 'pg';
import { toJson } from '../audit/canonical.js';
import { databaseHandle } from '../audit/database.js';
import { applyMigrations } from '../audit/migrations/index.js';
import type { Json } from '../audit/types.js';
import { APPROVAL_MIGRATIONS, APPROVALS_CHANNEL, APPROVALS_TABLE } from './approval-schema.js';
import { type ApprovalWebhook, sendApprovalWebhook } from './approval-webhook.js';

export type { Json };
export type ApprovalStatus = 'pending' | 'approved' | 'denied' | 'consumed' | 'expired';

export interface ParkRequest {
  /** The request-phase decision id. */
  decisionId: string;
  virtual: string;
  upstream: string;
  /** The upstream's own tool name (not qualified by the virtual server). */
  tool: string;
  /** The exact arguments that will run if approved. */
  arguments: Json;
  /** The request-phase decision input (what `airlock/approve` sees as input.call). */
  call: Json;
  requester: { sub: string; agent: string };
  /** e.g. ["group:security", "user:bob"], from decision.approval.approvers. */
  approvers: string[];
  /** From decision.approval.ttl_seconds. */
  ttlSeconds: number;
  reasons: string[];
}

export interface Approval {
  id: string;
  /** `expired` when pending or approved (unconsumed) and expiresAt <= now. */
  status: ApprovalStatus;
  decisionId: string;
  virtual: string;
  upstream: string;
  tool: string;
  arguments: Json;
  argumentsHash: string;
  call: Json;
  requester: { sub: string; agent: string };
  approvers: string[];
  reasons: string[];
  createdAt: Date;
  expiresAt: Date;
  answeredBy: { sub: string; groups: string[] } | null;
  answeredAt: Date | null;
  answerReasons: string[];
  consumedAt: Date | null;
}

export type ApprovalErrorReason =
  | 'unknown'
  | 'pending'
  | 'denied'
  | 'expired'
  | 'replayed'
  | 'edited'
  | 'answered';

/** Why an answer or a consume was refused. */
export class ApprovalError extends Error {
  constructor(
    readonly reason: ApprovalErrorReason,
    message: string,
  ) {
    super(message);
    this.name = 'ApprovalError';
  }
}

/** Hex SHA-256 of the RFC 8785 canonical JSON of `args`: what an approval is bound to. */
export function argumentsHash(args: Json): string {
  const text = canonicalize(toJson(args, '/arguments'));
  if (text === undefined) throw new TypeError('arguments are not JSON');
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

export interface ApprovalStoreOptions {
  /** Fallback wake-up polling while calls are held (default 500 ms). */
  pollIntervalMs?: number;
  webhook?: ApprovalWebhook;
  now?: () => number;
  /** Webhook and notification failures (never thrown into callers). */
  onError?: (err: Error) => void;
  /** LISTEN/NOTIFY when the database was opened by openDatabase (default true). */
  listen?: boolean;
  /** How long an answer may take to be recorded before another approver may answer (default 30 s). */
  answerClaimMs?: number;
}

export interface AnswerInput {
  status: 'approved' | 'denied';
  by: { sub: string; groups: string[] };
  reasons?: string[];
}

export interface AnswerOptions {
  /**
   * Runs after this caller has won the right to answer and before the answer takes effect, with the
   * approval as it will read once answered (typically: write the audit event). If it throws, the
   * answer is abandoned, the approval stays pending, and the error is rethrown.
   */
  beforeCommit?: (answered: Approval) => Promise<void>;
}

interface Row {
  id: string;
  status: 'pending' | 'approved' | 'denied' | 'consumed';
  decision_id: string;
  virtual_server: string;
  upstream_server: string;
  tool: string;
  arguments: unknown;
  arguments_hash: string;
  call: unknown;
  requester_sub: string;
  requester_agent: string;
  approvers: unknown;
  reasons: unknown;
  created_at: Date | string;
  expires_at: Date | string;
  answered_by: unknown;
  answered_at: Date | string | null;
  answer_reasons: unknown;
  consumed_at: Date | string | null;
}

const COLUMNS = sql.raw(
  'id, status, decision_id, virtual_server, upstream_server, tool, arguments, arguments_hash, call, requester_sub, requester_agent, approvers, reasons, created_at, expires_at, answered_by, answered_at, answer_reasons, consumed_at',
);
const TABLE = sql.table(APPROVALS_TABLE);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const parsed = (v: unknown): unknown => (typeof v === 'string' ? JSON.parse(v) : v);
const date = (v: Date | string): Date => (v instanceof Date ? v : new Date(v));
const dateOrNull = (v: Date | string | null): Date | null => (v === null ? null : date(v));

function strings(values: unknown, path: string): string[] {
  if (!Array.isArray(values) || !values.every((v) => typeof v === 'string'))
    throw new TypeError(`${path} must be an array of strings`);
  return [...values];
}

function nonEmpty(value: unknown, path: string): string {
  if (typeof value !== 'string' || value === '') throw new TypeError(`${path} must be a non-empty string`);
  return value;
}

interface Waiter {
  id: string;
  /** With the settled approval, or nothing on timeout, abort or close. */
  resolve: (a?: Approval) => void;
}

export class ApprovalStore {
  readonly #db: Kysely<unknown>;
  readonly #options: ApprovalStoreOptions;
  readonly #now: () => number;
  readonly #waiters = new Map<string, Set<Waiter>>();
  readonly #inflight = new Set<Promise<void>>();
  #pollTimer: NodeJS.Timeout | undefined;
  #polling = false;
  #closed = false;
  #unlisten: (() => Promise<void>) | undefined;
  #listener: pg.Client | undefined;
  #reconnectTimer: NodeJS.Timeout | undefined;
  #reconnects = 0;

  private constructor(db: Kysely<unknown>, options: ApprovalStoreOptions) {
    this.#db = db;
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  /** Applies the approvals migrations and starts listening for answers from other replicas. */
  static async open<DB>(db: Kysely<DB>, options: ApprovalStoreOptions = {}): Promise<ApprovalStore> {
    await applyMigrations(db, APPROVAL_MIGRATIONS);
    const store = new ApprovalStore(db as unknown as Kysely<unknown>, options);
    if (options.listen !== false) await store.#listen();
    return store;
  }

  /** Whether answers from other replicas arrive by notification (else only by polling). */
  get listening(): boolean {
    return this.#unlisten !== undefined || this.#listener !== undefined;
  }

  #report(err: unknown): void {
    try {
      this.#options.onError?.(err instanceof Error ? err : new Error(String(err)));
    } catch {
      // a failing reporter must not break the store
    }
  }

  // ------------------------------------------------------------------ notifications

  async #listen(): Promise<void> {
    const handle = databaseHandle(this.#db);
    if (!handle) return; // a kysely instance we did not open: polling only
    if (handle.backend === 'pglite') {
      this.#unlisten = await handle.client.listen(APPROVALS_CHANNEL, (id) => this.#wake(id));
      return;
    }
    // A dedicated connection outside the pool: LISTEN lasts as long as the session.
    const client = new pg.Client(handle.pool.options);
    client.on('notification', (n) => {
      if (n.channel === APPROVALS_CHANNEL && n.payload) this.#wake(n.payload);
    });
    const lost = (err?: Error) => {
      if (this.#listener !== client) return;
      this.#listener = undefined;
      client.removeAllListeners('end');
      client.end().catch(() => {});
      if (err) this.#report(new Error(`approvals: lost the LISTEN connection: ${err.message}`));
      if (this.#closed) return;
      // Anything answered while disconnected is found by the next poll; reconnect meanwhile.
      const delay = Math.min(30_000, 1000 * 2 ** this.#reconnects++);
      this.#reconnectTimer = setTimeout(() => {
        this.#reconnectTimer = undefined;
        this.#listen().catch((e) => this.#report(e));
      }, delay);
      this.#reconnectTimer.unref();
      this.#schedulePoll(0);
    };
    client.on('error', (err) => lost(err));
    client.on('end', () => lost(new Error('connection ended')));
    this.#listener = client;
    try {
      await client.connect();
      await client.query(`LISTEN ${APPROVALS_CHANNEL}`);
      this.#reconnects = 0;
      this.#schedulePoll(0); // whatever was answered before this LISTEN took effect
    } catch (err) {
      lost(err as Error);
    }
  }

  /** An approval changed (here or on another replica): re-read it for whoever waits on it. */
  #wake(id: string): void {
    if (!this.#waiters.has(id)) return;
    this.get(id).then(
      (a) => {
        if (a) this.#settle(a);
      },
      (err) => this.#report(err),
    );
  }

  #settle(a: Approval): void {
    if (a.status === 'pending') return;
    const set = this.#waiters.get(a.id);
    if (!set) return;
    this.#waiters.delete(a.id);
    for (const w of set) w.resolve(a);
  }

  #schedulePoll(delay = this.#options.pollIntervalMs ?? 500): void {
    if (this.#pollTimer || this.#closed || this.#waiters.size === 0) return;
    this.#pollTimer = setTimeout(() => {
      this.#pollTimer = undefined;
      void this.#poll();
    }, delay);
    this.#pollTimer.unref();
  }

  /** One query for every approval someone waits on. */
  async #poll(): Promise<void> {
    if (this.#polling || this.#waiters.size === 0) return;
    this.#polling = true;
    try {
      const ids = [...this.#waiters.keys()];
      const { rows } = await sql<Row>`SELECT ${COLUMNS} FROM ${TABLE} WHERE id = ANY(${ids}::uuid[])`.execute(
        this.#db,
      );
      for (const r of rows) this.#settle(this.#approval(r));
    } catch (err) {
      this.#report(err);
    } finally {
      this.#polling = false;
      this.#schedulePoll();
    }
  }

  // ------------------------------------------------------------------ rows

  #approval(r: Row): Approval {
    const expiresAt = date(r.expires_at);
    const open = r.status === 'pending' || r.status === 'approved';
    const by = parsed(r.answered_by) as { sub: string; groups: string[] } | null;
    return {
      id: r.id,
      status: open && expiresAt.getTime() <= this.#now() ? 'expired' : r.status,
      decisionId: r.decision_id,
      virtual: r.virtual_server,
      upstream: r.upstream_server,
      tool: r.tool,
      arguments: parsed(r.arguments) as Json,
      argumentsHash: r.arguments_hash,
      call: parsed(r.call) as Json,
      requester: { sub: r.requester_sub, agent: r.requester_agent },
      approvers: parsed(r.approvers) as string[],
      reasons: parsed(r.reasons) as string[],
      createdAt: date(r.created_at),
      expiresAt,
      answeredBy: by ? { sub: by.sub, groups: by.groups } : null,
      answeredAt: dateOrNull(r.answered_at),
      answerReasons: (parsed(r.answer_reasons) as string[] | null) ?? [],
      consumedAt: dateOrNull(r.consumed_at),
    };
  }

  #at(): Date {
    return new Date(this.#now());
  }

  // ------------------------------------------------------------------ the contract

  /** Stores a pending approval for the call; fires the webhook without waiting for it. */
  async park(request: ParkRequest): Promise<Approval> {
    const ttl = request.ttlSeconds;
    if (typeof ttl !== 'number' || !Number.isFinite(ttl) || ttl <= 0)
      throw new TypeError(`ttlSeconds must be a positive number, got ${String(ttl)}`);
    const args = toJson(request.arguments, '/arguments');
    const call = toJson(request.call, '/call');
    const approvers = strings(request.approvers, 'approvers');
    const reasons = strings(request.reasons, 'reasons');
    const created = this.#at();
    const expires = new Date(created.getTime() + Math.round(ttl * 1000));
    const { rows } = await sql<Row>`
      INSERT INTO ${TABLE} (id, status, decision_id, virtual_server, upstream_server, tool, arguments,
        arguments_hash, call, requester_sub, requester_agent, approvers, reasons, created_at, expires_at)
      VALUES (${randomUUID()}, 'pending', ${nonEmpty(request.decisionId, 'decisionId')},
        ${nonEmpty(request.virtual, 'virtual')}, ${nonEmpty(request.upstream, 'upstream')},
        ${nonEmpty(request.tool, 'tool')}, ${JSON.stringify(args)}::jsonb, ${argumentsHash(args)},
        ${JSON.stringify(call)}::jsonb, ${nonEmpty(request.requester?.sub, 'requester.sub')},
        ${nonEmpty(request.requester?.agent, 'requester.agent')}, ${JSON.stringify(approvers)}::jsonb,
        ${JSON.stringify(reasons)}::jsonb, ${created}, ${expires})
      RETURNING ${COLUMNS}`.execute(this.#db);
    const approval = this.#approval(rows[0] as Row);
    const hook = this.#options.webhook;
    if (hook) {
      const sent = sendApprovalWebhook(hook, approval).catch((err) => this.#report(err));
      this.#inflight.add(sent);
      void sent.finally(() => this.#inflight.delete(sent));
    }
    return approval;
  }

  async get(id: string): Promise<Approval | undefined> {
    if (!UUID.test(id)) return undefined;
    const { rows } = await sql<Row>`SELECT ${COLUMNS} FROM ${TABLE} WHERE id = ${id}`.execute(this.#db);
    return rows[0] ? this.#approval(rows[0]) : undefined;
  }

  /**
   * Approvals oldest first. `after` is an approval id (the last one of the previous page) or an
   * RFC 3339 time (created after it). `limit` defaults to 50, at most 500.
   */
  async list(filter: { status?: ApprovalStatus; limit?: number; after?: string } = {}): Promise<Approval[]> {
    const now = this.#at();
    const limit = Math.max(1, Math.min(500, Math.trunc(filter.limit ?? 50)));
    const conditions = [sql`TRUE`];
    switch (filter.status) {
      case undefined:
        break;
      case 'pending':
      case 'approved':
        conditions.push(sql`status = ${filter.status} AND expires_at > ${now}`);
        break;
      case 'expired':
        conditions.push(sql`status IN ('pending', 'approved') AND expires_at <= ${now}`);
        break;
      case 'denied':
      case 'consumed':
        conditions.push(sql`status = ${filter.status}`);
        break;
      default:
        throw new TypeError(`unknown approval status ${JSON.stringify(filter.status)}`);
    }
    if (filter.after !== undefined) {
      if (UUID.test(filter.after))
        conditions.push(
          sql`(created_at, id) > (SELECT created_at, id FROM ${TABLE} WHERE id = ${filter.after})`,
        );
      else {
        const t = Date.parse(filter.after);
        if (Number.isNaN(t)) throw new TypeError('after must be an approval id or an RFC 3339 time');
        conditions.push(sql`created_at > ${new Date(t)}`);
      }
    }
    const { rows } = await sql<Row>`
      SELECT ${COLUMNS} FROM ${TABLE} WHERE ${sql.join(conditions, sql` AND `)}
      ORDER BY created_at, id LIMIT ${limit}`.execute(this.#db);
    return rows.map((r) => this.#approval(r));
  }

  #refusal(a: Approval | undefined, id: string): ApprovalError {
    if (!a) return new ApprovalError('unknown', `no approval ${id}`);
    if (a.status === 'expired')
      return new ApprovalError('expired', `approval ${id} expired at ${a.expiresAt.toISOString()}`);
    if (a.status === 'pending')
      return new ApprovalError('answered', `approval ${id} is being answered by someone else`);
    return new ApprovalError('answered', `approval ${id} was already answered (${a.status})`);
  }

  /**
   * Answers a pending, unexpired approval, once. Two steps so that an answer is never half done: first
   * claim the row (it stays pending, so nothing can consume it, and a concurrent answer is refused),
   * then run `beforeCommit` (the audit event), then write the answer and NOTIFY in one transaction.
   * A failing `beforeCommit` releases the claim.
   */
  async answer(id: string, answer: AnswerInput, options: AnswerOptions = {}): Promise<Approval> {
    if (answer.status !== 'approved' && answer.status !== 'denied')
      throw new TypeError(`an answer is approved or denied, not ${JSON.stringify(answer.status)}`);
    const by = { sub: nonEmpty(answer.by?.sub, 'by.sub'), groups: strings(answer.by?.groups, 'by.groups') };
    const answerReasons = strings(answer.reasons ?? [], 'reasons');
    if (!UUID.test(id)) throw new ApprovalError('unknown', `no approval ${id}`);
    const now = this.#at();
    const token = randomUUID();
    const claimUntil = new Date(now.getTime() + (this.#options.answerClaimMs ?? 30_000));
    const claimed = await sql<Row>`
      UPDATE ${TABLE} SET claim_token = ${token}, claim_until = ${claimUntil}
      WHERE id = ${id} AND status = 'pending' AND expires_at > ${now}
        AND (claim_token IS NULL OR claim_until <= ${now})
      RETURNING ${COLUMNS}`.execute(this.#db);
    if (!claimed.rows[0]) throw this.#refusal(await this.get(id), id);
    const answered: Approval = {
      ...this.#approval(claimed.rows[0]),
      status: answer.status,
      answeredBy: by,
      answeredAt: now,
      answerReasons,
    };
    if (options.beforeCommit) {
      try {
        await options.beforeCommit(answered);
      } catch (err) {
        await sql`UPDATE ${TABLE} SET claim_token = NULL, claim_until = NULL WHERE id = ${id} AND claim_token = ${token}`
          .execute(this.#db)
          .catch((e) => this.#report(e)); // the claim lapses by itself at claim_until
        throw err;
      }
    }
    // Deliberately no expiry test here: the claim was taken in time, and consume() checks expiry.
    const rows = await this.#db.transaction().execute(async (tx) => {
      const r = await sql<Row>`
        UPDATE ${TABLE} SET status = ${answer.status}, answered_by = ${JSON.stringify(by)}::jsonb,
          answered_at = ${now}, answer_reasons = ${JSON.stringify(answerReasons)}::jsonb,
          claim_token = NULL, claim_until = NULL
        WHERE id = ${id} AND status = 'pending' AND claim_token = ${token}
        RETURNING ${COLUMNS}`.execute(tx);
      if (r.rows[0]) await sql`SELECT pg_notify(${APPROVALS_CHANNEL}, ${id})`.execute(tx);
      return r.rows;
    });
    if (!rows[0]) throw this.#refusal(await this.get(id), id); // our claim lapsed and someone else answered
    const result = this.#approval(rows[0]);
    this.#settle(result);
    return result;
  }

  /**
   * Marks an approved call as run, once: succeeds only for an approved, unconsumed, unexpired approval
   * whose arguments hash to `hash`. Otherwise says precisely why not.
   */
  async consume(id: string, hash: string): Promise<Approval> {
    if (!UUID.test(id)) throw new ApprovalError('unknown', `no approval ${id}`);
    const now = this.#at();
    const { rows } = await sql<Row>`
      UPDATE ${TABLE} SET status = 'consumed', consumed_at = ${now}
      WHERE id = ${id} AND status = 'approved' AND consumed_at IS NULL AND expires_at > ${now}
        AND arguments_hash = ${hash}
      RETURNING ${COLUMNS}`.execute(this.#db);
    if (rows[0]) return this.#approval(rows[0]);
    const a = await this.get(id);
    if (!a) throw new ApprovalError('unknown', `no approval ${id}`);
    if (a.consumedAt)
      throw new ApprovalError('replayed', `approval ${id} was already used at ${a.consumedAt.toISOString()}`);
    if (a.status === 'denied') throw new ApprovalError('denied', `approval ${id} was denied`);
    if (a.argumentsHash !== hash)
      throw new ApprovalError('edited', `the arguments differ from those approval ${id} was asked for`);
    if (a.status === 'expired')
      throw new ApprovalError('expired', `approval ${id} expired at ${a.expiresAt.toISOString()}`);
    if (a.status === 'pending')
      throw new ApprovalError('pending', `approval ${id} has not been answered yet`);
    // Approved, same hash, not expired, yet the update missed: a concurrent consume won between the two reads.
    throw new ApprovalError('replayed', `approval ${id} was already used`);
  }

  /** The newest open (pending or approved, unconsumed, unexpired) approval for exactly this call. */
  async findOpen(key: {
    sub: string;
    agent: string;
    virtual: string;
    upstream: string;
    tool: string;
    argumentsHash: string;
  }): Promise<Approval | undefined> {
    const { rows } = await sql<Row>`
      SELECT ${COLUMNS} FROM ${TABLE}
      WHERE requester_sub = ${key.sub} AND requester_agent = ${key.agent}
        AND virtual_server = ${key.virtual} AND upstream_server = ${key.upstream} AND tool = ${key.tool}
        AND arguments_hash = ${key.argumentsHash} AND status IN ('pending', 'approved')
        AND expires_at > ${this.#at()}
      ORDER BY created_at DESC, id DESC LIMIT 1`.execute(this.#db);
    return rows[0] ? this.#approval(rows[0]) : undefined;
  }

  /**
   * Resolves once the approval is no longer pending (answered on any replica, or expired), or at the
   * timeout or abort with its state then. Unknown ids reject with ApprovalError('unknown').
   */
  async waitForAnswer(id: string, timeoutMs: number, signal?: AbortSignal): Promise<Approval> {
    const first = await this.get(id);
    if (!first) throw new ApprovalError('unknown', `no approval ${id}`);
    if (first.status !== 'pending' || timeoutMs <= 0 || signal?.aborted || this.#closed) return first;
    const settled = await new Promise<Approval | undefined>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const done = (a: Approval | undefined) => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        const set = this.#waiters.get(id);
        set?.delete(waiter);
        if (set?.size === 0) this.#waiters.delete(id);
        resolve(a);
      };
      const waiter: Waiter = { id, resolve: (a) => done(a) };
      const onAbort = () => done(undefined);
      signal?.addEventListener('abort', onAbort, { once: true });
      timer = setTimeout(() => done(undefined), timeoutMs);
      let set = this.#waiters.get(id);
      if (!set) this.#waiters.set(id, (set = new Set()));
      set.add(waiter);
      this.#schedulePoll();
      // An answer that landed between the first read and registering the waiter.
      this.#wake(id);
    });
    if (settled) return settled;
    if (this.#closed) return first;
    return (await this.get(id)) ?? first;
  }

  /** Stops listening and polling, releases held calls with their current state, awaits webhooks. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#pollTimer);
    clearTimeout(this.#reconnectTimer);
    // Held calls get back the state they last saw (pending): the gateway answers them as still waiting.
    const waiting = [...this.#waiters.values()].flatMap((s) => [...s]);
    for (const w of waiting) w.resolve();
    this.#waiters.clear();
    const unlisten = this.#unlisten;
    this.#unlisten = undefined;
    if (unlisten) await unlisten().catch((err) => this.#report(err));
    const listener = this.#listener;
    this.#listener = undefined;
    if (listener) await listener.end().catch(() => {});
    await Promise.allSettled([...this.#inflight]);
  }
}
