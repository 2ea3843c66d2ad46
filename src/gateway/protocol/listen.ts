// `subscriptions/listen` (protocol revision 2026-07-28): the client's one long POST on which list
// changes reach it, in place of the session revisions' GET stream. The response is an SSE stream
// opening with `notifications/subscriptions/acknowledged` (the part of the requested filter Airlock
// honours), then each `notifications/{tools,resources,prompts}/list_changed` of the virtual
// server's upstreams, every one stamped with the listen request's id; and, for the resources named
// in `resourceSubscriptions` that the caller may subscribe to (listen-resources.ts), their
// `notifications/resources/updated`.
import type { ServerResponse } from 'node:http';
import type { ListKind } from '../upstream.js';
import { SERVER_VERSION } from './per-request-front.js';
import { META } from './revisions.js';

const SUBSCRIPTION_ID = 'io.modelcontextprotocol/subscriptionId';

/** SSE comment sent this often so idle intermediaries keep the stream open. */
const KEEP_ALIVE_MS = 15_000;

export interface Filter {
  toolsListChanged?: true;
  promptsListChanged?: true;
  resourcesListChanged?: true;
  /** Resource URIs; in a requested filter those asked for, in an honoured one those subscribed. */
  resourceSubscriptions?: string[];
}

/** Resources one listen request may subscribe to. */
export const MAX_RESOURCE_SUBSCRIPTIONS = 64;

const FILTER_KEY: Record<ListKind, keyof Filter> = {
  tools: 'toolsListChanged',
  prompts: 'promptsListChanged',
  resources: 'resourcesListChanged',
};

interface Subscription {
  id: string | number;
  honoured: Filter;
  raw: ServerResponse;
}

/** The filter in a listen request's params, or undefined when it is not one. */
export function readFilter(params: unknown): Filter | undefined {
  const n = (params as { notifications?: unknown } | undefined)?.notifications;
  if (n === null || typeof n !== 'object' || Array.isArray(n)) return undefined;
  const f = n as Record<string, unknown>;
  for (const k of ['toolsListChanged', 'promptsListChanged', 'resourcesListChanged'])
    if (f[k] !== undefined && typeof f[k] !== 'boolean') return undefined;
  const uris = f.resourceSubscriptions;
  if (
    uris !== undefined &&
    !(
      Array.isArray(uris) &&
      uris.length <= MAX_RESOURCE_SUBSCRIPTIONS &&
      uris.every((u) => typeof u === 'string' && u !== '')
    )
  )
    return undefined;
  const honoured: Filter = {};
  if (f.toolsListChanged === true) honoured.toolsListChanged = true;
  if (f.promptsListChanged === true) honoured.promptsListChanged = true;
  if (f.resourcesListChanged === true) honoured.resourcesListChanged = true;
  if (Array.isArray(uris) && uris.length > 0) honoured.resourceSubscriptions = [...new Set(uris as string[])];
  return honoured;
}

function frame(message: unknown): string {
  return `event: message\ndata: ${JSON.stringify(message)}\n\n`;
}

/** Open listen streams, per virtual server. */
export class ListenStreams {
  readonly #open = new Map<string, Set<Subscription>>();

  /**
   * Answers a listen request on `raw` (already taken over from the framework) and keeps the stream
   * until the client goes away; `onClose` runs once then. Returns what sends one notification on the
   * stream, stamped with the listen request's id (undefined when closed at once: nothing honoured).
   */
  open(
    virtual: string,
    id: string | number,
    honoured: Filter,
    raw: ServerResponse,
    onClose: () => void,
  ): ((method: string, params: Record<string, unknown>) => void) | undefined {
    raw.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
    });
    raw.write(
      frame({
        jsonrpc: '2.0',
        method: 'notifications/subscriptions/acknowledged',
        params: { notifications: honoured, _meta: { [SUBSCRIPTION_ID]: id } },
      }),
    );
    if (Object.keys(honoured).length === 0) {
      // Nothing to listen for: closed at once, gracefully.
      raw.end(this.#closing(virtual, id));
      onClose();
      return undefined;
    }
    const sub: Subscription = { id, honoured, raw };
    let set = this.#open.get(virtual);
    if (!set) this.#open.set(virtual, (set = new Set()));
    set.add(sub);
    const registered = set;
    const keepAlive = setInterval(() => raw.write(': keep-alive\n\n'), KEEP_ALIVE_MS);
    keepAlive.unref();
    raw.on('close', () => {
      clearInterval(keepAlive);
      registered.delete(sub);
      onClose();
    });
    return (method, params) => {
      if (!raw.writableEnded)
        raw.write(
          frame({
            jsonrpc: '2.0',
            method,
            params: { ...params, _meta: { ...((params._meta as object) ?? {}), [SUBSCRIPTION_ID]: id } },
          }),
        );
    };
  }

  /** Passes on that `kind` changed to every listener of `virtual` that asked for it. */
  changed(virtual: string, kind: ListKind): void {
    for (const sub of this.#open.get(virtual) ?? [])
      if (sub.honoured[FILTER_KEY[kind]])
        sub.raw.write(
          frame({
            jsonrpc: '2.0',
            method: `notifications/${kind}/list_changed`,
            params: { _meta: { [SUBSCRIPTION_ID]: sub.id } },
          }),
        );
  }

  /** Ends every stream gracefully (the listen request's result), as on shutdown. */
  closeAll(): void {
    for (const [virtual, set] of this.#open)
      for (const sub of set) sub.raw.end(this.#closing(virtual, sub.id));
    this.#open.clear();
  }

  #closing(virtual: string, id: string | number): string {
    return frame({
      jsonrpc: '2.0',
      id,
      result: {
        resultType: 'complete',
        _meta: {
          [SUBSCRIPTION_ID]: id,
          [META.serverInfo]: { name: `airlock-${virtual}`, version: SERVER_VERSION },
        },
      },
    });
  }
}
