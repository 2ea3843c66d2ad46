// Spans for work that is not a stage of a decided request: the approval webhook, bundle polls,
// server→client requests relayed during a call. Off (no tracer), `traced` is the call it wraps.
import {
  type Attributes,
  type Context,
  context,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';
import { errorType } from './stages.js';
import { activeTracer } from './tracing.js';

export interface SpanOptions {
  kind?: SpanKind;
  /** The parent: a context, `'root'` for a new trace, or (default) the active context. */
  parent?: Context | 'root' | undefined;
  /** Attributes, computed only while tracing is on. */
  attributes?: () => Attributes;
  /** What a thrown error records as `error.type` (default: its class name). */
  errorType?: (err: unknown) => string;
}

/** Runs `fn` inside a span named `name`; `fn` gets the span (undefined while tracing is off). */
export function traced<T>(
  name: string,
  fn: (span: Span | undefined) => Promise<T>,
  options: SpanOptions = {},
): Promise<T> {
  const tracer = activeTracer();
  if (!tracer) return fn(undefined);
  const parent = options.parent === 'root' ? ROOT_CONTEXT : (options.parent ?? context.active());
  const span = tracer.startSpan(
    name,
    {
      kind: options.kind ?? SpanKind.INTERNAL,
      ...(options.attributes ? { attributes: options.attributes() } : {}),
    },
    parent,
  );
  return context.with(trace.setSpan(parent, span), async () => {
    try {
      return await fn(span);
    } catch (err) {
      span.setStatus({ code: SpanStatusCode.ERROR });
      span.setAttribute('error.type', (options.errorType ?? errorType)(err));
      throw err;
    } finally {
      span.end();
    }
  });
}

/** The active context while tracing is on (to parent later work explicitly); undefined when off. */
export function activeContext(): Context | undefined {
  return activeTracer() ? context.active() : undefined;
}
