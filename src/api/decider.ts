// One decision, whichever surface asked: evaluate, log to the audit trail, count. Shared by the OPA
// Data API, AuthZEN and the native API.
import { randomUUID } from 'node:crypto';
import { isObject } from '../engine/data-tree.js';
import { type Engine, EvaluationError } from '../engine/index.js';
import { Stages } from '../telemetry/index.js';
import type { DecisionLog, DecisionRecord } from './decision-log.js';
import type { ApiMetrics } from './metrics.js';

export interface Decision {
  decisionId: string;
  defined: boolean;
  result?: unknown;
  revision: string | null;
  /** Set when evaluation failed: the caller must deny. */
  error?: EvaluationError;
  evalNs: number;
}

/** The authenticated API caller who asked (recorded as `requested_by`, apart from the input's claimed user). */
export interface RequestedBy {
  sub: string;
  via: string;
}

export interface DeciderOptions {
  engine: Engine;
  log?: DecisionLog | undefined;
  /** `sync` (default): a decision that was not logged is an error; `background`: log without waiting; `off`. */
  logMode?: 'sync' | 'background' | 'off';
  metrics: ApiMetrics;
  onLogError?: (err: Error) => void;
  /** An unexpected (non-EvaluationError) failure: logged, while the client sees only that evaluation failed. */
  onEvalError?: (err: Error) => void;
}

/** The effect label for metrics: the decision object's effect, or defined/undefined/error. */
export function effectLabel(d: Pick<Decision, 'defined' | 'result' | 'error'>): string {
  if (d.error) return 'error';
  if (!d.defined) return 'undefined';
  const r = d.result as { effect?: unknown } | null;
  if (
    r &&
    typeof r === 'object' &&
    typeof r.effect === 'string' &&
    ['allow', 'deny', 'redact', 'require_approval'].includes(r.effect)
  )
    return r.effect;
  return 'defined';
}

/** Forward-auth results: allow only for `allow: true`. */
function httpEffectLabel(d: Pick<Decision, 'defined' | 'result' | 'error'>): string {
  if (d.error) return 'error';
  if (!d.defined) return 'undefined';
  const r = d.result as { allow?: unknown } | null;
  return r && typeof r === 'object' && r.allow === true ? 'allow' : 'deny';
}

/** Absolute file paths in front of a `.rego` file name (host paths of the machine that built the bundle). */
const HOST_PATH = /(?<![\w.])(?:[A-Za-z]:)?[\\/](?:[^\s:\\/]+[\\/])*([^\s:\\/]+\.rego)(?=:\d)/g;

/**
 * An evaluation error as clients may see it: the rule's location stays (`decision.rego:25:13`), a host
 * path in front of the file name goes; an error that is not an EvaluationError says only that
 * evaluation failed (its text is internal).
 */
export function publicEvaluationError(err: unknown): EvaluationError {
  if (!(err instanceof EvaluationError)) return new EvaluationError('policy evaluation failed');
  const message = err.message.replace(HOST_PATH, '$1');
  return message === err.message ? err : new EvaluationError(message, err.code);
}

export class DecisionLogError extends Error {
  constructor(cause: unknown) {
    super(
      `the decision could not be recorded in the audit trail: ${(cause as Error)?.message ?? String(cause)}`,
      { cause },
    );
    this.name = 'DecisionLogError';
  }
}

export class Decider {
  readonly #stages: Stages;

  constructor(readonly options: DeciderOptions) {
    this.#stages = new Stages('api', options.metrics.stages);
  }

  get engine(): Engine {
    return this.options.engine;
  }

  /** Evaluates `path` (entrypoint or data path) and logs it. Throws DecisionLogError when a sync log fails. */
  async decide(
    api: DecisionRecord['api'],
    path: readonly string[],
    input: unknown,
    requestedBy?: RequestedBy | null,
  ): Promise<Decision> {
    const decisionId = randomUUID();
    const started = process.hrtime.bigint();
    const decision = await this.#stages.run(
      'evaluate',
      async (span) => {
        let d: Decision;
        try {
          const r = await this.options.engine.query(path, input);
          d = { decisionId, defined: r.defined, result: r.result, revision: r.revision, evalNs: 0 };
        } catch (err) {
          if (!(err instanceof EvaluationError)) this.options.onEvalError?.(err as Error);
          const error = publicEvaluationError(err);
          d = {
            decisionId,
            defined: false,
            revision: this.options.engine.bundle?.revision ?? null,
            error,
            evalNs: 0,
          };
        }
        span?.setAttributes({
          'airlock.effect': api === 'http' ? httpEffectLabel(d) : effectLabel(d),
          ...(d.revision ? { 'airlock.bundle_revision': d.revision } : {}),
        });
        return d;
      },
      {
        attributes: () => ({
          'airlock.api': api,
          'airlock.path': path.join('/'),
          'airlock.decision_id': decisionId,
        }),
      },
    );
    decision.evalNs = Number(process.hrtime.bigint() - started);
    this.options.metrics.decisions.inc({
      api,
      effect: api === 'http' ? httpEffectLabel(decision) : effectLabel(decision),
    });
    const log = this.options.log;
    const mode = this.options.logMode ?? 'sync';
    if (log && mode !== 'off') {
      const record: DecisionRecord = {
        decisionId,
        api,
        path: path.join('/'),
        // An input refused for its size is recorded without its arguments, which made it too large.
        input:
          decision.error?.code === 'input_too_large' && isObject(input)
            ? { ...input, arguments: null }
            : input,
        defined: decision.defined,
        result: decision.result,
        revision: decision.revision,
        evalMs: decision.evalNs / 1e6,
        ...(decision.error ? { error: decision.error.message } : {}),
        ...(requestedBy ? { requestedBy: { sub: requestedBy.sub, via: requestedBy.via } } : {}),
      };
      const written = this.#stages.run('audit', () => log.decision(record), {
        attributes: () => ({ 'airlock.audit.kind': 'decision', 'airlock.audit.mode': mode }),
      });
      if (mode === 'sync') {
        try {
          await written;
        } catch (err) {
          this.options.onLogError?.(err as Error);
          throw new DecisionLogError(err);
        }
      } else written.catch((err) => this.options.onLogError?.(err as Error));
    }
    return decision;
  }
}
