// Each caller's open notification streams (GET /mcp/{virtual}), so that what an upstream sends on a
// caller's own session — log messages, updates of resources it subscribed to — reaches that caller
// and nobody else.
import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import type { ServerNotification } from '@modelcontextprotocol/sdk/types.js';
import type { Caller } from './caller.js';

export class CallerStreams {
  readonly #streams = new Map<string, Set<Pick<Server, 'notification'>>>();
  /** The caller (as its latest stream was identified) and virtual server of each key. */
  readonly #callers = new Map<string, { caller: Caller; virtual: string }>();

  /**
   * Registers `server` (one open stream) for the caller `key` (sessionKey()), `who` being the
   * identified caller of that stream; returns its removal.
   */
  add(
    key: string,
    server: Pick<Server, 'notification'>,
    who?: { caller: Caller; virtual: string },
  ): () => void {
    let set = this.#streams.get(key);
    if (!set) this.#streams.set(key, (set = new Set()));
    set.add(server);
    if (who) this.#callers.set(key, who);
    const registered = set;
    return () => {
      registered.delete(server);
      if (registered.size === 0 && this.#streams.get(key) === registered) {
        this.#streams.delete(key);
        this.#callers.delete(key);
      }
    };
  }

  /** The caller listening under `key`, when it has an open stream. */
  callerOf(key: string): { caller: Caller; virtual: string } | undefined {
    return this.#streams.get(key)?.size ? this.#callers.get(key) : undefined;
  }

  /** Sends `notification` on every open stream of the caller `key`; false when it has none. */
  send(key: string, notification: ServerNotification): boolean {
    const set = this.#streams.get(key);
    if (!set?.size) return false;
    for (const server of set) void server.notification(notification).catch(() => {});
    return true;
  }
}
