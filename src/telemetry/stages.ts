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
import { Histogram, type Registry } from 'prom-client';
import { activeTracer } from './tracing.js';

export const STAGES = ['authenticate', 'authorize', 'evaluate', 'audit', 'approval', 'upstream'] as const;
export type Stage = (typeof STAGES)[number];
/** Which listener's work it was: the MCP gateway or the decision API. */
export type Surface = 'gateway' | 'api';

export const STAGE_METRIC = 'airlock_stage_duration_seconds';

export type StageHistogram = Histogram<'surface' | 'stage'>;

/** The stage histogram of `registry`, created on first use (the gateway and the API share it). */
export function stageHistogram(registry: Registry): StageHistogram {
  const existing = registry.getSingleMetric(STAGE_METRIC);
  if (existing) return existing as StageHistogram;
  return new Histogram({
    name: STAGE_METRIC,
    help: 'Time spent in each stage of a request, by surface (gateway, api) and stage (authenticate, authorize, evaluate, audit, approval, upstream)',
    labelNames: ['surface', 'stage'] as const,
    buckets: [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5],
    registers: [registry],
  });
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
    if (histogram) for (const stage of STAGES) this.#timers.set(stage, histogram.labels({ surface, stage }));
  }

  /** Runs `fn` as `stage`; `fn` gets the stage's span (undefined while tracing is off) to annotate. */
  run<T>(stage: Stage, fn: (span: Span | undefined) => Promise<T>, options?: StageOptions): Promise<T> {
    const tracer = activeTracer();
    const timer = this.#timers.get(stage);
    if (!tracer && !timer) return fn(undefined);
    const started = performance.now();
    const observe = () => timer?.observe((performance.now() - started) / 1000);
    if (!tracer) return fn(undefined).finally(observe);
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
