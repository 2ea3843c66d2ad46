// OpenTelemetry traces and stage histograms (docs/telemetry.md).
export { AsyncContextManager } from './context.js';
export {
  activeSpan,
  type RequestTracing,
  requestContext,
  requestSpan,
  traceHeaders,
  traceRequests,
} from './http.js';
export { callerAttributes, describeMcpRequest, markRpcError } from './mcp.js';
export { activeContext, type SpanOptions, traced } from './spans.js';
export {
  errorType,
  STAGE_METRIC,
  STAGES,
  type Stage,
  type StageHistogram,
  type StageOptions,
  Stages,
  type Surface,
  stageHistogram,
} from './stages.js';
export {
  activeTracer,
  checkEndpoint,
  startTracing,
  TRACER_NAME,
  type Tracing,
  type TracingOptions,
  tracingEnabled,
} from './tracing.js';
