// Requests in flight, so a client's `notifications/cancelled` finds the request it names. The
// front is stateless: a cancellation arrives on an HTTP request of its own, served by another MCP
// Server instance than the call it cancels, so the call is found by caller and request id. Aborting
// a request aborts its upstream request, which tells the upstream (`notifications/cancelled`).
import type { RequestId } from '@modelcontextprotocol/sdk/types.js';

/** What an MCP request handler is given by the SDK (the part this module uses). */
interface Extra {
  signal: AbortSignal;
  requestId: RequestId;
}

export class InFlight {
  readonly #requests = new Map<string, Set<AbortController>>();

  static #key(caller: string, id: RequestId): string {
    return `${caller}\u0000${typeof id}:${String(id)}`;
  }

  /**
   * `handler` with its `extra.signal` replaced by one that also aborts when `cancel(caller, id)` names
   * the request; handlers without `extra` (none is given) run as they are.
   */
  cancellable<A extends unknown[], R>(caller: string, handler: (...args: A) => Promise<R>) {
    return async (...args: A): Promise<R> => {
      const extra = args[1] as Extra | undefined;
      if (!extra?.signal || extra.requestId === undefined) return handler(...args);
      const key = InFlight.#key(caller, extra.requestId);
      const controller = new AbortController();
      const onAbort = () => controller.abort(extra.signal.reason);
      if (extra.signal.aborted) onAbort();
      else extra.signal.addEventListener('abort', onAbort, { once: true });
      let set = this.#requests.get(key);
      if (!set) this.#requests.set(key, (set = new Set()));
      set.add(controller);
      try {
        const replaced = [args[0], { ...extra, signal: controller.signal }, ...args.slice(2)] as unknown as A;
        return await handler(...replaced);
      } finally {
        extra.signal.removeEventListener('abort', onAbort);
        set.delete(controller);
        if (set.size === 0 && this.#requests.get(key) === set) this.#requests.delete(key);
      }
    };
  }

  /** Cancels `caller`'s request `id`, if it is in flight here; true when one was. */
  cancel(caller: string, id: RequestId, reason?: string): boolean {
    const set = this.#requests.get(InFlight.#key(caller, id));
    if (!set) return false;
    for (const c of set) c.abort(reason ?? 'cancelled by the client');
    return true;
  }

  /** Requests in flight now. */
  get size(): number {
    let n = 0;
    for (const s of this.#requests.values()) n += s.size;
    return n;
  }
}
