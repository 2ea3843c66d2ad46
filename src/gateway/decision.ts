// The decision the engine returns for airlock/decision, checked for shape. Anything malformed is an
// error: the gateway fails closed.
import { type Engine, EvaluationError } from '../engine/index.js';

export const DECISION_ENTRYPOINT = 'airlock/decision';

export interface Decision {
  effect: 'allow' | 'deny' | 'redact' | 'require_approval';
  reasons: string[];
  redact?: { arguments: string[]; result: { path: string; pattern: string }[] };
  approval?: { approvers: string[]; ttl_seconds: number };
  credentials?: { mode?: 'on_behalf_of' | 'static' | 'none'; audience?: string; scopes?: string[] };
  visible_tools?: string[];
  visible_resources?: string[];
  visible_prompts?: string[];
  /** For `client/capabilities`: the relayed client capabilities an upstream session may declare. */
  client_capabilities?: string[];
  revision: string;
}

/** Approvals last this long when the policy names no `ttl_seconds`. */
export const DEFAULT_APPROVAL_TTL_SECONDS = 3600;

/** The engine could not produce a usable decision (no bundle, evaluation error, malformed output). */
export class DecisionError extends Error {
  override name = 'DecisionError';
  /** Set when the input passed the engine's input limits: the caller's request is at fault. */
  inputTooLarge = false;
}

const EFFECTS = new Set(['allow', 'deny', 'redact', 'require_approval']);
const isStrings = (v: unknown): v is string[] => Array.isArray(v) && v.every((s) => typeof s === 'string');

/** `freshSince`: a mark from `engine.freshnessMark()` that this request's evaluations share. */
export async function decide(engine: Engine, input: unknown, freshSince?: number): Promise<Decision> {
  let evaluation: { defined: boolean; result?: unknown; revision: string };
  try {
    evaluation = await engine.evaluate(DECISION_ENTRYPOINT, input, { freshSince });
  } catch (err) {
    const failure = new DecisionError(
      `policy evaluation failed: ${err instanceof Error ? err.message : String(err)}`,
    );
    failure.inputTooLarge = err instanceof EvaluationError && err.code === 'input_too_large';
    throw failure;
  }
  const r = evaluation.result as Record<string, unknown> | undefined;
  if (!evaluation.defined || r === null || typeof r !== 'object')
    throw new DecisionError('policy returned no decision');
  if (typeof r.effect !== 'string' || !EFFECTS.has(r.effect))
    throw new DecisionError(`policy returned an unknown effect ${JSON.stringify(r.effect)}`);
  const decision: Decision = {
    effect: r.effect as Decision['effect'],
    reasons: isStrings(r.reasons) ? r.reasons : [],
    revision: evaluation.revision,
  };
  if (r.redact !== undefined) {
    const red = r.redact as Record<string, unknown>;
    const result = red?.result;
    if (
      !isStrings(red?.arguments) ||
      !Array.isArray(result) ||
      !result.every(
        (x) =>
          x !== null && typeof x === 'object' && typeof x.path === 'string' && typeof x.pattern === 'string',
      )
    )
      throw new DecisionError('policy returned a malformed redact part');
    decision.redact = { arguments: red.arguments as string[], result };
  }
  if (decision.effect === 'redact' && !decision.redact)
    throw new DecisionError('policy asked to redact but named nothing to redact');
  for (const key of [
    'visible_tools',
    'visible_resources',
    'visible_prompts',
    'client_capabilities',
  ] as const) {
    if (r[key] === undefined) continue;
    if (!isStrings(r[key])) throw new DecisionError(`policy returned malformed ${key}`);
    decision[key] = r[key];
  }
  if (r.approval !== undefined) {
    const a = r.approval as Record<string, unknown> | null;
    const ttl = a?.ttl_seconds ?? DEFAULT_APPROVAL_TTL_SECONDS;
    if (!isStrings(a?.approvers) || typeof ttl !== 'number' || !(ttl > 0))
      throw new DecisionError('policy returned a malformed approval part');
    decision.approval = { approvers: a.approvers, ttl_seconds: ttl };
  }
  if (decision.effect === 'require_approval' && !decision.approval?.approvers.length)
    throw new DecisionError('policy asked for approval but named no approvers');
  if (r.credentials !== undefined) {
    const c = r.credentials as Record<string, unknown> | null;
    if (
      c === null ||
      typeof c !== 'object' ||
      (c.mode !== undefined && !['on_behalf_of', 'static', 'none'].includes(c.mode as string)) ||
      (c.audience !== undefined && typeof c.audience !== 'string') ||
      (c.scopes !== undefined && !isStrings(c.scopes))
    )
      throw new DecisionError('policy returned a malformed credentials part');
    decision.credentials = c as Decision['credentials'];
  }
  return decision;
}
