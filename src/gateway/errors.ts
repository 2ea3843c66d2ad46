// JSON-RPC error codes the gateway answers with (see docs/gateway.md for why each).
import { ErrorCode } from '@modelcontextprotocol/sdk/types.js';

export const GatewayErrorCode = {
  /** Unknown or hidden tool: the same code and message shape the SDK's own servers use. */
  UnknownTool: ErrorCode.InvalidParams,
  /** The policy denied the call. */
  Denied: -32001,
  /** The policy requires a human approval, which this version does not park yet. */
  ApprovalRequired: -32002,
  /** No usable decision (no bundle, evaluation error) or the audit record failed: fail closed. */
  PolicyUnavailable: -32003,
  /** The upstream server failed or timed out. */
  UpstreamFailed: -32004,
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
  return new GatewayError(GatewayErrorCode.UnknownTool, `Tool ${name} not found`);
}

export function gatewayError(code: number, message: string, data?: Record<string, unknown>): GatewayError {
  return new GatewayError(code, message, data);
}
