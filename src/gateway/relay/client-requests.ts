// The front end's half of relaying server→client requests: Airlock, as the MCP server its client
// talks to, sends a request (sampling, elicitation, roots, ping) on the SSE stream of the client's
// call in flight and waits for the answer. The front end is stateless, so the client's answer
// arrives on a separate POST (its own Server instance): it is routed here by the request's id, which
// Airlock makes unique, and accepted only from the caller the request was sent to.
import { randomUUID } from 'node:crypto';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { ErrorCode } from '@modelcontextprotocol/sdk/types.js';
import { GatewayError } from '../errors.js';

/** What identifies a caller for answers: only the caller a request was sent to may answer it. */
export type Owner = string;

/** The client answered a relayed request with a JSON-RPC error: its code, message and data, as sent. */
export class ClientAnswerError extends GatewayError {
  override name = 'ClientAnswerError';
}

interface Pending {
  owner: Owner;
  resolve: (result: Record<string, unknown>) => void;
  reject: (err: Error) => void;
}

/** Prefix of the ids of requests Airlock sends to its clients. */
const ID_PREFIX = 'airlock-s2c-';

type Message = { jsonrpc?: unknown; id?: unknown; method?: unknown; result?: unknown; error?: unknown };

const isResponse = (m: unknown): m is Message =>
  m !== null &&
  typeof m === 'object' &&
  !('method' in m) &&
  'id' in m &&
  ('result' in m || 'error' in m) &&
  !Array.isArray(m);

export class ClientRequests {
  readonly #pending = new Map<string, Pending>();

  /** Requests sent and not yet answered (for tests and metrics). */
  get size(): number {
    return this.#pending.size;
  }

  /**
   * Sends `method` to the client on the SSE stream of its request `relatedId` and resolves with the
   * client's result. Rejects with ClientAnswerError when the client answers an error, and with a
   * GatewayError when the call ends (`signal`) or `timeoutMs` passes first.
   */
  request(
    transport: Transport,
    relatedId: string | number,
    owner: Owner,
    method: string,
    params: Record<string, unknown> | undefined,
    options: { signal?: AbortSignal | undefined; timeoutMs: number },
  ): Promise<Record<string, unknown>> {
    const id = `${ID_PREFIX}${randomUUID()}`;
    return new Promise<Record<string, unknown>>((resolve, reject) => {
      const done = () => {
        this.#pending.delete(id);
        clearTimeout(timer);
        options.signal?.removeEventListener('abort', aborted);
      };
      const aborted = () => {
        done();
        reject(
          new GatewayError(
            ErrorCode.RequestTimeout,
            `the calling client's call ended before it answered ${method}`,
          ),
        );
      };
      const timer = setTimeout(() => {
        done();
        reject(
          new GatewayError(
            ErrorCode.RequestTimeout,
            `the calling client did not answer ${method} within ${options.timeoutMs} ms`,
          ),
        );
      }, options.timeoutMs);
      timer.unref?.();
      if (options.signal?.aborted) return aborted();
      options.signal?.addEventListener('abort', aborted, { once: true });
      this.#pending.set(id, {
        owner,
        resolve: (r) => {
          done();
          resolve(r);
        },
        reject: (e) => {
          done();
          reject(e);
        },
      });
      transport
        .send(
          { jsonrpc: '2.0', id, method, ...(params ? { params } : {}) } as Parameters<Transport['send']>[0],
          { relatedRequestId: relatedId },
        )
        .catch((err: unknown) => {
          this.#pending
            .get(id)
            ?.reject(
              new GatewayError(
                ErrorCode.InternalError,
                `${method} could not be sent to the calling client: ${err instanceof Error ? err.message : String(err)}`,
              ),
            );
        });
    });
  }

  /**
   * When `body` holds only answers to requests Airlock sent: delivers those owned by `owner` and
   * says so (`delivered`); answers naming a request sent to another caller, or none at all, are
   * `unknown` (the same, so that ids of others' requests cannot be probed). Anything else: `none`.
   */
  deliver(body: unknown, owner: Owner): 'none' | 'delivered' | 'unknown' {
    const messages = Array.isArray(body) ? body : [body];
    if (messages.length === 0 || !messages.every(isResponse)) return 'none';
    if (!messages.some((m) => typeof m.id === 'string' && m.id.startsWith(ID_PREFIX))) return 'none';
    let delivered = false;
    for (const m of messages) {
      const pending = typeof m.id === 'string' ? this.#pending.get(m.id) : undefined;
      if (!pending || pending.owner !== owner) continue;
      delivered = true;
      if ('error' in m && m.error !== undefined) {
        const e = m.error as { code?: unknown; message?: unknown; data?: unknown };
        pending.reject(
          new ClientAnswerError(
            Number.isSafeInteger(e?.code) ? (e.code as number) : ErrorCode.InternalError,
            typeof e?.message === 'string' ? e.message : 'the client answered an error',
            e?.data !== null && typeof e?.data === 'object' && !Array.isArray(e.data)
              ? (e.data as Record<string, unknown>)
              : undefined,
          ),
        );
      } else {
        const r = m.result;
        pending.resolve(
          r !== null && typeof r === 'object' && !Array.isArray(r) ? (r as Record<string, unknown>) : {},
        );
      }
    }
    return delivered ? 'delivered' : 'unknown';
  }
}
