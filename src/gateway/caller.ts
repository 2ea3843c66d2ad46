// Who is calling: the decision input's `user`, `agent` and `model`, plus the verified identity
// principal when there is one (upstream credentials are issued for it).
import {
  type DecisionIdentityInput,
  decisionInput,
  type Principal as IdentityPrincipal,
  withDeclaredModel,
} from '../identity/index.js';

export interface Caller {
  /** The verified principal (absent only for the test-only header). */
  principal?: IdentityPrincipal;
  user: DecisionIdentityInput['user'] | TestCaller['user'];
  agent: DecisionIdentityInput['agent'] | TestCaller['agent'];
  model: DecisionIdentityInput['model'] | TestCaller['model'];
}

/** The JSON shape of the test-only principal header. */
export interface TestCaller {
  user: { sub: string; email?: string; groups: string[]; claims: Record<string, unknown> };
  agent: { id: string; client_id?: string; claims: Record<string, unknown> };
  model: { provider: string; name: string; attested: boolean } | null;
}

/** TEST ONLY: the header carrying a JSON TestCaller when `trustTestPrincipalHeader` is set. */
export const TEST_PRINCIPAL_HEADER = 'x-airlock-test-principal';

export function callerFromPrincipal(principal: IdentityPrincipal): Caller {
  return { principal, ...decisionInput(principal) };
}

/** The caller with the model an MCP message declares in `_meta` (unless the token attests one). */
export function withMessageMeta(caller: Caller, meta: Record<string, unknown> | undefined): Caller {
  if (!caller.principal || !meta) return caller;
  return callerFromPrincipal(withDeclaredModel(caller.principal, meta));
}

export function callerFromTestHeader(raw: string | string[] | undefined): Caller | undefined {
  if (typeof raw !== 'string' || raw.length > 16_384) return undefined;
  try {
    const p = JSON.parse(raw) as TestCaller;
    return typeof p?.user?.sub === 'string' && typeof p?.agent?.id === 'string'
      ? { user: p.user, agent: p.agent, model: p.model }
      : undefined;
  } catch {
    return undefined;
  }
}

/** The key per-agent limits count under. */
export function agentKey(caller: Caller): string {
  return caller.agent.id ?? `user:${caller.user.sub}`;
}

/** A per-agent bound on things held at once (calls in flight, open streams). */
export class AgentSlots {
  readonly #held = new Map<string, number>();
  constructor(readonly limit: number) {}

  /** Takes one of `agent`'s slots; false (and nothing taken) when all are held. */
  take(agent: string): boolean {
    const n = this.#held.get(agent) ?? 0;
    if (n >= this.limit) return false;
    this.#held.set(agent, n + 1);
    return true;
  }

  release(agent: string): void {
    const n = (this.#held.get(agent) ?? 1) - 1;
    if (n <= 0) this.#held.delete(agent);
    else this.#held.set(agent, n);
  }
}
