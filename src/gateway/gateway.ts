// The MCP gateway: one Streamable HTTP MCP front per virtual server at /mcp/{virtual}, stateless (no
// session pins a client to a replica). Every tools/list and tools/call is decided by the policy
// engine and the decision executed; every decision and call outcome is audited before anything is
// forwarded or returned.
import { randomUUID } from 'node:crypto';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import {
  CallToolRequestSchema,
  type CallToolResult,
  ListToolsRequestSchema,
  type Tool,
} from '@modelcontextprotocol/sdk/types.js';
import type { FastifyInstance, FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { AuditEventInput, AuditStore, Json } from '../audit/index.js';
import type { Engine } from '../engine/index.js';
import type { GatewayConfig } from './config.js';
import { type Decision, DecisionError, decide } from './decision.js';
import { GatewayErrorCode, gatewayError, unknownTool } from './errors.js';
import { detectorRegExp, redactArguments, redactResult } from './redact.js';
import { Upstream, UpstreamError } from './upstream.js';

/** The caller, as the decision input names it. */
export interface Principal {
  user: { sub: string; email?: string; groups: string[]; claims: Record<string, unknown> };
  agent: { id: string; client_id: string; claims: Record<string, unknown> };
  model: { provider: string; name: string; attested: boolean } | null;
}

/** TEST ONLY: the header carrying a JSON Principal when `trustTestPrincipalHeader` is set. */
export const TEST_PRINCIPAL_HEADER = 'x-airlock-test-principal';

export interface GatewayOptions {
  config: GatewayConfig;
  engine: Engine;
  audit: Pick<AuditStore, 'record'>;
  /**
   * Resolves the caller of a request; undefined answers 401.
   * TODO(issue 8): wire `src/identity` (identityPlugin / app.authenticate) here.
   */
  principal?: (request: FastifyRequest) => Principal | undefined;
  /** TEST ONLY: trust TEST_PRINCIPAL_HEADER. Never enable in production. */
  trustTestPrincipalHeader?: boolean;
}

/** Separator of aggregated tool names: `<upstream>__<tool>`. */
export const TOOL_SEPARATOR = '__';
const MAX_BODY = 4 * 1024 * 1024;

interface CallContext {
  principal: Principal;
  virtual: string;
}

export class Gateway {
  readonly #upstreams = new Map<string, Upstream>();
  readonly #virtuals = new Map<string, Upstream[]>();
  readonly #options: GatewayOptions;

  constructor(options: GatewayOptions) {
    this.#options = options;
    for (const u of options.config.upstreams) this.#upstreams.set(u.name, new Upstream(u));
    for (const v of options.config.virtualServers)
      this.#virtuals.set(
        v.name,
        v.upstreams.map((n) => this.#upstreams.get(n)!),
      );
  }

  hasVirtual(name: string): boolean {
    return this.#virtuals.has(name);
  }

  async close(): Promise<void> {
    await Promise.all([...this.#upstreams.values()].map((u) => u.close()));
  }

  /** An MCP Server for one request on virtual server `virtual`. */
  serverFor(context: CallContext): Server {
    const server = new Server(
      { name: `airlock-${context.virtual}`, version: '0.1.0' },
      { capabilities: { tools: {} } },
    );
    server.setRequestHandler(ListToolsRequestSchema, () => this.listTools(context));
    server.setRequestHandler(CallToolRequestSchema, (req) =>
      this.callTool(context, req.params.name, req.params.arguments ?? {}),
    );
    return server;
  }

  #input(
    context: CallContext,
    action: string,
    phase: 'request' | 'response',
    extra: Record<string, unknown>,
  ) {
    const p = context.principal;
    return {
      phase,
      action,
      user: p.user,
      agent: p.agent,
      model: p.model,
      request: { id: randomUUID(), time: new Date().toISOString() },
      approval: null,
      ...extra,
      server: { virtual: context.virtual, ...((extra.server as object | undefined) ?? {}) },
    };
  }

  #decide(input: unknown): Decision {
    try {
      return decide(this.#options.engine, input);
    } catch (err) {
      const message = err instanceof DecisionError ? err.message : String(err);
      throw gatewayError(
        GatewayErrorCode.PolicyUnavailable,
        `no policy decision, nothing forwarded: ${message}`,
      );
    }
  }

  async #audit(event: AuditEventInput): Promise<void> {
    try {
      await this.#options.audit.record(event);
    } catch (err) {
      throw gatewayError(
        GatewayErrorCode.PolicyUnavailable,
        `audit record failed, nothing forwarded: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
  }

  #auditBase(context: CallContext, decisionId: string): Partial<AuditEventInput> {
    const p = context.principal;
    return {
      decisionId,
      user: { sub: p.user.sub },
      agentId: p.agent.id,
      model: p.model as Json,
      virtualServer: context.virtual,
    };
  }

  /** Every upstream's tools, named `<upstream>__<tool>`, filtered by one response-phase decision. */
  async listTools(context: CallContext): Promise<{ tools: Tool[] }> {
    const listed = await this.#allTools(context.virtual);
    const input = this.#input(context, 'tools/list', 'response', {
      server: { name: null },
      result: {
        tools: listed.map((t) => ({
          name: t.tool.name,
          server: t.upstream.name,
          annotations: t.tool.annotations ?? {},
        })),
      },
    });
    const decision = this.#decide(input);
    const decisionId = input.request.id;
    const visible = decision.effect === 'deny' ? new Set<string>() : new Set(decision.visible_tools ?? []);
    const tools = listed
      .filter((t) => visible.has(t.tool.name))
      .map((t) => ({ ...t.tool, name: `${t.upstream.name}${TOOL_SEPARATOR}${t.tool.name}` }));
    await this.#audit({
      ...this.#auditBase(context, decisionId),
      kind: 'decision',
      phase: 'response',
      effect: decision.effect,
      reasons: decision.reasons,
      ...(decision.revision ? { bundleRevision: decision.revision } : {}),
      details: { action: 'tools/list', visible: tools.map((t) => t.name) },
    } as AuditEventInput);
    if (decision.effect === 'deny')
      throw gatewayError(
        GatewayErrorCode.Denied,
        `tools/list denied by policy: ${decision.reasons.join('; ')}`,
        {
          decision_id: decisionId,
          reasons: decision.reasons,
        },
      );
    return { tools };
  }

  async #allTools(virtual: string): Promise<{ upstream: Upstream; tool: Tool }[]> {
    const upstreams = this.#virtuals.get(virtual) ?? [];
    const lists = await Promise.all(
      upstreams.map(async (u) => {
        try {
          return (await u.listTools()).map((tool) => ({ upstream: u, tool }));
        } catch (err) {
          throw gatewayError(GatewayErrorCode.UpstreamFailed, (err as Error).message, { upstream: u.name });
        }
      }),
    );
    return lists.flat();
  }

  async callTool(
    context: CallContext,
    qualified: string,
    args: Record<string, unknown>,
  ): Promise<CallToolResult> {
    const at = qualified.indexOf(TOOL_SEPARATOR);
    const upstream =
      at > 0
        ? (this.#virtuals.get(context.virtual) ?? []).find((u) => u.name === qualified.slice(0, at))
        : undefined;
    if (!upstream) throw unknownTool(qualified);
    const toolName = qualified.slice(at + TOOL_SEPARATOR.length);
    let tool: Tool | undefined;
    try {
      tool = (await upstream.listTools()).find((t) => t.name === toolName);
    } catch (err) {
      throw gatewayError(GatewayErrorCode.UpstreamFailed, (err as Error).message, {
        upstream: upstream.name,
      });
    }
    if (!tool) throw unknownTool(qualified);

    // Hidden equals absent: the tool must be visible to this caller, by the same list decision.
    const listInput = this.#input(context, 'tools/list', 'response', {
      server: { name: upstream.name },
      result: { tools: [{ name: tool.name, server: upstream.name, annotations: tool.annotations ?? {} }] },
    });
    const listDecision = this.#decide(listInput);
    if (listDecision.effect === 'deny' || !(listDecision.visible_tools ?? []).includes(tool.name))
      throw unknownTool(qualified);

    const target = { type: 'tool' as const, name: tool.name };
    const input = this.#input(context, 'tools/call', 'request', {
      server: { name: upstream.name },
      tool: { name: tool.name, annotations: tool.annotations ?? {} },
      arguments: args,
    });
    const decisionId = input.request.id;
    const decision = this.#decide(input);
    const forwarded =
      decision.effect === 'redact' && decision.redact
        ? redactArguments(args, decision.redact.arguments)
        : args;
    const base = { ...this.#auditBase(context, decisionId), upstreamServer: upstream.name, target };
    await this.#audit({
      ...base,
      kind: 'decision',
      phase: 'request',
      effect: decision.effect,
      reasons: decision.reasons,
      ...(decision.revision ? { bundleRevision: decision.revision } : {}),
      arguments: forwarded as Json,
    } as AuditEventInput);
    const data = { decision_id: decisionId, reasons: decision.reasons };
    if (decision.effect === 'deny')
      throw gatewayError(GatewayErrorCode.Denied, `denied by policy: ${decision.reasons.join('; ')}`, data);
    if (decision.effect === 'require_approval')
      throw gatewayError(
        GatewayErrorCode.ApprovalRequired,
        `approval required before ${qualified} can run (approvals are not supported yet; the call was not forwarded): ${decision.reasons.join('; ')}`,
        data,
      );

    const started = performance.now();
    let result: CallToolResult;
    try {
      result = await upstream.callTool(tool.name, forwarded);
    } catch (err) {
      const message = err instanceof UpstreamError ? err.message : String(err);
      await this.#audit({
        ...base,
        kind: 'call_result',
        phase: 'response',
        details: { error: message },
        timings: { upstream_ms: performance.now() - started },
      } as AuditEventInput);
      throw gatewayError(GatewayErrorCode.UpstreamFailed, message, {
        decision_id: decisionId,
        upstream: upstream.name,
      });
    }
    const upstreamMs = performance.now() - started;

    const responseInput = this.#input(context, 'tools/call', 'response', {
      server: { name: upstream.name },
      tool: { name: tool.name, annotations: tool.annotations ?? {} },
      arguments: forwarded,
      result,
    });
    const response = this.#decide(responseInput);
    let returned: CallToolResult = result;
    if (response.effect === 'redact' && response.redact)
      returned = redactResult(result, response.redact.result, (p) => this.#pattern(p)) as CallToolResult;
    await this.#audit({
      ...base,
      kind: 'call_result',
      phase: 'response',
      effect: response.effect,
      reasons: response.reasons,
      ...(response.revision ? { bundleRevision: response.revision } : {}),
      result: (response.effect === 'deny' ? null : returned) as Json,
      timings: { upstream_ms: upstreamMs },
      details: { response_decision_id: responseInput.request.id },
    } as AuditEventInput);
    if (response.effect === 'deny' || response.effect === 'require_approval')
      throw gatewayError(
        GatewayErrorCode.Denied,
        `result withheld by policy: ${response.reasons.join('; ')}`,
        {
          decision_id: responseInput.request.id,
          reasons: response.reasons,
        },
      );
    return returned;
  }

  /** `pii.<name>` → the detector's regex from the active bundle's data; undefined masks the whole string. */
  #pattern(pattern: string): RegExp | undefined {
    const m = /^pii\.([A-Za-z0-9_]+)$/.exec(pattern);
    if (!m?.[1]) return undefined;
    try {
      const q = this.#options.engine.query(['pii', 'detectors', m[1], 'regex'], {});
      return q.defined && typeof q.result === 'string' ? detectorRegExp(q.result) : undefined;
    } catch {
      return undefined;
    }
  }
}

function testPrincipal(request: FastifyRequest): Principal | undefined {
  const raw = request.headers[TEST_PRINCIPAL_HEADER];
  if (typeof raw !== 'string' || raw.length > 16_384) return undefined;
  try {
    const p = JSON.parse(raw) as Principal;
    return typeof p?.user?.sub === 'string' && typeof p?.agent?.id === 'string' ? p : undefined;
  } catch {
    return undefined;
  }
}

/** The fastify plugin serving `/mcp/{virtual}`; closes upstream connections with the app. */
export const gatewayPlugin: FastifyPluginAsync<GatewayOptions> = async (app: FastifyInstance, options) => {
  const gateway = new Gateway(options);
  app.addHook('onClose', () => gateway.close());
  const resolve = options.principal ?? (options.trustTestPrincipalHeader ? testPrincipal : () => undefined);

  app.all<{ Params: { virtual: string } }>(
    '/mcp/:virtual',
    { bodyLimit: MAX_BODY },
    async (request, reply) => {
      const { virtual } = request.params;
      if (!gateway.hasVirtual(virtual))
        return reply.code(404).send({ error: 'not_found', message: `no virtual server ${virtual}` });
      if (request.method !== 'POST')
        return reply
          .code(405)
          .header('allow', 'POST')
          .send({ error: 'method_not_allowed', message: 'stateless gateway: POST JSON-RPC only' });
      const principal = resolve(request);
      if (!principal)
        return reply.code(401).send({ error: 'unauthenticated', message: 'no identified caller' });
      const server = gateway.serverFor({ principal, virtual });
      const transport = new StreamableHTTPServerTransport({
        sessionIdGenerator: undefined,
        enableJsonResponse: true,
      });
      reply.hijack();
      reply.raw.on('close', () => {
        void transport.close();
        void server.close();
      });
      try {
        await server.connect(transport);
        await transport.handleRequest(request.raw, reply.raw, request.body);
      } catch (err) {
        request.log.error({ err: err instanceof Error ? err.message : String(err) }, 'MCP request failed');
        if (!reply.raw.headersSent) reply.raw.writeHead(500, { 'content-type': 'application/json' });
        reply.raw.end(JSON.stringify({ error: 'internal', message: 'the MCP request could not be handled' }));
      }
    },
  );
};
