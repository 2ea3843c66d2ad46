// Forward-auth for proxies: /v1/authz/http (any method, and /v1/authz/http/<original path> for
// Envoy's HTTP ext_authz). The original request (forward-auth-request.ts) and the verified bearer
// token make the input (schema/http-input.schema.json) of the `airlock/http` entrypoint, decided and
// audited through the Decider. The answer is all a proxy reads, so only allow === true is a 2xx:
//   200  allowed, with the policy's headers (for the proxy to copy to the upstream request)
//   401  no or bad bearer token (WWW-Authenticate: Bearer …)
//   403  denied (or the policy's 4xx `status`), with the reasons
//   400  the check request does not describe one original request unambiguously
//   503  no decision: no bundle, evaluation error, undefined or invalid result, audit not written,
//        identity provider unreachable
import { readFileSync } from 'node:fs';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { decisionInput, type Identity, IdentityError, replyIdentityError } from '../identity/index.js';
import type { Decider } from './decider.js';
import { replyProblem } from './errors.js';
import { FORWARD_AUTH_PATH, OriginalRequestError, originalRequest } from './forward-auth-request.js';

export const DEFAULT_HTTP_ENTRYPOINT = 'airlock/http';

export interface ForwardAuthOptions {
  decider: Decider;
  identity: Identity;
  /** Entrypoint deciding proxied requests (default airlock/http). */
  entrypoint?: string;
}

export interface HttpDecision {
  allow: boolean;
  reasons?: string[];
  status?: number;
  headers?: Record<string, string>;
}

// Headers a policy may not set: they frame or cache the answer itself.
const RESERVED_HEADERS = new Set([
  'content-length',
  'content-type',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'proxy-connection',
  'upgrade',
  'te',
  'trailer',
  'host',
  'cache-control',
  'x-airlock-decision-id',
]);

let validator: ValidateFunction | undefined;

function validDecision(result: unknown): result is HttpDecision {
  validator ??= new Ajv2020({ strict: false }).compile(
    JSON.parse(
      readFileSync(new URL('../../schema/http-decision.schema.json', import.meta.url), 'utf8'),
    ) as object,
  );
  if (!validator(result)) return false;
  const headers = (result as HttpDecision).headers ?? {};
  return Object.keys(headers).every((name) => !RESERVED_HEADERS.has(name.toLowerCase()));
}

/** Every header with all its values, names lower-cased (what node's headersDistinct gives, from rawHeaders). */
function distinctHeaders(raw: readonly string[]): Record<string, string[]> {
  const out: Record<string, string[]> = Object.create(null);
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = (raw[i] as string).toLowerCase();
    const value = raw[i + 1] as string;
    const list = out[name];
    if (list) list.push(value);
    else out[name] = [value];
  }
  return out;
}

function noDecision(reply: FastifyReply, detail: string, decisionId?: string) {
  if (decisionId) reply.header('x-airlock-decision-id', decisionId);
  reply.header('retry-after', '5');
  return replyProblem(reply, 503, 'no-decision', 'No decision', detail);
}

export async function forwardAuthPlugin(app: FastifyInstance, options: ForwardAuthOptions): Promise<void> {
  const { decider, identity } = options;
  const path = (options.entrypoint ?? DEFAULT_HTTP_ENTRYPOINT).split('/');
  // The original request's body is never needed: it is drained, not parsed or kept.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, payload, done) => {
    payload.resume();
    done(null, undefined);
  });
  app.addHook('onSend', async (_request, reply) => {
    reply.header('cache-control', 'no-store');
  });
  app.setErrorHandler((err, request, reply) => {
    request.log.error({ err }, 'forward-auth check failed');
    return noDecision(reply, 'the request could not be decided');
  });

  const check = async (request: FastifyRequest, reply: FastifyReply) => {
    const modelHeader = request.headers[identity.settings.modelHeader];
    let principal: Awaited<ReturnType<Identity['authenticate']>>;
    try {
      principal = await identity.authenticate({
        authorization: request.headers.authorization,
        modelHeader: Array.isArray(modelHeader) ? modelHeader[0] : modelHeader,
      });
    } catch (err) {
      if (!(err instanceof IdentityError)) throw err;
      request.log.info({ identity_error: err.code }, 'forward-auth: authentication failed');
      return replyIdentityError(identity, reply, err);
    }
    let original: ReturnType<typeof originalRequest>;
    try {
      original = originalRequest({
        method: request.method,
        url: request.url,
        headers: distinctHeaders(request.raw.rawHeaders),
      });
    } catch (err) {
      if (!(err instanceof OriginalRequestError)) throw err;
      return replyProblem(reply, 400, 'bad-original-request', 'Bad forward-auth request', err.message);
    }
    const input = { ...original, ...decisionInput(principal) };
    let d: Awaited<ReturnType<Decider['decide']>>;
    try {
      d = await decider.decide('http', path, input);
    } catch (err) {
      // The decision could not be recorded in the audit trail (sync decision log).
      request.log.error({ err: (err as Error).message }, 'forward-auth decision not recorded');
      return noDecision(reply, 'the decision could not be recorded');
    }
    if (d.error) {
      request.log.error(
        { decision_id: d.decisionId, err: d.error.message },
        'forward-auth policy evaluation failed',
      );
      return noDecision(reply, 'policy evaluation failed', d.decisionId);
    }
    if (!d.defined) return noDecision(reply, 'the policy gave no decision', d.decisionId);
    if (!validDecision(d.result)) {
      request.log.error(
        { decision_id: d.decisionId },
        'forward-auth policy result does not match schema/http-decision.schema.json',
      );
      return noDecision(reply, 'the policy gave an invalid decision', d.decisionId);
    }
    const result = d.result;
    reply.header('x-airlock-decision-id', d.decisionId);
    for (const [name, value] of Object.entries(result.headers ?? {})) reply.header(name, value);
    if (result.allow === true)
      return reply.code(200).type('application/json').send({ allow: true, decision_id: d.decisionId });
    const status = result.status ?? 403;
    return reply
      .code(status)
      .type('application/problem+json')
      .send({
        type: 'https://airlock.dev/problems/denied',
        title: 'Denied by policy',
        status,
        reasons: result.reasons ?? [],
        decision_id: d.decisionId,
      });
  };

  app.all(FORWARD_AUTH_PATH, check);
  app.all(`${FORWARD_AUTH_PATH}/*`, check);
}
