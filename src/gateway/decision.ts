// The decision the engine returns for airlock/decision, checked for shape. Anything malformed is an
// error: the gateway fails closed.
import type { Engine } from '../engine/index.js';

export const DECISION_ENTRYPOINT = 'airlock/decision';

export interface Decision {
  effect: 'allow' | 'deny' | 'redact' | 'require_approval';
  reasons: string[];
  redact?: { arguments: string[]; result: { path: string; pattern: string }[] };
  visible_tools?: string[];
  revision: string;
}

/** The engine could not produce a usable decision (no bundle, evaluation error, malformed output). */
export class DecisionError extends Error {
  override name = 'DecisionError';
}

const EFFECTS = new Set(['allow', 'deny', 'redact', 'require_approval']);
const isStrings = (v: unknown): v is string[] => Array.isArray(v) && v.every((s) => typeof s === 'string');

export function decide(engine: Engine, input: unknown): Decision {
  let evaluation: { defined: boolean; result?: unknown; revision: string };
  try {
    evaluation = engine.evaluate(DECISION_ENTRYPOINT, input);
  } catch (err) {
    throw new DecisionError(`policy evaluation failed: ${err instanceof Error ? err.message : String(err)}`);
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
  if (r.visible_tools !== undefined) {
    if (!isStrings(r.visible_tools)) throw new DecisionError('policy returned malformed visible_tools');
    decision.visible_tools = r.visible_tools;
  }
  return decision;
}
