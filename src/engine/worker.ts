// An evaluation worker (node:worker_threads): holds the engine's active policy instance and the merged
// data, and answers one evaluation at a time. Messages are handled strictly in order, so a policy or
// data message posted before an evaluation applies to it. A policy or data document that cannot be
// loaded leaves the worker refusing every evaluation (fail closed) until a good one arrives: it never
// answers from what it held before.
import { parentPort } from 'node:worker_threads';
import {
  type CompiledModule,
  type Evaluation,
  type InstanceSpec,
  type MemoryLimits,
  PolicyInstance,
} from './policy.js';
import { resolvePath } from './query.js';

/** The policy every worker holds; `data` is the merged data document's JSON text. */
export interface WorkerPolicy extends InstanceSpec {
  module: CompiledModule;
  revision: string;
  memory: MemoryLimits | undefined;
  strict: boolean;
  data: string;
}

export type ToWorker =
  | { kind: 'policy'; id: number; policy: WorkerPolicy }
  | { kind: 'data'; data: string }
  | { kind: 'evaluate'; id: number; entrypoint: string; input: string | undefined }
  | { kind: 'query'; id: number; path: string[]; input: string | undefined };

export type FromWorker =
  | { id: number; ok: true; result: Evaluation & { revision: string } }
  | { id: number; ok: false; message: string };

interface Held {
  instance: PolicyInstance;
  revision: string;
  dataText: string;
  data: Record<string, unknown> | undefined;
}

let held: Held | undefined;
let broken: string | undefined = 'no policy loaded yet';
let chain: Promise<void> = Promise.resolve();

const port = parentPort;
if (!port) throw new Error('worker.ts runs as a worker thread');

function reply(message: FromWorker): void {
  port!.postMessage(message);
}

async function install(policy: WorkerPolicy): Promise<void> {
  const instance = await PolicyInstance.instantiate(policy.module, policy, {
    memory: policy.memory ?? {},
    strict: policy.strict,
  });
  instance.setDataText(policy.data);
  held = { instance, revision: policy.revision, dataText: policy.data, data: undefined };
}

function evaluate(h: Held, entrypoint: string, input: string | undefined): Evaluation {
  try {
    return h.instance.evaluateText(entrypoint, input);
  } catch (err) {
    throw new Error(`${entrypoint}: ${(err as Error).message}`);
  }
}

async function handle(m: ToWorker): Promise<void> {
  if (m.kind === 'policy') {
    try {
      held = undefined;
      await install(m.policy);
      broken = undefined;
      reply({ id: m.id, ok: true, result: { defined: true, revision: m.policy.revision } });
    } catch (err) {
      broken = `the policy could not be loaded in the evaluation worker: ${(err as Error).message}`;
      reply({ id: m.id, ok: false, message: broken });
    }
    return;
  }
  if (m.kind === 'data') {
    if (!held) return;
    try {
      held.instance.setDataText(m.data);
      held.dataText = m.data;
      held.data = undefined;
      broken = undefined;
    } catch (err) {
      broken = `the data document could not be loaded in the evaluation worker: ${(err as Error).message}`;
    }
    return;
  }
  const h = held;
  if (broken !== undefined || !h) {
    reply({ id: m.id, ok: false, message: broken ?? 'no policy loaded' });
    return;
  }
  try {
    const out =
      m.kind === 'evaluate'
        ? evaluate(h, m.entrypoint, m.input)
        : resolvePath(
            m.path,
            h.instance.entrypoints,
            () => {
              h.data ??= JSON.parse(h.dataText) as Record<string, unknown>;
              return h.data;
            },
            (e) => evaluate(h, e, m.input),
          );
    reply({ id: m.id, ok: true, result: { ...out, revision: h.revision } });
  } catch (err) {
    reply({ id: m.id, ok: false, message: (err as Error).message });
  }
}

// Messages behind a policy install wait for it; with none pending, an evaluation or a data message
// is handled at once, without a turn of the promise queue.
let pending = 0;
port.on('message', (m: ToWorker) => {
  if (pending === 0 && m.kind !== 'policy') {
    void handle(m);
    return;
  }
  pending++;
  chain = chain.then(() => handle(m)).finally(() => pending--);
});
