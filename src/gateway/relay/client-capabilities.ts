// What an upstream sees of the calling client's capabilities. Airlock's client to an upstream
// declares, per upstream session, the intersection of what Airlock can relay (sampling,
// elicitation, roots), what the calling client declared (when Airlock knows it), and what policy
// allows: one decision (`action: "client/capabilities"`) when the session is opened, audited. A
// capability left out is one the upstream never sees, so it neither offers the tools that need it
// nor asks for it. A shared session (one for every caller) is decided for no caller in particular.
import type { ClientCapabilities } from '@modelcontextprotocol/sdk/types.js';
import type { AuditEventInput, Json } from '../../audit/index.js';
import type { RelayPolicy } from './server-requests.js';

export const CAPABILITIES_ACTION = 'client/capabilities';

/** The capabilities Airlock relays, by name, as it would declare each of them. */
const RELAYABLE = {
  sampling: {},
  elicitation: { form: {}, url: {} },
  roots: {},
} satisfies ClientCapabilities;

type Relayable = keyof typeof RELAYABLE;

const NAMES = Object.keys(RELAYABLE).sort() as Relayable[];

/** Every capability Airlock can relay, as declared when nothing narrows it. */
export function relayCapabilities(): ClientCapabilities {
  return structuredClone(RELAYABLE);
}

/**
 * What Airlock can relay of what the client declared (undefined: not known, everything relayable).
 * Elicitation keeps the client's modes (an empty object is form mode, as the specification says).
 */
export function offered(declared: ClientCapabilities | undefined): ClientCapabilities {
  if (!declared) return relayCapabilities();
  const out: ClientCapabilities = {};
  for (const name of NAMES) {
    const own = declared[name];
    if (own === undefined || own === null || typeof own !== 'object') continue;
    if (name === 'elicitation') {
      const modes = own as { form?: unknown; url?: unknown };
      out.elicitation =
        modes.form === undefined && modes.url === undefined
          ? {}
          : {
              ...(modes.form !== undefined ? { form: {} } : {}),
              ...(modes.url !== undefined ? { url: {} } : {}),
            };
    } else out[name] = {};
  }
  return out;
}

/** The names of the relayed capabilities in `capabilities`, sorted. */
export function capabilityNames(capabilities: ClientCapabilities): string[] {
  return NAMES.filter((n) => capabilities[n] !== undefined);
}

/** `capabilities` without those policy left out (`allowed` undefined: policy named none, keeps all). */
function narrowed(capabilities: ClientCapabilities, allowed: string[] | undefined): ClientCapabilities {
  if (!allowed) return capabilities;
  const out: ClientCapabilities = {};
  for (const name of NAMES)
    if (capabilities[name] !== undefined && allowed.includes(name)) out[name] = capabilities[name] as never;
  return out;
}

/**
 * The capabilities one upstream session declares: the policy's decision on what is offered,
 * audited (awaited) before the session opens. `allow`/`redact` keep what `client_capabilities`
 * names (all offered when it names none); `deny` and `require_approval` keep nothing, and so does
 * a decision that cannot be made. An audit row that cannot be written is thrown (the session does
 * not open).
 */
export async function decideCapabilities(
  policy: RelayPolicy,
  upstream: string,
  declared: ClientCapabilities | undefined,
  shared: boolean,
): Promise<ClientCapabilities> {
  const offer = shared ? relayCapabilities() : offered(declared);
  const args = {
    capabilities: shared ? null : ((declared ?? null) as Json),
    offered: capabilityNames(offer),
    shared,
  };
  const input = policy.input(CAPABILITIES_ACTION, 'request', { server: { name: upstream }, arguments: args });
  let decision: Awaited<ReturnType<RelayPolicy['decide']>>;
  try {
    decision = await policy.decide(input);
  } catch {
    // No usable decision (audited by the gateway as a failed evaluation): nothing is granted, so
    // nothing is declared; the session opens, each call still decided on its own.
    return {};
  }
  const kept =
    decision.effect === 'allow' || decision.effect === 'redact'
      ? narrowed(offer, decision.client_capabilities)
      : {};
  await policy.audit({
    ...policy.base(input.request.id),
    kind: 'decision',
    phase: 'request',
    effect: decision.effect,
    reasons: decision.reasons,
    ...(decision.revision ? { bundleRevision: decision.revision } : {}),
    upstreamServer: upstream,
    arguments: args as Json,
    details: { action: CAPABILITIES_ACTION, declared: capabilityNames(kept), shared },
  } as AuditEventInput);
  return kept;
}
