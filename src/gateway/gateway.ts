// The MCP gateway's core: one virtual server per configured name, aggregating the tools, resources
// and prompts of its upstreams. Every list and every forwarded call is decided by the policy engine
// and the decision executed as is; every decision and outcome is audited (and awaited) before
// anything is forwarded or returned. The gateway holds no policy of its own.
import { randomUUID } from 'node:crypto';
import type {
  CallToolResult,
  ClientCapabilities,
  CompleteRequest,
  CompleteResult,
  GetPromptResult,
  LoggingLevel,
  Prompt,
  ReadResourceResult,
  Resource,
  ResourceTemplate,
  Tool,
} from '@modelcontextprotocol/sdk/types.js';
import { SpanKind } from '@opentelemetry/api';
import type { Registry } from 'prom-client';
import { InvalidEventError } from '../audit/canonical.js';
import type { AuditEventInput, AuditStore, Json, TargetType } from '../audit/index.js';
import { keptInput, maskedArguments } from '../audit/kept-input.js';
import type { Engine } from '../engine/index.js';
import {
  type Identity,
  IdentityError,
  IdpUnavailableError,
  type UpstreamCredential,
} from '../identity/index.js';
import { Stages, stageHistogram } from '../telemetry/index.js';
import { type ApprovalGate, approvalGate } from './approval-flow.js';
import type { ApprovalStore } from './approvals.js';
import { AgentSlots, agentKey, type Caller } from './caller.js';
import {
  auditPolicyText,
  clientPolicyText,
  firstUnstorable,
  REPLACED_NOTE,
  storable,
  storableString,
  withoutPaths,
  withoutSecrets,
} from './clean.js';
import { DEFAULT_LIMITS, type GatewayConfig } from './config.js';
import { type Decision, DecisionError, decide } from './decision.js';
import {
  GatewayError,
  GatewayErrorCode,
  gatewayError,
  unknownPrompt,
  unknownResource,
  unknownTool,
} from './errors.js';
import { NAME_SEPARATOR, type NamedKind, type NameTarget, Naming } from './names.js';
import { detectorRegExp, redactArguments, redactResult } from './redact.js';
import { decideCapabilities } from './relay/client-capabilities.js';
import { type RequestLogSink, requestLogSink } from './relay/log-messages.js';
import {
  type ClientSender,
  type RelayCall,
  type RelayPolicy,
  withRelayCall,
} from './relay/server-requests.js';
import {
  combineInstructions,
  fromUpstream,
  type RelayContext,
  session,
  told,
  upstreamCall,
  upstreamFailure,
  upstreamOutcome,
} from './relay.js';
import type { CallerNotification } from './session-state.js';
import {
  asCaller,
  type CapabilityDecider,
  type CredentialSource,
  type ListKind,
  Upstream,
  UpstreamError,
  withUpstreamHeaders,
} from './upstream.js';

/** The `_meta` key carrying the request-phase decision id on every forwarded result. */
export const DECISION_META_KEY = 'airlock.dev/decision_id';

export { NAME_SEPARATOR } from './names.js';

export interface GatewayOptions {
  config: GatewayConfig;
  engine: Engine;
  audit: Pick<AuditStore, 'record'>;
  /** Verifies callers and issues upstream credentials. Without it only the test header identifies callers. */
  identity?: Identity;
  /** Where calls that need approval are parked. Without it such calls fail closed. */
  approvals?: ApprovalStore;
  /** TEST ONLY: trust the x-airlock-test-principal header. Never enable in production. */
  trustTestPrincipalHeader?: boolean;
  /** The registry of the stage histogram (the decision API's, under `airlock serve`). */
  metricsRegistry?: Registry | undefined;
}

/** One MCP request on one virtual server. */
export interface CallContext {
  caller: Caller;
  virtual: string;
  /** The request's `_meta` (approval id, progress token). */
  meta?: Record<string, unknown> | undefined;
  /** Sends a progress notification for this request, when the client asked for them. */
  progress?: ((message: string, elapsedSeconds: number) => Promise<void>) | undefined;
  signal?: AbortSignal | undefined;
  /** The protocol revision the request arrived on and the client it names (decision input `request`). */
  protocol?: { revision: string; client?: { name: string; version: string } } | undefined;
  /** Sends a server→client request to the calling client on this request's stream, when it has one. */
  clientRequest?: ClientSender | undefined;
  /** The calling client's capabilities, when known. */
  clientCapabilities?: ClientCapabilities | undefined;
  /** Sends a notification to the client on this request's stream (relayed progress). */
  sendNotification?: RelayContext['sendNotification'];
  /** The request's own log level (2026-07-28 envelope): log messages of the call go on its stream. */
  logLevel?: LoggingLevel | undefined;
  /** Checks the request against the called tool once it is found, before deciding (protocol/param-headers.ts). */
  checkTool?: ((tool: { inputSchema?: unknown }, args: Record<string, unknown>) => void) | undefined;
}

/** What a forwarded call addresses. */
interface Target {
  type: TargetType;
  upstream: Upstream;
  /** The upstream's own name for it (tool or prompt name, resource URI). */
  name: string;
  /** The decision input's part describing it: `tool`, `resource` or `prompt`. */
  part: Record<string, unknown>;
}

type Action = 'tools/call' | ResourceAction | 'prompts/get' | 'completion/complete';
type ResourceAction = 'resources/read' | 'resources/subscribe' | 'resources/unsubscribe';

/** What a decision is about, for the audit row of a failed evaluation. */
interface About {
  upstream?: string;
  target?: { type: TargetType; name: string };
}

/** The audit trail's text columns hold at most this many characters. */
const MAX_AUDIT_TEXT = 1024;
/**
 * Evaluations of one request within this long of its first share one look for live data written by
 * other replicas (engine.ts, freshness; docs/api.md): each sees every write committed before its
 * request began, so the very next request after a revocation obeys it. A longer request (a slow
 * upstream, a listen stream) takes a new look for later evaluations. One second is also the default
 * interval at which replicas poll for such writes anyway.
 */
const SHARED_LOOK_MS = 1000;

const errorMessage = (err: unknown) => (err instanceof Error ? err.message : String(err));

export class Gateway {
  readonly #upstreams = new Map<string, Upstream>();
  readonly #virtuals = new Map<string, Upstream[]>();
  readonly #naming = new Map<string, Naming>();
  readonly #calls: AgentSlots;
  readonly #options: GatewayOptions;
  readonly #approvals: ApprovalGate | undefined;
  /** Timing and spans of evaluation, audit, approval and upstream calls (src/telemetry). */
  readonly #stages: Stages;
  /** Per request: the freshness mark its first evaluation took, and when (SHARED_LOOK_MS). */
  readonly #marks = new WeakMap<CallContext, { mark: number; at: number }>();
  /**
   * Called with a notification for one caller (its session key): log messages, resource updates;
   * `source` names the upstream and holds the notification as it sent it.
   */
  onCallerNotification: (
    session: string,
    notification: CallerNotification,
    source: { upstream: string; original: CallerNotification },
  ) => void = () => {};
  /** Called with the virtual servers whose `kind` list changed upstream. */
  onListChanged: (virtual: string, kind: ListKind) => void = () => {};

  constructor(options: GatewayOptions) {
    this.#options = options;
    this.#stages = new Stages(
      'gateway',
      options.metricsRegistry ? stageHistogram(options.metricsRegistry) : undefined,
    );
    this.limits = { ...DEFAULT_LIMITS, ...options.config.limits };
    this.#calls = new AgentSlots(this.limits.concurrent_calls_per_agent);
    for (const u of options.config.upstreams) {
      const upstream = new Upstream(u);
      upstream.onListChanged = (kind) => {
        for (const [virtual, members] of this.#virtuals)
          if (members.includes(upstream)) this.onListChanged(virtual, kind);
      };
      upstream.onNotification = (n, callers) => {
        for (const key of callers)
          this.onCallerNotification(key, fromUpstream(upstream.name, n), {
            upstream: upstream.name,
            original: n,
          });
      };
      upstream.sharedCapabilities = this.#capabilities(undefined);
      this.#upstreams.set(u.name, upstream);
    }
    for (const v of options.config.virtual_servers) {
      this.#virtuals.set(
        v.name,
        v.upstreams.map((n) => this.#upstreams.get(n)!),
      );
      this.#naming.set(v.name, new Naming(v));
    }
    this.#approvals = options.approvals
      ? approvalGate(options.approvals, {
          holdSeconds: options.config.approvals?.hold_seconds ?? 0,
          decide: (input, request) =>
            this.#decide(request.context, input as DecisionInput, {
              upstream: request.upstream,
              target: { type: 'tool', name: request.tool },
            }),
        })
      : undefined;
  }

  /** The configured limits over their defaults. */
  readonly limits: Required<NonNullable<GatewayConfig['limits']>>;

  hasVirtual(name: string): boolean {
    return this.#virtuals.has(name);
  }

  async close(): Promise<void> {
    await Promise.all([...this.#upstreams.values()].map((u) => u.close()));
  }

  /**
   * The start-up check of virtual servers with bare names or aliases: the tool and prompt lists of
   * their upstreams are fetched (without a caller's credential) and a name shared by two upstreams,
   * or longer than clients accept, throws NameConflictError. An upstream that cannot be listed now
   * is reported to `skipped` and checked when its lists are first fetched for a caller.
   */
  async checkNames(skipped: (upstream: string, reason: string) => void = () => {}): Promise<void> {
    const lists = new Map<Upstream, Promise<NameTarget[][] | undefined>>();
    const fetch = (u: Upstream) => {
      let p = lists.get(u);
      if (!p) {
        p = Promise.all([u.listTools(), u.listPrompts()])
          .then(([tools, prompts]) => [
            tools.map((t) => ({ upstream: u.name, name: t.name })),
            prompts.map((x) => ({ upstream: u.name, name: x.name })),
          ])
          .catch((err: unknown) => {
            skipped(u.name, err instanceof UpstreamError ? err.clientMessage : errorMessage(err));
            return undefined;
          });
        lists.set(u, p);
      }
      return p;
    };
    for (const [virtual, naming] of this.#naming) {
      if (!naming.customised) continue;
      const fetched = await Promise.all((this.#virtuals.get(virtual) ?? []).map(fetch));
      naming.table(
        'tools',
        fetched.flatMap((f) => f?.[0] ?? []),
      );
      naming.table(
        'prompts',
        fetched.flatMap((f) => f?.[1] ?? []),
      );
    }
  }

  /** The shown names of `listed` on this virtual server, checked (NameConflictError otherwise). */
  #names<T extends { name: string }>(
    context: CallContext,
    kind: NamedKind,
    listed: { upstream: Upstream; item: T }[],
  ): { naming: Naming; table: Map<string, NameTarget> } {
    const naming = this.#naming.get(context.virtual)!;
    const table = naming.table(
      kind,
      listed.map((l) => ({ upstream: l.upstream.name, name: l.item.name })),
    );
    return { naming, table };
  }

  // ------------------------------------------------------------------ decisions and audit

  /** The decision input; without a context (a shared session's capabilities), for no caller. */
  #input(
    context: CallContext | undefined,
    action: string,
    phase: 'request' | 'response',
    extra: Record<string, unknown>,
  ) {
    const c = context?.caller;
    return {
      phase,
      action,
      user: c?.user ?? null,
      agent: c?.agent ?? null,
      model: c?.model ?? null,
      request: {
        id: randomUUID(),
        time: new Date().toISOString(),
        ...(context?.protocol ? { protocol: context.protocol.revision } : {}),
        ...(context?.protocol?.client ? { client: context.protocol.client } : {}),
      },
      approval: null,
      ...extra,
      server: {
        ...(context ? { virtual: context.virtual } : {}),
        ...((extra.server as object | undefined) ?? {}),
      },
    };
  }

  /** The freshness mark `context`'s evaluations share (SHARED_LOOK_MS); undefined: a look of its own. */
  #freshSince(context: CallContext | undefined): number | undefined {
    if (!context) return undefined;
    const now = performance.now();
    const held = this.#marks.get(context);
    if (held && now - held.at <= SHARED_LOOK_MS) return held.mark;
    const mark = this.#options.engine.freshnessMark();
    if (mark !== undefined) this.#marks.set(context, { mark, at: now });
    return mark;
  }

  /**
   * The policy's decision on `input`. When none can be made (no bundle, evaluation error, malformed
   * output), the failure is audited as a deny ("evaluation failed: …", the rule's location kept as
   * `file.rego:line:col`) and the caller gets a PolicyUnavailable error without file locations.
   */
  async #decide(
    context: CallContext | undefined,
    input: DecisionInput,
    about: About = {},
  ): Promise<Decision> {
    try {
      return await this.#stages.run(
        'evaluate',
        async (span) => {
          const d = await decide(this.#options.engine, input, this.#freshSince(context));
          span?.setAttributes({
            'airlock.effect': d.effect,
            ...(d.revision ? { 'airlock.bundle_revision': d.revision } : {}),
          });
          return d;
        },
        {
          attributes: () => ({
            'airlock.phase': input.phase,
            'airlock.action': input.action,
            'airlock.decision_id': input.request.id,
          }),
        },
      );
    } catch (err) {
      const message = (err instanceof DecisionError ? err.message : errorMessage(err)).replace(
        /^policy evaluation failed: /,
        '',
      );
      const revision = this.#options.engine.bundle?.revision;
      await this.#audit({
        ...this.#auditBase(context, input.request.id),
        kind: 'decision',
        phase: input.phase,
        effect: 'deny',
        reasons: [`evaluation failed: ${auditPolicyText(message)}`],
        ...(revision ? { bundleRevision: revision } : {}),
        ...(about.upstream ? { upstreamServer: about.upstream } : {}),
        ...(about.target ? { target: about.target } : {}),
        details: { action: input.action, evaluation_failed: true },
      } as AuditEventInput).catch(() => {}); // the call fails closed either way
      // Oversized request arguments are the caller's invalid params; an oversized upstream result is not.
      if (err instanceof DecisionError && err.inputTooLarge)
        throw gatewayError(
          input.phase === 'request' ? GatewayErrorCode.InvalidParams : GatewayErrorCode.PolicyUnavailable,
          `no policy decision, nothing forwarded: ${clientPolicyText(message)}`,
          { decision_id: input.request.id },
        );
      throw gatewayError(
        GatewayErrorCode.PolicyUnavailable,
        `no policy decision, nothing forwarded: policy evaluation failed: ${clientPolicyText(message)}`,
        { decision_id: input.request.id },
      );
    }
  }

  /**
   * Records `event`, awaited. Strings Postgres cannot hold (U+0000, lone surrogates) are stored with
   * U+FFFD in their place and a note in `details`, so every attempt can be recorded.
   */
  async #audit(event: AuditEventInput): Promise<void> {
    const { value, changed } = storable(event);
    if (changed) {
      const d = value.details;
      value.details =
        d !== null && typeof d === 'object' && !Array.isArray(d)
          ? { ...d, note: REPLACED_NOTE }
          : { ...(d === undefined || d === null ? {} : { value: d }), note: REPLACED_NOTE };
    }
    try {
      await this.#stages.run('audit', () => this.#options.audit.record(value), {
        attributes: () => ({ 'airlock.audit.kind': value.kind }),
      });
    } catch (err) {
      // An event the store refuses says why (its size, its depth); a store that fails says nothing
      // of its internals to the agent.
      throw gatewayError(
        GatewayErrorCode.PolicyUnavailable,
        err instanceof InvalidEventError
          ? `audit record failed, nothing forwarded: ${err.message}`
          : 'audit record failed, nothing forwarded: the audit trail is unavailable',
      );
    }
  }

  /**
   * A call of a tool, resource or prompt this caller cannot see (hidden by policy or offered by no
   * upstream): audited as denied with the real reason, answered with exactly the unknown-item error.
   */
  async #unseen(
    context: CallContext,
    action: Action,
    type: TargetType,
    name: string,
    args: Record<string, unknown>,
    reason: string,
    notFound: GatewayError,
    upstream?: Upstream,
    decision?: Decision,
  ): Promise<GatewayError> {
    const kept = await this.#keptArguments(context, action, type, name, args, upstream);
    await this.#audit({
      ...this.#auditBase(context, randomUUID()),
      kind: 'decision',
      phase: 'request',
      effect: 'deny',
      reasons: [reason],
      ...(decision?.revision ? { bundleRevision: decision.revision } : {}),
      ...(upstream ? { upstreamServer: upstream.name } : {}),
      target: { type, name: auditText(name) },
      ...kept,
      details: {
        action,
        not_found: decision ? 'hidden' : 'unknown',
        ...(decision ? { policy_reasons: decision.reasons } : {}),
      },
    } as AuditEventInput);
    return notFound;
  }

  /**
   * The arguments of a refused attempt as the policy would keep them in the trail: a request-phase
   * decision on the attempt supplies `redact.arguments` (the reference policy names PII arguments
   * whatever the effect). Without a usable decision only the argument names are kept.
   */
  async #keptArguments(
    context: CallContext,
    action: Action,
    type: TargetType,
    name: string,
    args: Record<string, unknown>,
    upstream?: Upstream,
  ): Promise<{ arguments: Json }> {
    // The upstream's own name, as policies know it (an alias or a prefix removed).
    const own =
      type === 'resource' || !upstream
        ? name
        : (this.#naming.get(context.virtual)?.resolveStatic(type === 'tool' ? 'tools' : 'prompts', name)
            ?.name ?? name);
    const part =
      type === 'tool'
        ? { tool: { name: own, annotations: {} } }
        : type === 'prompt'
          ? { prompt: { name: own } }
          : { resource: { uri: name } };
    try {
      const d = await decide(
        this.#options.engine,
        this.#input(context, action, 'request', {
          server: { name: upstream?.name ?? null },
          ...part,
          arguments: args,
        }),
        this.#freshSince(context),
      );
      return { arguments: (d.redact ? redactArguments(args, d.redact.arguments) : args) as Json };
    } catch {
      return { arguments: { '[names only]': Object.keys(args).sort() } as Json };
    }
  }

  /**
   * Arguments (or a name, or a URI) holding U+0000 or a lone UTF-16 surrogate: refused with Invalid
   * params before anything else, and recorded with U+FFFD in place of what could not be stored.
   */
  async #refuseUnstorable(
    context: CallContext,
    action: Action,
    type: TargetType,
    name: string,
    args: Record<string, unknown>,
  ): Promise<void> {
    const bad = firstUnstorable({ name, arguments: args });
    if (!bad) return;
    const why = `${bad.path} ${bad.why}: strings must be well-formed Unicode without U+0000`;
    const kept = await this.#keptArguments(context, action, type, storableString(name), storable(args).value);
    await this.#audit({
      ...this.#auditBase(context, randomUUID()),
      kind: 'decision',
      phase: 'request',
      effect: 'deny',
      reasons: [`invalid params: ${why}`],
      target: { type, name: auditText(storableString(name)) },
      ...kept,
      details: { action, invalid_params: bad.path, note: REPLACED_NOTE },
    } as AuditEventInput);
    throw gatewayError(GatewayErrorCode.InvalidParams, `Invalid params: ${why}`);
  }

  #auditBase(context: CallContext | undefined, decisionId: string): Partial<AuditEventInput> {
    if (!context) return { decisionId };
    const c = context.caller;
    return {
      decisionId,
      user: { sub: c.user.sub },
      agentId: c.agent.id,
      ...(c.principal ? { actor: c.principal.agent.delegation as Json } : {}),
      model: c.model as Json,
      virtualServer: context.virtual,
    };
  }

  // ------------------------------------------------------------------ lists

  async #listAll<T>(
    context: CallContext,
    action: string,
    list: (u: Upstream, credential: CredentialSource) => Promise<T[]>,
  ): Promise<{ upstream: Upstream; item: T }[]> {
    const upstreams = this.#virtuals.get(context.virtual) ?? [];
    const lists = await Promise.all(
      upstreams.map(async (u) =>
        (await this.#listed(context, action, u, list)).map((item) => ({ upstream: u, item })),
      ),
    );
    return lists.flat();
  }

  /**
   * One upstream's list, fetched (when not cached) with this caller's credential. A credential
   * failure is audited as a denied `action` on that upstream.
   */
  async #listed<T>(
    context: CallContext,
    action: string,
    upstream: Upstream,
    list: (u: Upstream, credential: CredentialSource) => Promise<T[]>,
  ): Promise<T[]> {
    try {
      return await asCaller(this.#capabilities(context), () =>
        list(upstream, async () => {
          try {
            return (await this.#credential(context, upstream, undefined))?.headers ?? {};
          } catch (err) {
            if (err instanceof GatewayError && typeof err.data?.credential_error === 'string')
              await this.#audit({
                ...this.#auditBase(context, randomUUID()),
                kind: 'decision',
                phase: 'request',
                effect: 'deny',
                reasons: [String(err.data.audit_reason)],
                upstreamServer: upstream.name,
                details: { action, credential_error: err.data.credential_error },
              } as AuditEventInput);
            throw err;
          }
        }),
      );
    } catch (err) {
      if (err instanceof GatewayError) throw withoutAuditReason(err);
      // A list the upstream could not give leaves its row, like a failed call (nothing was decided).
      await this.#audit({
        ...this.#auditBase(context, randomUUID()),
        kind: 'call_result',
        phase: 'response',
        upstreamServer: upstream.name,
        details: {
          action,
          list_failed: true,
          error: withoutSecrets(withoutPaths(errorMessage(err))),
          ...upstreamOutcome(err),
        },
      } as AuditEventInput);
      throw upstreamFailure(err, upstream.name, {});
    }
  }

  /** One response-phase decision over a whole list; returns the names policy lets this caller see. */
  async #visible(
    context: CallContext,
    action: 'tools/list' | 'resources/list' | 'prompts/list',
    server: string | null,
    result: Record<string, unknown>,
    field: 'visible_tools' | 'visible_resources' | 'visible_prompts',
    audited: boolean,
  ): Promise<{ visible: Set<string>; decision: Decision }> {
    const input = this.#input(context, action, 'response', { server: { name: server }, result });
    const decision = await this.#decide(context, input, server ? { upstream: server } : {});
    const visible = decision.effect === 'deny' ? new Set<string>() : new Set(decision[field] ?? []);
    if (audited) {
      await this.#audit({
        ...this.#auditBase(context, input.request.id),
        kind: 'decision',
        phase: 'response',
        effect: decision.effect,
        reasons: decision.reasons,
        ...(decision.revision ? { bundleRevision: decision.revision } : {}),
        details: { action, visible: [...visible].sort() },
      } as AuditEventInput);
      if (decision.effect === 'deny')
        throw gatewayError(
          GatewayErrorCode.Denied,
          `${action} denied by policy: ${decision.reasons.join('; ')}`,
          {
            decision_id: input.request.id,
            reasons: decision.reasons,
          },
        );
    }
    return { visible, decision };
  }

  /**
   * What of `listed` this caller may see: one response-phase decision per upstream (names are only
   * unique within an upstream), each audited; a deny refuses the whole list.
   */
  async #filterList<T>(
    context: CallContext,
    kind: 'tools' | 'resources' | 'prompts',
    listed: { upstream: Upstream; item: T }[],
    facts: (u: Upstream, item: T) => Record<string, unknown>,
    key: (item: T) => string,
  ): Promise<{ upstream: Upstream; item: T }[]> {
    const out: { upstream: Upstream; item: T }[] = [];
    for (const upstream of this.#virtuals.get(context.virtual) ?? []) {
      const mine = listed.filter((l) => l.upstream === upstream);
      if (mine.length === 0) continue;
      const { visible } = await this.#visible(
        context,
        `${kind}/list`,
        upstream.name,
        { [kind]: mine.map((m) => facts(upstream, m.item)) },
        `visible_${kind}`,
        true,
      );
      out.push(...mine.filter((m) => visible.has(key(m.item))));
    }
    return out;
  }

  /** Every upstream's tools the caller may see, named as the virtual server says (names.ts). */
  async listTools(context: CallContext): Promise<{ tools: Tool[] }> {
    const listed = await this.#listAll(context, 'tools/list', (u, c) => u.listTools(c, session(context)));
    const { naming } = this.#names(context, 'tools', listed);
    const shown = await this.#filterList(context, 'tools', listed, toolFacts, (t) => t.name);
    return {
      tools: shown.map((t) => ({ ...t.item, name: naming.shown('tools', t.upstream.name, t.item.name) })),
    };
  }

  /** Resources keep their URIs; where two upstreams list one URI, the first upstream owns it. */
  async #resources(
    context: CallContext,
    action = 'resources/list',
  ): Promise<{ upstream: Upstream; item: Resource }[]> {
    const seen = new Set<string>();
    const list = (u: Upstream, c: CredentialSource) => u.listResources(c, session(context));
    return (await this.#listAll(context, action, list)).filter((r) => {
      if (seen.has(r.item.uri)) return false;
      seen.add(r.item.uri);
      return true;
    });
  }

  async listResources(context: CallContext): Promise<{ resources: Resource[] }> {
    const listed = await this.#resources(context);
    const shown = await this.#filterList(
      context,
      'resources',
      listed,
      (u, r) => ({ uri: r.uri, name: r.name, server: u.name }),
      (r) => r.uri,
    );
    return { resources: shown.map((r) => r.item) };
  }

  async listResourceTemplates(context: CallContext): Promise<{ resourceTemplates: ResourceTemplate[] }> {
    const listed = await this.#listAll(context, 'resources/templates/list', (u, c) =>
      u.listResourceTemplates(c, session(context)),
    );
    const input = this.#input(context, 'resources/templates/list', 'response', {
      server: { name: null },
      result: {
        resourceTemplates: listed.map((t) => ({ uriTemplate: t.item.uriTemplate, server: t.upstream.name })),
      },
    });
    const decision = await this.#decide(context, input);
    await this.#audit({
      ...this.#auditBase(context, input.request.id),
      kind: 'decision',
      phase: 'response',
      effect: decision.effect,
      reasons: decision.reasons,
      ...(decision.revision ? { bundleRevision: decision.revision } : {}),
      details: { action: 'resources/templates/list' },
    } as AuditEventInput);
    // Templates only describe URIs; reading one is decided per URI like any resource.
    return { resourceTemplates: decision.effect === 'deny' ? [] : listed.map((t) => t.item) };
  }

  async listPrompts(context: CallContext): Promise<{ prompts: Prompt[] }> {
    const listed = await this.#listAll(context, 'prompts/list', (u, c) => u.listPrompts(c, session(context)));
    const { naming } = this.#names(context, 'prompts', listed);
    const shown = await this.#filterList(
      context,
      'prompts',
      listed,
      (u, p) => ({ name: p.name, server: u.name }),
      (p) => p.name,
    );
    return {
      prompts: shown.map((p) => ({ ...p.item, name: naming.shown('prompts', p.upstream.name, p.item.name) })),
    };
  }

  /** Keeps this caller's upstream sessions open while it has a notification stream open. */
  holdSessions(context: Pick<CallContext, 'caller' | 'virtual'>): () => void {
    const key = session(context);
    const releases = (this.#virtuals.get(context.virtual) ?? []).map((u) => u.holdSession(key));
    return () => {
      for (const release of releases) release();
    };
  }

  /**
   * The upstreams' `instructions` for this caller, combined (relay.ts). An upstream that cannot be
   * reached or whose credential fails adds nothing: `initialize` does not fail for it.
   */
  async instructions(context: CallContext): Promise<string | undefined> {
    const upstreams = this.#virtuals.get(context.virtual) ?? [];
    const parts = await Promise.all(
      upstreams.map(async (u) => {
        try {
          const credential = await this.#credential(context, u, undefined);
          const ask = () => asCaller(this.#capabilities(context), () => u.instructions(session(context)));
          return {
            upstream: u.name,
            instructions: await (credential ? withUpstreamHeaders(credential.headers, ask) : ask()),
          };
        } catch {
          return { upstream: u.name, instructions: undefined };
        }
      }),
    );
    return combineInstructions(parts);
  }

  // ------------------------------------------------------------------ calls

  /**
   * The upstream and own name a shown tool or prompt name leads to. Prefixed names and aliases say
   * so themselves; a bare name needs every member's list (and is checked against collisions).
   */
  async #resolve<T extends { name: string }>(
    context: CallContext,
    kind: NamedKind,
    shown: string,
    action: Action,
    list: (u: Upstream, credential: CredentialSource) => Promise<T[]>,
  ): Promise<{ upstream: Upstream; name: string } | undefined> {
    const naming = this.#naming.get(context.virtual)!;
    const members = this.#virtuals.get(context.virtual) ?? [];
    let target = naming.resolveStatic(kind, shown);
    if (!target && naming.needsLists)
      target = this.#names(context, kind, await this.#listAll(context, action, list)).table.get(shown);
    const upstream = target && members.find((u) => u.name === target.upstream);
    return upstream && target ? { upstream, name: target.name } : undefined;
  }

  /**
   * The tool or prompt shown as `qualified`, when it exists upstream and this caller may see it by
   * the list decision; otherwise exactly the unknown-item error (hidden equals absent).
   */
  async #findVisible<T extends { name: string }>(
    context: CallContext,
    qualified: string,
    kind: 'tools' | 'prompts',
    list: (u: Upstream, credential: CredentialSource) => Promise<T[]>,
    facts: (u: Upstream, item: T) => Record<string, unknown>,
    notFound: (name: string) => GatewayError,
    args: Record<string, unknown>,
    action: Action = kind === 'tools' ? 'tools/call' : 'prompts/get',
  ): Promise<{ upstream: Upstream; item: T }> {
    const type: TargetType = kind === 'tools' ? 'tool' : 'prompt';
    const noun = kind === 'tools' ? 'tool' : 'prompt';
    const unseen = (reason: string, upstream?: Upstream, decision?: Decision) =>
      this.#unseen(context, action, type, qualified, args, reason, notFound(qualified), upstream, decision);
    const split = await this.#resolve(context, kind, qualified, action, list);
    if (!split) {
      const at = qualified.indexOf(NAME_SEPARATOR);
      const prefix = at > 0 ? qualified.slice(0, at) : '';
      const why =
        this.#naming.get(context.virtual)?.mode === 'prefixed' &&
        !(this.#virtuals.get(context.virtual) ?? []).some((u) => u.name === prefix)
          ? ' (no such upstream)'
          : '';
      throw await unseen(
        `no upstream of virtual server ${context.virtual} offers ${noun} ${qualified}${why}`,
      );
    }
    const { upstream } = split;
    const item = (await this.#listed(context, action, upstream, list)).find((x) => x.name === split.name);
    if (!item) throw await unseen(`upstream ${upstream.name} offers no ${noun} ${split.name}`, upstream);
    const { visible, decision } = await this.#visible(
      context,
      `${kind}/list`,
      upstream.name,
      { [kind]: [facts(upstream, item)] },
      `visible_${kind}`,
      false,
    );
    if (!visible.has(item.name))
      throw await unseen(
        `${noun} ${qualified} is hidden from agent ${agentKey(context.caller)} by policy`,
        upstream,
        decision,
      );
    return { upstream, item };
  }

  async callTool(
    context: CallContext,
    qualified: string,
    args: Record<string, unknown>,
  ): Promise<CallToolResult> {
    await this.#refuseUnstorable(context, 'tools/call', 'tool', qualified, args);
    const { upstream, item: tool } = await this.#findVisible(
      context,
      qualified,
      'tools',
      (u, c) => u.listTools(c, session(context)),
      toolFacts,
      unknownTool,
      args,
    );
    context.checkTool?.(tool, args);
    const target: Target = {
      type: 'tool',
      upstream,
      name: tool.name,
      part: { tool: { name: tool.name, annotations: tool.annotations ?? {} } },
    };
    return this.#forward(context, 'tools/call', target, args, (forwarded) =>
      upstream.callTool(tool.name, forwarded, upstreamCall(context)),
    ) as Promise<CallToolResult>;
  }

  async readResource(context: CallContext, uri: string): Promise<ReadResourceResult> {
    return this.#onResource(context, 'resources/read', uri, (upstream) =>
      upstream.readResource(uri, upstreamCall(context)),
    ) as Promise<ReadResourceResult>;
  }

  /** `resources/subscribe` and `resources/unsubscribe`: found, decided and audited like `resources/read`. */
  subscribeResource(context: CallContext, uri: string, subscribe: boolean): Promise<Record<string, unknown>> {
    return this.#onResource(context, subscribe ? 'resources/subscribe' : 'resources/unsubscribe', uri, (u) =>
      u.subscribeResource(uri, subscribe, upstreamCall(context)),
    ) as Promise<Record<string, unknown>>;
  }

  async #onResource(
    context: CallContext,
    action: ResourceAction,
    uri: string,
    send: (upstream: Upstream) => Promise<unknown>,
  ): Promise<unknown> {
    await this.#refuseUnstorable(context, action, 'resource', uri, { uri });
    const listed = await this.#resources(context, action);
    let owner = listed.find((r) => r.item.uri === uri);
    let name = owner?.item.name;
    if (!owner) {
      const templates = await this.#listAll(context, action, (u, c) =>
        u.listResourceTemplates(c, session(context)),
      );
      const t = templates.find((x) => templateMatches(x.item.uriTemplate, uri));
      if (t) owner = { upstream: t.upstream, item: { uri, name: t.item.name } };
      name = t?.item.name;
    }
    const unseen = (reason: string, upstream?: Upstream, decision?: Decision) =>
      this.#unseen(
        context,
        action,
        'resource',
        uri,
        { uri },
        reason,
        unknownResource(uri),
        upstream,
        decision,
      );
    if (!owner) throw await unseen(`no upstream of virtual server ${context.virtual} offers resource ${uri}`);
    const { visible, decision } = await this.#visible(
      context,
      'resources/list',
      owner.upstream.name,
      { resources: [{ uri, name, server: owner.upstream.name }] },
      'visible_resources',
      false,
    );
    if (!visible.has(uri))
      throw await unseen(
        `resource ${uri} is hidden from agent ${agentKey(context.caller)} by policy`,
        owner.upstream,
        decision,
      );
    const upstream = owner.upstream;
    const target: Target = { type: 'resource', upstream, name: uri, part: { resource: { uri } } };
    return this.#forward(context, action, target, { uri }, () => send(upstream));
  }

  /**
   * `logging/setLevel`: one request-phase decision per upstream of the virtual server (each
   * audited); any deny refuses the whole request before anything is sent. Then the level is set on
   * the caller's own session of each upstream offering logging (not on shared sessions: see
   * session-state.ts), each outcome audited.
   */
  async setLoggingLevel(context: CallContext, level: LoggingLevel): Promise<Record<string, never>> {
    const action = 'logging/setLevel';
    const upstreams = this.#virtuals.get(context.virtual) ?? [];
    const decided: { upstream: Upstream; id: string; decision: Decision }[] = [];
    for (const upstream of upstreams) {
      const input = this.#input(context, action, 'request', {
        server: { name: upstream.name },
        arguments: { level },
      });
      const decision = await this.#decide(context, input, { upstream: upstream.name });
      await this.#audit({
        ...this.#auditBase(context, input.request.id),
        kind: 'decision',
        phase: 'request',
        effect: decision.effect,
        reasons: decision.reasons,
        ...(decision.revision ? { bundleRevision: decision.revision } : {}),
        upstreamServer: upstream.name,
        arguments: { level },
        details: { action },
      } as AuditEventInput);
      decided.push({ upstream, id: input.request.id, decision });
    }
    const refused = decided.find((d) => d.decision.effect !== 'allow');
    if (refused)
      throw gatewayError(
        GatewayErrorCode.Denied,
        `denied by policy: ${refused.decision.reasons.join('; ')}`,
        {
          decision_id: refused.id,
          reasons: refused.decision.reasons,
        },
      );
    for (const { upstream, id } of decided) {
      let details: Record<string, Json>;
      let failure: GatewayError | undefined;
      try {
        const set = await this.#withCredential(context, upstream, undefined, () =>
          upstream.setLoggingLevel(level, upstreamCall(context)),
        );
        details = { action, forwarded: set };
      } catch (err) {
        failure =
          err instanceof GatewayError
            ? withoutAuditReason(err)
            : upstreamFailure(err, upstream.name, { decision_id: id });
        details = {
          action,
          error: withoutSecrets(withoutPaths(errorMessage(err))),
          ...upstreamOutcome(err),
        } as Record<string, Json>;
      }
      await this.#audit({
        ...this.#auditBase(context, id),
        kind: 'call_result',
        phase: 'response',
        upstreamServer: upstream.name,
        details,
      } as AuditEventInput);
      if (failure) throw failure;
    }
    return {};
  }

  async getPrompt(
    context: CallContext,
    qualified: string,
    args: Record<string, string>,
  ): Promise<GetPromptResult> {
    await this.#refuseUnstorable(context, 'prompts/get', 'prompt', qualified, args);
    const { upstream, item: prompt } = await this.#findVisible(
      context,
      qualified,
      'prompts',
      (u, c) => u.listPrompts(c, session(context)),
      (u, p) => ({ name: p.name, server: u.name }),
      unknownPrompt,
      args,
    );
    const target: Target = {
      type: 'prompt',
      upstream,
      name: prompt.name,
      part: { prompt: { name: prompt.name } },
    };
    return this.#forward(context, 'prompts/get', target, args, (forwarded) =>
      upstream.getPrompt(prompt.name, forwarded as Record<string, string>, upstreamCall(context)),
    ) as Promise<GetPromptResult>;
  }

  /**
   * Completion of an argument of a prompt (`<upstream>__<name>`, visible to this caller) or of a
   * resource template (its URI template, as listed): decided, audited and forwarded like a call.
   */
  async complete(context: CallContext, params: CompleteRequest['params']): Promise<CompleteResult> {
    const args = {
      argument: params.argument,
      ...(params.context ? { context: params.context } : {}),
    } as Record<string, unknown>;
    const ref = params.ref;
    let target: Target;
    if (ref.type === 'ref/prompt') {
      await this.#refuseUnstorable(context, 'completion/complete', 'prompt', ref.name, args);
      const { upstream, item } = await this.#findVisible(
        context,
        ref.name,
        'prompts',
        (u, c) => u.listPrompts(c, session(context)),
        (u, p) => ({ name: p.name, server: u.name }),
        unknownPrompt,
        args,
        'completion/complete',
      );
      const own = { type: 'ref/prompt', name: item.name };
      target = { type: 'prompt', upstream, name: item.name, part: { prompt: { name: item.name }, ref: own } };
    } else {
      await this.#refuseUnstorable(context, 'completion/complete', 'resource', ref.uri, args);
      const templates = await this.#listAll(context, 'completion/complete', (u, c) =>
        u.listResourceTemplates(c, session(context)),
      );
      const owner = templates.find((t) => t.item.uriTemplate === ref.uri);
      if (!owner)
        throw await this.#unseen(
          context,
          'completion/complete',
          'resource',
          ref.uri,
          args,
          `no upstream of virtual server ${context.virtual} offers resource template ${ref.uri}`,
          gatewayError(GatewayErrorCode.NotFound, `Resource template ${ref.uri} not found`),
        );
      target = {
        type: 'resource',
        upstream: owner.upstream,
        name: ref.uri,
        part: { resource: { uri: ref.uri }, ref: { type: 'ref/resource', uri: ref.uri } },
      };
    }
    const upstream = target.upstream;
    const forwardedRef = target.part.ref as CompleteRequest['params']['ref'];
    return this.#forward(context, 'completion/complete', target, args, (forwarded) =>
      upstream.complete(
        { ...forwarded, ref: forwardedRef } as CompleteRequest['params'],
        upstreamCall(context),
      ),
    ) as Promise<CompleteResult>;
  }

  /** Decide, audit and execute one forwarded call, then decide and audit its result. */
  async #forward(
    context: CallContext,
    action: Action,
    target: Target,
    args: Record<string, unknown>,
    send: (forwarded: Record<string, unknown>) => Promise<unknown>,
  ): Promise<unknown> {
    const key = agentKey(context.caller);
    if (!this.#calls.take(key))
      throw gatewayError(
        GatewayErrorCode.LimitExceeded,
        `agent ${key} already has ${this.#calls.limit} calls in flight (limit ${this.#calls.limit}); retry when one has finished`,
        { limit: this.#calls.limit },
      );
    try {
      return await this.#decideAndSend(context, action, target, args, send);
    } finally {
      this.#calls.release(key);
    }
  }

  async #decideAndSend(
    context: CallContext,
    action: Action,
    target: Target,
    args: Record<string, unknown>,
    send: (forwarded: Record<string, unknown>) => Promise<unknown>,
  ): Promise<unknown> {
    const { upstream } = target;
    const input = this.#input(context, action, 'request', {
      server: { name: upstream.name },
      ...target.part,
      arguments: args,
    });
    let decisionId: string = input.request.id;
    const auditTarget = { type: target.type, name: target.name };
    const about: About = { upstream: upstream.name, target: auditTarget };
    let decision = await this.#decide(context, input, about);
    const base = () => ({
      ...this.#auditBase(context, decisionId),
      upstreamServer: upstream.name,
      target: auditTarget,
    });
    // Arguments are kept in the audit trail as the policy asked, whatever the effect.
    const kept = decision.redact ? redactArguments(args, decision.redact.arguments) : args;
    const masked = maskedArguments(decision.redact?.arguments);
    // The target's type names the action of the others; subscriptions and completions say what they were.
    const named = told(action);
    // The input that made `d` is kept beside it (without the arguments, kept above), for replay.
    const recordDecision = (d: Decision, approvalId?: string, details?: Json, asked: unknown = input) =>
      this.#audit({
        ...base(),
        kind: 'decision',
        phase: 'request',
        effect: d.effect,
        reasons: d.reasons,
        ...(d.revision ? { bundleRevision: d.revision } : {}),
        ...(approvalId ? { approvalId } : {}),
        details: {
          ...named,
          ...(details as object),
          ...keptInput(asked),
          ...masked,
        },
        arguments: kept as Json,
      } as AuditEventInput);

    let approvalId: string | undefined;
    if (decision.effect === 'require_approval') {
      await recordDecision(decision);
      if (!this.#approvals || target.type !== 'tool')
        throw gatewayError(
          GatewayErrorCode.PolicyUnavailable,
          this.#approvals
            ? `the policy asks for approval of ${action}, which only tools/call supports; nothing was forwarded`
            : 'the policy asks for approval but no approval store is configured; nothing was forwarded',
          { decision_id: decisionId, reasons: decision.reasons },
        );
      let granted: Awaited<ReturnType<ApprovalGate['resolve']>>;
      const approvals = this.#approvals;
      try {
        granted = await this.#stages.run('approval', () =>
          approvals.resolve({
            context,
            input,
            decision,
            upstream: upstream.name,
            tool: target.name,
            arguments: args,
            audit: (event) => this.#audit({ ...base(), ...event } as AuditEventInput),
          }),
        );
      } catch (err) {
        if (!(err instanceof GatewayError))
          throw gatewayError(
            GatewayErrorCode.PolicyUnavailable,
            `approval store failed, nothing forwarded: ${errorMessage(err)}`,
            { decision_id: decisionId },
          );
        // One-shot approvals are a rule of execution: the gateway's refusal is recorded as a deny.
        if (err.code === GatewayErrorCode.ApprovalRefused)
          await recordDecision(
            { effect: 'deny', reasons: [err.message], revision: decision.revision },
            typeof err.data?.approval_id === 'string' ? err.data.approval_id : undefined,
            { approval_refused: (err.data?.reason as string | undefined) ?? null },
          );
        throw err;
      }
      decision = granted.decision;
      decisionId = granted.decisionId;
      approvalId = granted.approvalId;
      await recordDecision(decision, approvalId, undefined, granted.input ?? input);
    } else {
      await recordDecision(decision);
    }
    const data = { decision_id: decisionId, reasons: decision.reasons };
    if (decision.effect === 'deny')
      throw gatewayError(GatewayErrorCode.Denied, `denied by policy: ${decision.reasons.join('; ')}`, data);
    if (decision.effect === 'require_approval')
      throw gatewayError(GatewayErrorCode.ApprovalRefused, 'the approval does not satisfy the policy', {
        ...data,
        reason: 'insufficient',
      });
    const forwarded =
      decision.effect === 'redact' && decision.redact
        ? redactArguments(args, decision.redact.arguments)
        : args;

    const started = performance.now();
    let result: unknown;
    try {
      // The request's own log level: the upstream's messages during the call come before its answer.
      const logs =
        context.logLevel && context.sendNotification
          ? requestLogSink(
              this.#relayPolicy(context, about),
              upstream.name,
              context.logLevel,
              (n) => context.sendNotification?.(fromUpstream(upstream.name, n)) ?? Promise.resolve(),
            )
          : undefined;
      const relay = this.#relayCall(context, action, target, decisionId, logs);
      result = await this.#stages.run(
        'upstream',
        () =>
          this.#withCredential(context, upstream, decision.credentials, () =>
            withRelayCall(relay, () => send(forwarded)).finally(() => logs?.drained()),
          ),
        {
          // Resource URIs stay out of span names (high cardinality, and they may name records).
          name: target.type === 'resource' ? action : `${action} ${target.name}`,
          kind: SpanKind.CLIENT,
          attributes: () => ({
            'airlock.upstream': upstream.name,
            'mcp.method.name': action,
            ...(target.type === 'tool' ? { 'gen_ai.tool.name': target.name } : {}),
            ...(target.type === 'prompt' ? { 'gen_ai.prompt.name': target.name } : {}),
          }),
        },
      );
    } catch (err) {
      const failure =
        err instanceof GatewayError
          ? withoutAuditReason(err)
          : upstreamFailure(err, upstream.name, { decision_id: decisionId });
      // The trail keeps what happened (without paths or credentials); the agent gets `failure`.
      const credentialError = err instanceof GatewayError ? err.data?.credential_error : undefined;
      await this.#audit({
        ...base(),
        kind: 'call_result',
        phase: 'response',
        ...(approvalId ? { approvalId } : {}),
        details: {
          ...told(action),
          error:
            typeof credentialError === 'string'
              ? String((err as GatewayError).data?.audit_reason)
              : err instanceof GatewayError
                ? err.message
                : withoutSecrets(withoutPaths(errorMessage(err))),
          ...(typeof credentialError === 'string' ? { credential_error: credentialError } : {}),
          ...upstreamOutcome(err),
        },
        timings: { upstream_ms: performance.now() - started },
      } as AuditEventInput);
      throw failure;
    }
    const upstreamMs = performance.now() - started;

    const responseInput = this.#input(context, action, 'response', {
      server: { name: upstream.name },
      ...target.part,
      arguments: forwarded,
      result,
    });
    const response = await this.#decide(context, responseInput, about);
    let returned = result;
    if (response.redact) {
      const patterns = new Map<string, RegExp | undefined>();
      for (const r of response.redact.result)
        if (!patterns.has(r.pattern)) patterns.set(r.pattern, await this.#pattern(r.pattern));
      returned = redactResult(result, response.redact.result, (p) => patterns.get(p));
    }
    const withheld = response.effect === 'deny' || response.effect === 'require_approval';
    await this.#audit({
      ...base(),
      kind: 'call_result',
      phase: 'response',
      effect: response.effect,
      reasons: response.reasons,
      ...(response.revision ? { bundleRevision: response.revision } : {}),
      ...(approvalId ? { approvalId } : {}),
      result: (withheld ? null : returned) as Json,
      timings: { upstream_ms: upstreamMs },
      details: { ...told(action), response_decision_id: responseInput.request.id },
    } as AuditEventInput);
    if (withheld)
      throw gatewayError(
        GatewayErrorCode.Denied,
        `result withheld by policy: ${response.reasons.join('; ')}`,
        {
          decision_id: responseInput.request.id,
          reasons: response.reasons,
        },
      );
    // The decision id travels with the result, so agents can cite it (and find it in the audit trail).
    const meta = (returned as { _meta?: Record<string, unknown> })._meta;
    return { ...(returned as object), _meta: { ...meta, [DECISION_META_KEY]: decisionId } };
  }

  /** The call server→client requests made during it belong to, with this gateway's decide and audit. */
  #relayCall(
    context: CallContext,
    action: string,
    target: Target,
    decisionId: string,
    logs: RequestLogSink | undefined,
  ): RelayCall {
    const upstream = target.upstream.name;
    const about: About = { upstream, target: { type: target.type, name: target.name } };
    return {
      upstream,
      action,
      target: about.target!,
      decisionId,
      send: context.clientRequest,
      clientCapabilities: context.clientCapabilities,
      policy: this.#relayPolicy(context, about),
      log: logs?.log,
    };
  }

  /** This gateway's decide and audit for what `upstream` relays to `context`'s caller outside a call (log messages). */
  relayPolicy(context: Pick<CallContext, 'caller' | 'virtual'>, upstream: string): RelayPolicy {
    return this.#relayPolicy(context, { upstream });
  }

  #relayPolicy(context: CallContext | undefined, about: About): RelayPolicy {
    return {
      input: (a, phase, extra) => this.#input(context, a, phase, extra),
      decide: (input) => this.#decide(context, input, about),
      base: (id) => this.#auditBase(context, id),
      audit: (event) => this.#audit(event),
      maskResult: async (result, rules) => {
        const patterns = new Map<string, RegExp | undefined>();
        for (const r of rules)
          if (!patterns.has(r.pattern)) patterns.set(r.pattern, await this.#pattern(r.pattern));
        return redactResult(result, rules, (p) => patterns.get(p));
      },
    };
  }

  /**
   * What an upstream session declares of the client's capabilities, decided when it opens
   * (relay/client-capabilities.ts): for `context`'s caller, or (undefined) for a shared session.
   */
  #capabilities(context: CallContext | undefined): CapabilityDecider {
    return (upstream) =>
      decideCapabilities(
        this.#relayPolicy(context, { upstream }),
        upstream,
        context?.clientCapabilities,
        context === undefined,
      );
  }

  /**
   * Runs `send` carrying the caller's upstream credential (HTTP upstreams, when identity is
   * configured). A 401 from the upstream gets one fresh credential; any credential failure is the
   * call's failure (fail closed), never a call without one.
   */
  async #withCredential<T>(
    context: CallContext,
    upstream: Upstream,
    obligation: Decision['credentials'],
    send: () => Promise<T>,
  ): Promise<T> {
    const credential = await this.#credential(context, upstream, obligation);
    const decided = this.#capabilities(context);
    const asked = () => asCaller(decided, send);
    if (!credential) return asked();
    try {
      return await withUpstreamHeaders(credential.headers, asked);
    } catch (err) {
      if (!(err instanceof UpstreamError) || err.status !== 401) throw err;
      let fresh: UpstreamCredential | undefined;
      try {
        fresh = await credential.refreshAfterUnauthorized();
      } catch (refreshErr) {
        throw credentialFailure(upstream, refreshErr);
      }
      if (!fresh) throw err;
      return withUpstreamHeaders(fresh.headers, asked);
    }
  }

  /** The caller's credential for an HTTP upstream; undefined when none applies (stdio, no identity). */
  async #credential(
    context: CallContext,
    upstream: Upstream,
    obligation: Decision['credentials'],
  ): Promise<UpstreamCredential | undefined> {
    const identity = this.#options.identity;
    const principal = context.caller.principal;
    if (!identity || !principal || upstream.transport !== 'http') return undefined;
    try {
      return await identity.credentials.credentialFor(upstream.name, principal, obligation);
    } catch (err) {
      throw credentialFailure(upstream, err);
    }
  }

  /** `pii.<name>` → the detector's regex from the active bundle's data; undefined masks the whole string. */
  async #pattern(pattern: string): Promise<RegExp | undefined> {
    const m = /^pii\.([A-Za-z0-9_]+)$/.exec(pattern);
    if (!m?.[1]) return undefined;
    try {
      const q = await this.#options.engine.query(['pii', 'detectors', m[1], 'regex'], {});
      return q.defined && typeof q.result === 'string' ? detectorRegExp(q.result) : undefined;
    } catch {
      return undefined;
    }
  }
}

function toolFacts(upstream: Upstream, tool: Tool) {
  return { name: tool.name, server: upstream.name, annotations: tool.annotations ?? {} };
}

/** The decision input the gateway builds (what the audit of a failed evaluation needs of it). */
type DecisionInput = { phase: 'request' | 'response'; action: string; request: { id: string } };

const auditText = (s: string) => (s.length > MAX_AUDIT_TEXT ? `${s.slice(0, MAX_AUDIT_TEXT - 1)}…` : s);

/**
 * A credential that cannot be had. The agent learns only which kind of failure it was; the audit
 * reason (in `data.audit_reason`, removed before the error leaves the gateway) keeps the identity
 * layer's account without URLs or token material.
 */
function credentialFailure(upstream: Upstream, err: unknown): GatewayError {
  const code = err instanceof IdentityError ? err.code : 'credential_unavailable';
  const why =
    err instanceof IdpUnavailableError
      ? 'the identity provider is unreachable; try again later'
      : 'the credential could not be obtained';
  return gatewayError(
    GatewayErrorCode.PolicyUnavailable,
    `no upstream credential for ${upstream.name}: ${why}`,
    {
      upstream: upstream.name,
      credential_error: code,
      audit_reason: `upstream credential for ${upstream.name} failed (${code}): ${withoutSecrets(withoutPaths(errorMessage(err)))}`,
    },
  );
}

/** `err` without the audit-only part of its data. */
function withoutAuditReason(err: GatewayError): GatewayError {
  if (err.data?.audit_reason === undefined) return err;
  const { audit_reason: _, ...data } = err.data;
  return new GatewayError(err.code, err.message, data);
}

/** Whether `uri` fits an RFC 6570 template's simple `{var}` expressions (one path segment each). */
export function templateMatches(template: string, uri: string): boolean {
  const parts = template.split(/\{[^}]*\}/);
  const pattern = parts.map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('([^/?#]+)');
  return new RegExp(`^${pattern}$`).test(uri);
}
