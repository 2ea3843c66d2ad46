// The MCP gateway: Streamable HTTP fronts per virtual server, policy decisions executed, audited.
export { APPROVAL_META_KEY, type PendingNotice } from './approval-flow.js';
export { TEST_PRINCIPAL_HEADER, type TestCaller } from './caller.js';
export {
  type GatewayConfig,
  GatewayConfigError,
  parseGatewayConfig,
  type UpstreamConfig,
  type VirtualServerConfig,
} from './config.js';
export { DECISION_ENTRYPOINT, type Decision, DecisionError } from './decision.js';
export { GatewayError, GatewayErrorCode } from './errors.js';
export { DECISION_META_KEY, Gateway, type GatewayOptions, NAME_SEPARATOR } from './gateway.js';
export { MAX_NAME_LENGTH, NameConflictError } from './names.js';
export { type HttpSettings, originGuardPlugin } from './origin-guard.js';
export { gatewayPlugin } from './plugin.js';
export { MASK } from './redact.js';
