// JSON-RPC error codes the gateway answers with (docs/gateway.md says why each). Codes in the
// implementation-defined range -32000…-32099, avoiding -32002, which the MCP specification gives to
// "resource not found".
import { ErrorCode } from '@modelcontextprotocol/sdk/types.js';

export const GatewayErrorCode = {
  /** Unknown or hidden tool, resource or prompt: the code and message the SDK's own servers use. */
  NotFound: ErrorCode.InvalidParams,
  /** Arguments larger than the engine's input limits (engine.input_limits): refused, nothing forwarded. */
  InvalidParams: ErrorCode.InvalidParams,
  /** Malformed request (e.g. nested deeper than the limit). */
  InvalidRequest: ErrorCode.InvalidRequest,
  /** The policy denied the call. */
  Denied: -32001,
  /** No usable decision, identity or credential failure, or the audit record failed: fail closed. */
  PolicyUnavailable: -32003,
  /** The upstream server failed or timed out. */
  UpstreamFailed: -32004,
  /** The call waits for a human approval: `data.approval_id`, `data.expires_at`. */
  ApprovalPending: -32010,
  /** The approval named or found cannot run this call: `data.reason` (denied, expired, replayed, edited, unknown). */
  ApprovalRefused: -32011,
  /** Too many calls of this agent in flight. */
  LimitExceeded: -32012,
} as const;

/**
 * An error the MCP SDK turns into a JSON-RPC error object `{code, message, data}` as is (the SDK's
 * McpError would prefix its message with "MCP error <code>:" on the wire).
 */
export class GatewayError extends Error {
  override name = 'GatewayError';
  constructor(
    readonly code: number,
    message: string,
    readonly data?: Record<string, unknown>,
  ) {
    super(message);
  }
}

export function unknownTool(name: string): GatewayError {
  return new GatewayError(GatewayErrorCode.NotFound, `Tool ${name} not found`);
}

export function unknownResource(uri: string): GatewayError {
  return new GatewayError(GatewayErrorCode.NotFound, `Resource ${uri} not found`);
}

export function unknownPrompt(name: string): GatewayError {
  return new GatewayError(GatewayErrorCode.NotFound, `Prompt ${name} not found`);
}

export function gatewayError(code: number, message: string, data?: Record<string, unknown>): GatewayError {
  return new GatewayError(code, message, data);
}
