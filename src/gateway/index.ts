// The MCP gateway: Streamable HTTP fronts per virtual server, policy decisions executed, audited.
export {
  type GatewayConfig,
  GatewayConfigError,
  parseGatewayConfig,
  type UpstreamConfig,
  type VirtualServerConfig,
} from './config.js';
export { DECISION_ENTRYPOINT, type Decision, DecisionError } from './decision.js';
export { GatewayError, GatewayErrorCode } from './errors.js';
export {
  Gateway,
  type GatewayOptions,
  gatewayPlugin,
  type Principal,
  TEST_PRINCIPAL_HEADER,
  TOOL_SEPARATOR,
} from './gateway.js';
export { MASK } from './redact.js';
