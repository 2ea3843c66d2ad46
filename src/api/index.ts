// The decision service: OPA Data API, AuthZEN, native decisions, live data writes, health, metrics.
export {
  AdminAuthError,
  type AdminAuthenticator,
  type AdminCaller,
  anyAuthenticator,
  identityAuthenticator,
  type StaticAdminToken,
  staticTokenAuthenticator,
} from './admin.js';
export { type ApiOptions, buildApi, DEFAULT_ADDR, type DecisionApi, parseAddr } from './app.js';
export { authzenInput } from './authzen.js';
export { type BodyLimits, DEFAULT_BODY_LIMITS } from './body.js';
export { Decider, type Decision, publicEvaluationError } from './decider.js';
export {
  type AuditRecorder,
  auditDecisionLog,
  type DataChangeRecord,
  type DecisionLog,
  type DecisionRecord,
  decisionEvent,
} from './decision-log.js';
export { decisionValidators } from './decisions.js';
export {
  DEFAULT_HTTP_ENTRYPOINT,
  type ForwardAuthOptions,
  forwardAuthPlugin,
  type HttpDecision,
} from './forward-auth.js';
export {
  FORWARD_AUTH_PATH,
  type OriginalRequest,
  OriginalRequestError,
  originalRequest,
  type ProxyStyle,
} from './forward-auth-request.js';
export { type Check, type HealthOptions, healthPlugin, metricsPlugin, readiness } from './health.js';
export {
  frameworkErrors,
  hygieneFastifyOptions,
  hygienicLogger,
  installRequestHygiene,
  redactUrl,
  requestLogSerializers,
} from './hygiene.js';
