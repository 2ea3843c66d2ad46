// Live data: the part of `data` written at run time through the Data API (revocations, role changes),
// under roots the bundle does not own. Persisted in the database (Postgres or PGlite, the audit
// store's connection) so that restarts and other replicas see it; applied to the engine immediately
// on the replica that wrote it. Other replicas poll by version every `pollIntervalMs`, and with
// `checkBeforeEvaluation` (serve on Postgres) look for newer versions before every evaluation, so a
// write is obeyed by the very next decision on any replica (docs/api.md, "Live data across replicas").
import { type Kysely, sql } from 'kysely';
import { getAt, isObject } from './data-tree.js';
import type { Engine } from './engine.js';
import { applyPatch, PatchError, type PatchOperation } from './json-patch.js';
import { migrateEngine } from './migrations.js';

export type DataChange =
  | { op: 'put'; path: string[]; value: unknown }
  | { op: 'patch'; path: string[]; patch: PatchOperation[] }
  | { op: 'delete'; path: string[] };

/** Why a write was refused; `status` is the HTTP status OPA uses for it. */
export class DataWriteError extends Error {
  constructor(
    message: string,
    readonly code: 'invalid_parameter' | 'resource_not_found' | 'resource_conflict',
    readonly status: number,
  ) {
    super(message);
    this.name = 'DataWriteError';
  }
}

export interface LiveDataOptions {
  /** How often to look for writes by other replicas (default 1000 ms; 0: never). */
  pollIntervalMs?: number;
  /**
   * Before every evaluation, read the versions written since the last look (one round trip, shared
   * by the evaluations waiting for it); an evaluation whose look fails fails closed. For databases
   * other processes write too (Postgres); pointless on PGlite, which one process owns.
   */
  checkBeforeEvaluation?: boolean;
  onError?: (err: Error) => void;
}

interface Row {
  root: string;
  value: unknown;
  version: string | number;
}

export class LiveData {
  readonly #db: Kysely<unknown>;
  readonly #engine: Engine;
  readonly #options: LiveDataOptions;
  #doc: Record<string, unknown> = {};
  #version = 0;
  #timer: NodeJS.Timeout | undefined;
  #writes: Promise<unknown> = Promise.resolve();
  /** The last look sent (or settled). */
  #looking: Promise<boolean> = Promise.resolve(false);
  /** The next look, not sent yet: callers join it, since its read starts after they asked. */
  #waiting: Promise<boolean> | undefined;
  /** Looks sent so far; a look's number is its place in that count (see mark()). */
  #sent = 0;
  /** The number of the latest look that succeeded. */
  #okSeq = 0;
  /** The look in flight, with its number. */
  #inflight: { seq: number; promise: Promise<boolean> } | undefined;

  private constructor(db: Kysely<unknown>, engine: Engine, options: LiveDataOptions) {
    this.#db = db;
    this.#engine = engine;
    this.#options = options;
  }

  /** Migrates the table, loads the live document into the engine, starts polling. */
  static async open<DB>(db: Kysely<DB>, engine: Engine, options: LiveDataOptions = {}): Promise<LiveData> {
    await migrateEngine(db);
    const live = new LiveData(db as unknown as Kysely<unknown>, engine, options);
    await live.refresh();
    live.#schedule();
    if (options.checkBeforeEvaluation) engine.setFreshnessCheck(live);
    return live;
  }

  get document(): Record<string, unknown> {
    return this.#doc;
  }

  get version(): number {
    return this.#version;
  }

  #schedule(): void {
    const every = this.#options.pollIntervalMs ?? 1000;
    if (every <= 0) return;
    this.#timer = setTimeout(async () => {
      try {
        await this.refresh();
      } catch (err) {
        this.#options.onError?.(err as Error);
      }
      this.#schedule();
    }, every);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#options.checkBeforeEvaluation) this.#engine.setFreshnessCheck(undefined);
  }

  /**
   * How many looks have been sent: a look numbered above a mark was sent after the mark was taken,
   * so it saw every write committed before then. Evaluations of one request pass the mark taken at
   * its first (`refresh(mark)`) and share one look instead of one each.
   */
  mark(): number {
    return this.#sent;
  }

  /**
   * Makes sure a look sent after `since` (a mark; by default now) has applied the rows changed
   * before it; true when one had rows to apply. Reads go one at a time (rows apply in version
   * order); a look not sent yet is shared by every caller that asks meanwhile.
   */
  refresh(since = this.#sent): Promise<boolean> {
    if (this.#okSeq > since) return Promise.resolve(false);
    const inflight = this.#inflight;
    if (inflight && inflight.seq > since) return inflight.promise;
    if (this.#waiting) return this.#waiting;
    const next = this.#looking
      .catch(() => false)
      .then(() => {
        this.#waiting = undefined;
        const seq = ++this.#sent;
        const promise = this.#look().then((changed) => {
          if (seq > this.#okSeq) this.#okSeq = seq;
          return changed;
        });
        this.#inflight = { seq, promise };
        return promise;
      });
    this.#waiting = next;
    this.#looking = next;
    return next;
  }

  async #look(): Promise<boolean> {
    const { rows } =
      await sql<Row>`SELECT root, value, version FROM airlock_live_data WHERE version > ${this.#version} ORDER BY version`.execute(
        this.#db,
      );
    if (rows.length === 0) return false;
    this.#applyRows(rows);
    return true;
  }

  #applyRows(rows: readonly Row[]): void {
    const doc = { ...this.#doc };
    for (const r of rows) {
      const value = typeof r.value === 'string' ? JSON.parse(r.value) : r.value;
      if (value === null || value === undefined) delete doc[r.root];
      else doc[r.root] = value;
      this.#version = Math.max(this.#version, Number(r.version));
    }
    this.#doc = doc;
    this.#engine.setLiveData(doc);
  }

  /**
   * Applies one write: checks it against the bundle's roots, persists it (one transaction, table
   * locked so concurrent writers serialise), and applies it to the engine before resolving.
   */
  write(change: DataChange, by: string | null): Promise<{ version: number }> {
    const run = this.#writes.then(() => this.#write(change, by));
    this.#writes = run.catch(() => {});
    return run;
  }

  async #write(change: DataChange, by: string | null): Promise<{ version: number }> {
    const path = change.path;
    if (change.op !== 'patch' && path.length === 0)
      throw new DataWriteError(
        'writing the whole data document is not allowed: name a path under /v1/data/',
        'invalid_parameter',
        400,
      );
    const rows = await this.#db.transaction().execute(async (tx) => {
      await sql`LOCK TABLE airlock_live_data IN EXCLUSIVE MODE`.execute(tx);
      const current =
        await sql<Row>`SELECT root, value, version FROM airlock_live_data WHERE value IS NOT NULL`.execute(
          tx,
        );
      const before: Record<string, unknown> = {};
      for (const r of current.rows)
        before[r.root] = typeof r.value === 'string' ? JSON.parse(r.value) : r.value;
      const after = this.#change(before, change);
      const touched = new Set<string>();
      for (const k of new Set([...Object.keys(before), ...Object.keys(after)]))
        if (JSON.stringify(before[k]) !== JSON.stringify(after[k])) touched.add(k);
      for (const k of touched) {
        const sub = path.length === 0 ? [k] : path;
        if (this.#engine.ownsPath(sub))
          throw new DataWriteError(
            `path /${sub.join('/')} is owned by the active bundle (roots: ${(this.#engine.bundle?.roots ?? []).join(', ')}); live data must be written under other roots`,
            'invalid_parameter',
            400,
          );
      }
      const written: Row[] = [];
      for (const k of touched) {
        const value = after[k] === undefined ? null : JSON.stringify(after[k]);
        const r = await sql<Row>`
          INSERT INTO airlock_live_data (root, value, version, updated_at, updated_by)
          VALUES (${k}, ${value}::jsonb, nextval('airlock_live_data_version'), now(), ${by})
          ON CONFLICT (root) DO UPDATE SET value = EXCLUDED.value, version = EXCLUDED.version,
            updated_at = EXCLUDED.updated_at, updated_by = EXCLUDED.updated_by
          RETURNING root, value, version`.execute(tx);
        written.push(...r.rows);
      }
      return written;
    });
    // Rows other replicas wrote meanwhile are picked up too, so versions stay contiguous.
    if (rows.length > 0) await this.refresh();
    return { version: this.#version };
  }

  #change(before: Record<string, unknown>, change: DataChange): Record<string, unknown> {
    const path = change.path;
    switch (change.op) {
      case 'put':
        return setAt(before, path, change.value);
      case 'delete': {
        if (getAt(before, path) === undefined)
          throw new DataWriteError(
            `storage_not_found_error: /${path.join('/')}: document does not exist`,
            'resource_not_found',
            404,
          );
        return deleteAt(before, path);
      }
      case 'patch': {
        const current = getAt(before, path);
        let next: unknown;
        try {
          next = applyPatch(current, change.patch);
        } catch (err) {
          if (err instanceof PatchError) throw new DataWriteError(err.message, 'invalid_parameter', 400);
          throw err;
        }
        if (path.length === 0) {
          if (!isObject(next))
            throw new DataWriteError('the data document must stay an object', 'invalid_parameter', 400);
          return next;
        }
        return next === undefined ? deleteAt(before, path) : setAt(before, path, next);
      }
    }
  }
}

/** `doc` with `value` at `path`, creating objects along the way (as OPA's PUT does). */
function setAt(
  doc: Record<string, unknown>,
  path: readonly string[],
  value: unknown,
): Record<string, unknown> {
  const [head, ...rest] = path;
  if (head === undefined) {
    if (!isObject(value))
      throw new DataWriteError('the data document must be an object', 'invalid_parameter', 400);
    return value;
  }
  if (rest.length === 0) return { ...doc, [head]: value };
  const child = doc[head];
  if (child !== undefined && !isObject(child))
    throw new DataWriteError(
      `/${head} holds a ${Array.isArray(child) ? 'array' : typeof child}, not an object`,
      'resource_conflict',
      409,
    );
  return { ...doc, [head]: setAt(child ?? {}, rest, value) };
}

function deleteAt(doc: Record<string, unknown>, path: readonly string[]): Record<string, unknown> {
  const [head, ...rest] = path;
  if (head === undefined) return {};
  if (rest.length === 0) {
    const out = { ...doc };
    delete out[head];
    return out;
  }
  const child = doc[head];
  if (!isObject(child)) return doc;
  return { ...doc, [head]: deleteAt(child, rest) };
}
