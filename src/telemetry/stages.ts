// The stages of a decided request — authentication, authorization, evaluation, audit commit,
// approval, upstream call — each timed into one Prometheus histogram and, while tracing is on,
// recorded as a span child of the active one. With neither a histogram nor tracing a stage is
// just the call it wraps.
import {
  type Attributes,
  type Context,
  context,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';
import type { Metric, MetricValueWithName, Registry } from 'prom-client';
import { activeTracer } from './tracing.js';

export const STAGES = ['authenticate', 'authorize', 'evaluate', 'audit', 'approval', 'upstream'] as const;
export type Stage = (typeof STAGES)[number];
/** Whose work it was: the MCP gateway, the decision API or the approver API. */
export type Surface = 'gateway' | 'api' | 'approvals';

export const STAGE_METRIC = 'airlock_stage_duration_seconds';

const BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5];

/** One (surface, stage) series: a count per bucket (not cumulative until scraped), sum, count. */
class Series {
  readonly counts = new Float64Array(BUCKETS.length + 1);
  sum = 0;
  count = 0;
  constructor(readonly labels: { surface: Surface; stage: Stage }) {}

  observe(seconds: number): void {
    let i = 0;
    while (i < BUCKETS.length && seconds > BUCKETS[i]!) i++;
    this.counts[i]!++;
    this.sum += seconds;
    this.count++;
  }
}

/**
 * The stage histogram, as a metric of a prom-client registry. Its series are fixed (surface ×
 * stage), so an observation is a bucket scan and three additions: prom-client's own Histogram
 * hashes its labels on every observation, which costs more than the stages it would time.
 */
export class StageHistogram {
  readonly name = STAGE_METRIC;
  readonly help =
    'Time spent in each stage of a request, by surface (gateway, api, approvals) and stage (authenticate, authorize, evaluate, audit, approval, upstream)';
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly #series = new Map<string, Series>();

  /** The series of `surface` and `stage` (created, with zero counts, on first use). */
  series(surface: Surface, stage: Stage): Series {
    const key = `${surface}/${stage}`;
    let s = this.#series.get(key);
    if (!s) this.#series.set(key, (s = new Series({ surface, stage })));
    return s;
  }

  async get(): Promise<{
    name: string;
    help: string;
    type: string;
    aggregator: string;
    values: MetricValueWithName<string>[];
  }> {
    const values: MetricValueWithName<string>[] = [];
    for (const s of this.#series.values()) {
      let cumulative = 0;
      for (let i = 0; i <= BUCKETS.length; i++) {
        cumulative += s.counts[i]!;
        values.push({
          metricName: `${STAGE_METRIC}_bucket`,
          labels: { le: i < BUCKETS.length ? BUCKETS[i]! : '+Inf', ...s.labels },
          value: cumulative,
        });
      }
      values.push({ metricName: `${STAGE_METRIC}_sum`, labels: { ...s.labels }, value: s.sum });
      values.push({ metricName: `${STAGE_METRIC}_count`, labels: { ...s.labels }, value: s.count });
    }
    return {
      name: this.name,
      help: this.help,
      type: this.type as never,
      aggregator: this.aggregator,
      values,
    };
  }

  reset(): void {
    for (const s of this.#series.values()) {
      s.counts.fill(0);
      s.sum = 0;
      s.count = 0;
    }
  }
}

/** The stage histogram of `registry`, registered on first use (the gateway and the API share it). */
export function stageHistogram(registry: Registry): StageHistogram {
  const existing = registry.getSingleMetric(STAGE_METRIC);
  if (existing instanceof StageHistogram) return existing;
  const histogram = new StageHistogram();
  registry.registerMetric(histogram as unknown as Metric);
  return histogram;
}

export interface StageOptions {
  /** Span name (default `airlock.<stage>`). */
  name?: string;
  kind?: SpanKind;
  /** The parent (default: the active context). */
  parent?: Context | undefined;
  /** Span attributes, computed only while tracing is on. */
  attributes?: () => Attributes;
}

/** A low-cardinality name for what was thrown: its class name, never its message. */
export function errorType(err: unknown): string {
  return err instanceof Error ? err.name : typeof err;
}

export class Stages {
  readonly #timers = new Map<Stage, { observe(seconds: number): void }>();

  constructor(
    readonly surface: Surface,
    histogram?: StageHistogram | undefined,
  ) {
    if (histogram) for (const stage of STAGES) this.#timers.set(stage, histogram.series(surface, stage));
  }

  /** Runs `fn` as `stage`; `fn` gets the stage's span (undefined while tracing is off) to annotate. */
  run<T>(stage: Stage, fn: (span: Span | undefined) => Promise<T>, options?: StageOptions): Promise<T> {
    const tracer = activeTracer();
    const timer = this.#timers.get(stage);
    if (!tracer && !timer) return fn(undefined);
    const started = performance.now();
    const observe = () => timer?.observe((performance.now() - started) / 1000);
    // One reaction, not `finally` (which costs two more turns of the microtask queue).
    if (!tracer)
      return fn(undefined).then(
        (value) => {
          observe();
          return value;
        },
        (err: unknown) => {
          observe();
          throw err;
        },
      );
    const parent = options?.parent ?? context.active();
    const span = tracer.startSpan(
      options?.name ?? `airlock.${stage}`,
      {
        kind: options?.kind ?? SpanKind.INTERNAL,
        attributes: { 'airlock.stage': stage, ...options?.attributes?.() },
      },
      parent,
    );
    return context.with(trace.setSpan(parent, span), async () => {
      try {
        return await fn(span);
      } catch (err) {
        span.setStatus({ code: SpanStatusCode.ERROR });
        span.setAttribute('error.type', errorType(err));
        throw err;
      } finally {
        span.end();
        observe();
      }
    });
  }
}
