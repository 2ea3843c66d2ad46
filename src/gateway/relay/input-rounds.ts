// Server→client requests for callers on protocol revision 2026-07-28, which has none on the wire:
// a server that needs input answers the call with `resultType: "input_required"` and the requests
// (`inputRequests`, keyed), and the client sends the same call again with its answers
// (`inputResponses`, same keys) and the server's `requestState` echoed ("multi round-trip
// requests"). Airlock keeps the call it forwarded running while the caller answers: each request
// the upstream makes during it (sampling, elicitation, roots — decided and audited in
// server-requests.ts before it gets here) is held as one input request of the current round; the
// round is answered `input_required` once the call either completes (its result) or waits on the
// caller; the retry's answers go back to the waiting upstream requests and the next round begins.
//
// What waits is bounded: a round's answer is awaited `waitMs` (then the waiting upstream requests
// get an error and the call is cancelled), a caller has at most `perCaller` calls awaiting input
// (the whole replica `total`), a round holds at most `perRound` requests and a call at most `rounds`
// rounds. `requestState` is a random id known only to this replica and accepted only from the
// caller it was given to; a retry must repeat the call it continues (method, target, arguments).
import { randomUUID } from 'node:crypto';
import { ErrorCode } from '@modelcontextprotocol/sdk/types.js';
import canonicalize from 'canonicalize';
import { GatewayError, GatewayErrorCode } from '../errors.js';
import type { ClientSender } from './server-requests.js';

/** The 2026-07-28 requests whose result may be `input_required` (and whose calls are relayed). */
export const INPUT_METHODS: ReadonlySet<string> = new Set(['tools/call', 'prompts/get', 'resources/read']);

/** The requests an upstream may make of the caller, as this revision embeds them. */
const EMBEDDABLE = new Set(['sampling/createMessage', 'elicitation/create', 'roots/list']);

export interface InputRoundLimits {
  /** How long the caller's answers to one round are awaited. */
  waitMs: number;
  /** Calls awaiting input per caller. */
  perCaller: number;
  /** Calls awaiting input on this replica. */
  total: number;
  /** Requests in one round. */
  perRound: number;
  /** `input_required` rounds of one call. */
  rounds: number;
}

export const DEFAULT_INPUT_LIMITS: Omit<InputRoundLimits, 'waitMs' | 'perCaller'> = {
  total: 1024,
  perRound: 16,
  rounds: 16,
};

export interface InputRequest {
  method: string;
  params: Record<string, unknown>;
}

/** How one round of a call ends. */
export type RoundOutcome =
  | { kind: 'complete'; result: Record<string, unknown> }
  | { kind: 'failed'; error: unknown }
  | { kind: 'input_required'; inputRequests: Record<string, InputRequest>; requestState: string };

/** What the call's forwarding is given: where its server→client requests and notifications go. */
export interface FlowHooks {
  sender: ClientSender;
  /** Aborted when the call is given up (the caller went away or did not answer in time). */
  signal: AbortSignal;
  /** Sends a notification on the current round's stream; dropped between rounds. */
  notify: (notification: Record<string, unknown>) => void;
}

/** One HTTP request carrying a round: its end and its stream (when answered on SSE). */
export interface RoundIO {
  /** Aborted when the caller goes away before the round is answered. */
  signal: AbortSignal;
  notify?: ((notification: Record<string, unknown>) => void) | undefined;
}

/** The call a round belongs to, as the retry must repeat it. */
export interface CallShape {
  method: string;
  params: Record<string, unknown>;
}

interface Asked extends InputRequest {
  resolve: (result: Record<string, unknown>) => void;
  reject: (err: Error) => void;
}

/** The parts of a call's params a retry must repeat: everything but `_meta` and the round's own fields. */
function callKey(shape: CallShape): string {
  const { _meta, inputResponses, requestState, ...rest } = shape.params;
  return `${shape.method} ${canonicalize(rest) ?? ''}`;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);

const invalid = (message: string, data?: Record<string, unknown>) =>
  new GatewayError(GatewayErrorCode.InvalidParams, `Invalid params: ${message}`, data);

class Flow {
  readonly id = randomUUID();
  readonly controller = new AbortController();
  readonly asked = new Map<string, Asked>();
  outcome: Extract<RoundOutcome, { kind: 'complete' | 'failed' }> | undefined;
  /** Wakes the round waiting for the call to complete or to ask something. */
  wake: (() => void) | undefined;
  /** The current round's stream; undefined between rounds. */
  notify: ((n: Record<string, unknown>) => void) | undefined;
  /** Whether a round is open (an HTTP request of the caller awaits its answer). */
  open = false;
  registered = false;
  ended: Error | undefined;
  timer: NodeJS.Timeout | undefined;
  rounds = 0;
  #next = 0;

  constructor(
    readonly owner: string,
    readonly key: string,
  ) {}

  nextKey(): string {
    this.#next += 1;
    return `airlock-input-${this.#next}`;
  }
}

export class InputRounds {
  readonly #flows = new Map<string, Flow>();
  readonly #perOwner = new Map<string, number>();

  constructor(readonly limits: InputRoundLimits) {}

  /** Calls awaiting input (for tests and metrics). */
  get size(): number {
    return this.#flows.size;
  }

  /**
   * The first round of a call of `owner`: runs `start` (the call's forwarding) and answers with its
   * result, or `input_required` as soon as it waits on the caller.
   */
  begin(
    owner: string,
    shape: CallShape,
    start: (hooks: FlowHooks) => Promise<Record<string, unknown>>,
    io: RoundIO,
  ): Promise<RoundOutcome> {
    const flow = new Flow(owner, callKey(shape));
    const hooks: FlowHooks = {
      sender: (method, params) => this.#ask(flow, method, params ?? {}),
      signal: flow.controller.signal,
      notify: (n) => flow.notify?.(n),
    };
    start(hooks).then(
      (result) => this.#settle(flow, { kind: 'complete', result }),
      (error: unknown) => this.#settle(flow, { kind: 'failed', error }),
    );
    return this.#round(flow, io);
  }

  /** A retry naming a `requestState`: its answers go to the waiting requests, then the next round. */
  resume(owner: string, shape: CallShape, io: RoundIO): Promise<RoundOutcome> {
    const { requestState, inputResponses } = shape.params;
    if (typeof requestState !== 'string')
      throw invalid(
        requestState === undefined
          ? 'inputResponses without requestState: every round Airlock asks for names its requestState'
          : 'requestState: expected the string of the input_required result',
      );
    const flow = this.#flows.get(requestState);
    if (!flow || flow.owner !== owner || flow.ended)
      throw invalid(
        `requestState names no call of this caller awaiting input (answered already, given up after ${this.limits.waitMs} ms, or begun on another replica)`,
      );
    if (flow.open) throw invalid('requestState: this call already has a retry in progress');
    if (callKey(shape) !== flow.key)
      throw invalid(
        'the retry differs from the call that asked for input (method, target and arguments must repeat it)',
      );
    if (flow.outcome) {
      // The call ended meanwhile (the upstream gave up waiting, say): its outcome is the answer.
      clearTimeout(flow.timer);
      this.#forget(flow);
      return Promise.resolve(flow.outcome);
    }
    if (inputResponses !== undefined && !isObject(inputResponses))
      throw invalid('inputResponses: expected an object keyed by the inputRequests keys');
    const answers = Object.entries(inputResponses ?? {});
    const unknown = answers.filter(([k]) => !flow.asked.has(k)).map(([k]) => k);
    if (unknown.length > 0)
      throw invalid(
        `inputResponses: no input request ${unknown.map((k) => JSON.stringify(k)).join(', ')} awaits an answer`,
        {
          unknown_keys: unknown,
          awaiting: [...flow.asked.keys()],
        },
      );
    const bad = answers.filter(([, v]) => !isObject(v) || 'method' in v).map(([k]) => k);
    if (bad.length > 0)
      throw invalid(
        `inputResponses: ${bad.map((k) => JSON.stringify(k)).join(', ')}: expected the result object of the request (not a JSON-RPC message)`,
        { invalid_keys: bad },
      );
    clearTimeout(flow.timer);
    for (const [k, v] of answers) {
      const asked = flow.asked.get(k) as Asked;
      flow.asked.delete(k);
      asked.resolve(v as Record<string, unknown>);
    }
    return this.#round(flow, io);
  }

  /** Ends every call awaiting input (shutdown). */
  closeAll(): void {
    for (const flow of [...this.#flows.values()])
      this.#end(flow, new GatewayError(ErrorCode.ConnectionClosed, 'Airlock is shutting down'));
  }

  #ask(flow: Flow, method: string, params: Record<string, unknown>): Promise<Record<string, unknown>> {
    // 2026-07-28 has no ping during a call: the caller is evidently there, Airlock answers.
    if (method === 'ping') return Promise.resolve({});
    if (flow.ended) return Promise.reject(flow.ended);
    if (!EMBEDDABLE.has(method))
      return Promise.reject(
        new GatewayError(
          ErrorCode.MethodNotFound,
          `${method} cannot be embedded in an input_required result`,
        ),
      );
    if (flow.asked.size >= this.limits.perRound)
      return Promise.reject(
        new GatewayError(
          ErrorCode.InvalidRequest,
          `too many requests await the calling client's answers in this call (limit ${this.limits.perRound})`,
        ),
      );
    if (!flow.registered) {
      const held = this.#perOwner.get(flow.owner) ?? 0;
      if (held >= this.limits.perCaller || this.#flows.size >= this.limits.total)
        return Promise.reject(
          new GatewayError(
            GatewayErrorCode.LimitExceeded,
            held >= this.limits.perCaller
              ? `the calling client already has ${held} calls awaiting its input (limit ${this.limits.perCaller})`
              : `too many calls await their clients' input on this replica (limit ${this.limits.total})`,
          ),
        );
      this.#perOwner.set(flow.owner, held + 1);
      this.#flows.set(flow.id, flow);
      flow.registered = true;
    }
    return new Promise((resolve, reject) => {
      flow.asked.set(flow.nextKey(), { method, params, resolve, reject });
      flow.wake?.();
    });
  }

  #settle(flow: Flow, outcome: Extract<RoundOutcome, { kind: 'complete' | 'failed' }>): void {
    flow.outcome = outcome;
    // Requests still waiting belong to a call that ended: nobody will need their answers.
    for (const asked of flow.asked.values())
      asked.reject(new GatewayError(ErrorCode.InvalidRequest, 'the call ended before the client answered'));
    flow.asked.clear();
    // Between rounds the outcome waits for the caller's retry (or the round's timer, which forgets it).
    flow.wake?.();
  }

  async #round(flow: Flow, io: RoundIO): Promise<RoundOutcome> {
    flow.open = true;
    flow.notify = io.notify;
    const gone = () =>
      this.#end(
        flow,
        new GatewayError(ErrorCode.RequestTimeout, 'the calling client went away during the call'),
      );
    if (io.signal.aborted) gone();
    io.signal.addEventListener('abort', gone, { once: true });
    try {
      await new Promise<void>((resolve) => {
        flow.wake = resolve;
        if (flow.outcome || flow.asked.size > 0) resolve();
      });
      // Requests made together (e.g. several in parallel) go out in one round.
      if (!flow.outcome) await new Promise((r) => setTimeout(r, 5));
    } finally {
      flow.wake = undefined;
      flow.notify = undefined;
      flow.open = false;
      io.signal.removeEventListener('abort', gone);
    }
    if (flow.outcome) {
      this.#forget(flow);
      return flow.outcome;
    }
    if (flow.ended) return { kind: 'failed', error: flow.ended };
    flow.rounds += 1;
    if (flow.rounds > this.limits.rounds) {
      const error = new GatewayError(
        ErrorCode.InvalidRequest,
        `the call still required input after ${this.limits.rounds} rounds; given up`,
      );
      this.#end(flow, error);
      return { kind: 'failed', error };
    }
    flow.timer = setTimeout(
      () =>
        this.#end(
          flow,
          new GatewayError(
            ErrorCode.RequestTimeout,
            `the calling client did not answer within ${this.limits.waitMs} ms`,
          ),
        ),
      this.limits.waitMs,
    );
    flow.timer.unref?.();
    const inputRequests: Record<string, InputRequest> = {};
    for (const [k, a] of flow.asked) inputRequests[k] = { method: a.method, params: a.params };
    return { kind: 'input_required', inputRequests, requestState: flow.id };
  }

  /** Gives the call up: the waiting requests get `reason`, the forwarding is cancelled. */
  #end(flow: Flow, reason: Error): void {
    if (flow.ended) return;
    flow.ended = reason;
    clearTimeout(flow.timer);
    for (const asked of flow.asked.values()) asked.reject(reason);
    flow.asked.clear();
    flow.controller.abort(reason);
    this.#forget(flow);
    flow.wake?.();
  }

  #forget(flow: Flow): void {
    if (!flow.registered) return;
    flow.registered = false;
    this.#flows.delete(flow.id);
    const held = (this.#perOwner.get(flow.owner) ?? 1) - 1;
    if (held > 0) this.#perOwner.set(flow.owner, held);
    else this.#perOwner.delete(flow.owner);
  }
}
