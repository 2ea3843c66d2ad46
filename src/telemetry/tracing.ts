// Tracing on or off for the whole process. Off (the default) nothing is registered with the
// OpenTelemetry API, which then hands out no-op tracers, and Airlock's own span helpers
// (stages.ts, http.ts) skip the API altogether: no span, no context, no propagation. On, spans are
// batched and sent as OTLP/JSON over HTTP to the configured collector; the W3C trace context
// (`traceparent`, `tracestate`) is read from callers and written to HTTP upstreams.
import { context, propagation, type Tracer, trace } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
} from '@opentelemetry/sdk-trace-base';
import { AsyncContextManager } from './context.js';

export interface TracingOptions {
  /** The collector's OTLP/HTTP traces URL, e.g. http://127.0.0.1:4318/v1/traces. */
  endpoint: string;
  /** Headers sent with every export (a vendor's API key, say), already resolved. Never logged. */
  headers?: Record<string, string> | undefined;
  serviceName?: string | undefined;
  serviceVersion?: string | undefined;
  /** Share of new traces recorded (0..1, default 1). A caller's sampled flag is followed. */
  sampleRatio?: number | undefined;
  /** Longest wait between a span's end and its export (default 2000 ms). */
  exportDelayMs?: number | undefined;
  /** Bound on one export request (default 10000 ms). */
  timeoutMs?: number | undefined;
}

export interface Tracing {
  /** Exports every span ended so far. */
  flush(): Promise<void>;
  /** Exports what is left, then unregisters everything (tracing is off again). */
  shutdown(): Promise<void>;
}

export const TRACER_NAME = 'airlock';

let current: { tracer: Tracer; provider: BasicTracerProvider } | undefined;

/** The tracer while tracing is on; undefined when it is off (the helpers then do nothing). */
export function activeTracer(): Tracer | undefined {
  return current?.tracer;
}

/** Whether a tracer provider is registered by Airlock in this process. */
export function tracingEnabled(): boolean {
  return current !== undefined;
}

/** Checks an endpoint: http(s), no credentials in the URL (they belong in `headers`). */
export function checkEndpoint(endpoint: string): string | undefined {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    return `not a URL: ${JSON.stringify(endpoint)}`;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'must be an http or https URL';
  if (url.username || url.password)
    return 'must not carry credentials in the URL: send them as telemetry.traces.headers';
  return undefined;
}

/** Turns tracing on for this process. Throws when it is already on or the endpoint is unusable. */
export function startTracing(options: TracingOptions): Tracing {
  if (current) throw new Error('tracing is already started in this process');
  const bad = checkEndpoint(options.endpoint);
  if (bad) throw new Error(`telemetry.traces.endpoint ${bad}`);
  const exporter = new OTLPTraceExporter({
    url: options.endpoint,
    headers: { ...options.headers },
    timeoutMillis: options.timeoutMs ?? 10_000,
  });
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({
      'service.name': options.serviceName ?? 'airlock',
      ...(options.serviceVersion ? { 'service.version': options.serviceVersion } : {}),
    }),
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(options.sampleRatio ?? 1) }),
    spanProcessors: [
      new BatchSpanProcessor(exporter, {
        scheduledDelayMillis: options.exportDelayMs ?? 2000,
        exportTimeoutMillis: options.timeoutMs ?? 10_000,
      }),
    ],
  });
  const manager = new AsyncContextManager();
  context.setGlobalContextManager(manager);
  trace.setGlobalTracerProvider(provider);
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  const state = { tracer: provider.getTracer(TRACER_NAME, options.serviceVersion), provider };
  current = state;
  return {
    flush: () => provider.forceFlush(),
    async shutdown() {
      if (current !== state) return;
      current = undefined;
      try {
        await provider.shutdown();
      } finally {
        trace.disable();
        context.disable();
        propagation.disable();
      }
    },
  };
}
