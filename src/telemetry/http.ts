// Server spans for HTTP requests (fastify) and the W3C trace context of outgoing requests. Nothing
// is installed or injected while tracing is off.
//
// A request's span starts in an onRequest hook, from the caller's `traceparent`/`tracestate` when
// it sent them, and ends when the response is closed (also for replies the handler takes over, as
// the MCP transport does). Hooks that run before the handler (authentication) name it as their
// parent explicitly (requestContext); the handler itself runs inside it, so everything it awaits
// is parented without being told.
import {
  type Attributes,
  type Context,
  context,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';
import type { FastifyInstance, FastifyRequest, RouteHandlerMethod } from 'fastify';
import { activeTracer } from './tracing.js';

interface Traced {
  span: Span;
  context: Context;
}

const traced = new WeakMap<FastifyRequest, Traced>();

export interface RequestTracing {
  /** Requests not traced (health probes, metrics scrapes). */
  ignore?: (path: string) => boolean;
  /** The span's name and attributes once the body is parsed (default `{method} {route}`). */
  describe?: (request: FastifyRequest) => { name: string; attributes?: Attributes } | undefined;
}

/** Traces every request of `app` (and of the plugins registered on it afterwards). */
export function traceRequests(app: FastifyInstance, options: RequestTracing = {}): void {
  const tracer = activeTracer();
  if (!tracer) return;
  app.addHook('onRequest', async (request, reply) => {
    const path = request.url.split('?', 1)[0] ?? '';
    if (options.ignore?.(path)) return;
    const parent = propagation.extract(ROOT_CONTEXT, request.headers);
    const span = tracer.startSpan(
      request.method,
      { kind: SpanKind.SERVER, attributes: { 'http.request.method': request.method } },
      parent,
    );
    traced.set(request, { span, context: trace.setSpan(parent, span) });
    reply.raw.once('close', () => {
      const status = reply.raw.statusCode;
      span.setAttribute('http.response.status_code', status);
      if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      if (!reply.raw.writableFinished) span.setAttribute('airlock.response_aborted', true);
      span.end();
    });
  });
  app.addHook('onRoute', (route) => {
    const handler = route.handler as RouteHandlerMethod;
    route.handler = function (this: FastifyInstance, request, reply) {
      const t = traced.get(request);
      if (!t) return handler.call(this, request, reply);
      const described = options.describe?.(request);
      t.span.setAttribute('http.route', route.url);
      t.span.updateName(described?.name ?? `${request.method} ${route.url}`);
      if (described?.attributes) t.span.setAttributes(described.attributes);
      return context.with(t.context, () => handler.call(this, request, reply));
    };
  });
}

/** The trace context of `request`'s span, for work done before its handler runs. */
export function requestContext(request: FastifyRequest): Context | undefined {
  return traced.get(request)?.context;
}

/** `request`'s span, to annotate (undefined when not traced). */
export function requestSpan(request: FastifyRequest): Span | undefined {
  return traced.get(request)?.span;
}

/** The active span, when tracing is on. */
export function activeSpan(): Span | undefined {
  return activeTracer() ? trace.getActiveSpan() : undefined;
}

/** `traceparent` (and `tracestate`) of the active span for an outgoing request; undefined when off. */
export function traceHeaders(): Record<string, string> | undefined {
  if (!activeTracer()) return undefined;
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return Object.keys(carrier).length > 0 ? carrier : undefined;
}
