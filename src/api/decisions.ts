// The native decision API: POST /v1/decisions with the decision input (schema/decision-input.schema.json)
// → {"decision_id", "revision", "decision"} where the decision matches schema/decision.schema.json.
// Fail closed: an evaluation error, an undefined result or a result that breaks the schema is answered
// as a deny (with `error` saying why), never as an allow.
import { readFileSync } from 'node:fs';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import type { FastifyInstance } from 'fastify';
import { type BodyLimits, installJsonParser } from './body.js';
import type { Decider } from './decider.js';
import { replyProblem, useProblemErrors } from './errors.js';

// ajv-formats is CommonJS: under NodeNext its default export arrives wrapped.
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;

export interface DecisionsOptions {
  decider: Decider;
  limits: BodyLimits;
  entrypoint?: string;
}

let validators: { input: ValidateFunction; output: ValidateFunction } | undefined;

/** The compiled validators of the decision input and output schemas. */
export function decisionValidators(): { input: ValidateFunction; output: ValidateFunction } {
  if (validators) return validators;
  const load = (name: string) =>
    JSON.parse(readFileSync(new URL(`../../schema/${name}`, import.meta.url), 'utf8')) as object;
  const ajv = new Ajv2020({ allErrors: true, strict: false });
  addFormats(ajv);
  validators = {
    input: ajv.compile(load('decision-input.schema.json')),
    output: ajv.compile(load('decision.schema.json')),
  };
  return validators;
}

export function describeErrors(errors: readonly ErrorObject[] | null | undefined): string {
  return (errors ?? [])
    .slice(0, 10)
    .map((e) => `${e.instancePath || '/'} ${e.message ?? 'is invalid'}`)
    .join('; ');
}

export async function decisionsPlugin(app: FastifyInstance, options: DecisionsOptions): Promise<void> {
  installJsonParser(app, options.limits);
  useProblemErrors(app);
  const { input: validInput, output: validOutput } = decisionValidators();
  const path = (options.entrypoint ?? 'airlock/decision').split('/');

  app.post('/v1/decisions', async (request, reply) => {
    if (!validInput(request.body))
      return replyProblem(
        reply,
        400,
        'invalid-decision-input',
        'Invalid decision input',
        describeErrors(validInput.errors),
      );
    const d = await options.decider.decide('decisions', path, request.body, request.apiCaller);
    const base = { decision_id: d.decisionId, revision: d.revision };
    if (d.error?.code === 'input_too_large')
      return replyProblem(reply, 413, 'input-too-large', 'Input too large', d.error.message);
    if (d.error)
      return {
        ...base,
        decision: { effect: 'deny', reasons: ['policy evaluation failed'] },
        error: d.error.message,
      };
    if (!d.defined)
      return {
        ...base,
        decision: { effect: 'deny', reasons: ['the policy gave no decision'] },
        error: 'result undefined',
      };
    if (!validOutput(d.result))
      return {
        ...base,
        decision: { effect: 'deny', reasons: ['the policy gave an invalid decision'] },
        error: `decision does not match schema/decision.schema.json: ${describeErrors(validOutput.errors)}`,
      };
    return { ...base, decision: d.result };
  });
}
