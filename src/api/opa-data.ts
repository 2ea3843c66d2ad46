// OPA's Data API, for clients that read the result (it answers 200 for deny and for undefined, so it
// must never be a proxy's auth_request/forward_auth target: that is /v1/authz/http, forward-auth.ts):
//   POST /v1/data/{path}  {"input": …}  → 200 {"result": …, "decision_id": …}  (no "result" when undefined)
//   GET  /v1/data/{path}?input=<JSON>   → the same
//   PUT | PATCH | DELETE /v1/data/{path} → 204, live data under roots the bundle does not own (admin only)
// Query flags: pretty, metrics, provenance. Errors: {"code", "message"} with OPA's codes and statuses.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  DataWriteError,
  getAt,
  type LiveData,
  PatchError,
  parseDataPath,
  parsePatch,
} from '../engine/index.js';
import { AdminAuthError, type AdminAuthenticator } from './admin.js';
import { BodyError, type BodyLimits, installJsonParser, parseJsonBody } from './body.js';
import type { Decider } from './decider.js';
import type { DecisionLog } from './decision-log.js';
import { replyOpaError, useOpaErrors } from './errors.js';

export interface OpaDataOptions {
  decider: Decider;
  limits: BodyLimits;
  liveData?: LiveData | undefined;
  log?: DecisionLog | undefined;
  admin?: AdminAuthenticator | undefined;
  /** Entrypoint deciding data writes (default `airlock/admin`). */
  adminEntrypoint?: string;
  version: string;
}

type Query = Record<string, string | undefined>;

/** The query parameters this API reads; each may be given once (a repeated one is refused, 400). */
const PARAMS = ['input', 'pretty', 'metrics', 'provenance'];

function queryOf(request: FastifyRequest): Query {
  const q = (request.query ?? {}) as Record<string, unknown>;
  for (const name of PARAMS)
    if (Array.isArray(q[name])) throw new BodyError(`${name} must be given once`, 400);
  return q as Query;
}

const flag = (q: Query, name: string) => q[name] === '' || q[name] === 'true';

function send(reply: FastifyReply, q: Query, status: number, body: unknown) {
  reply.code(status).type('application/json; charset=utf-8');
  return reply.send(flag(q, 'pretty') ? `${JSON.stringify(body, null, 2)}\n` : JSON.stringify(body));
}

function pathOf(request: FastifyRequest): string[] {
  const tail = (request.params as { '*'?: string })['*'] ?? '';
  // Control characters (a decoded %00 among them) name no document and cannot be recorded.
  if (/[\u0000-\u001f\u007f]/.test(tail))
    throw new BodyError('the data path must not hold control characters (such as %00)', 400);
  try {
    return parseDataPath(tail);
  } catch {
    throw new BodyError(`bad data path ${JSON.stringify(tail)}`, 400);
  }
}

export async function opaDataPlugin(app: FastifyInstance, options: OpaDataOptions): Promise<void> {
  installJsonParser(app, options.limits, true);
  useOpaErrors(app);
  const { decider } = options;

  const answer = async (
    request: FastifyRequest,
    reply: FastifyReply,
    input: unknown,
    warnMissingInput: boolean,
  ) => {
    const started = process.hrtime.bigint();
    const q = queryOf(request);
    const path = pathOf(request);
    const d = await decider.decide('data', path, input, request.apiCaller);
    if (d.error) {
      if (d.error.code === 'input_too_large')
        return replyOpaError(reply, 413, 'invalid_parameter', d.error.message);
      const status = d.error.code === 'no_policy' || d.error.code === 'overloaded' ? 503 : 500;
      return replyOpaError(reply, status, 'internal_error', d.error.message);
    }
    const body: Record<string, unknown> = {};
    if (d.defined) body.result = d.result;
    body.decision_id = d.decisionId;
    if (warnMissingInput)
      body.warning = { code: 'api_usage_warning', message: "'input' key missing from the request" };
    if (flag(q, 'metrics'))
      body.metrics = {
        timer_rego_query_eval_ns: d.evalNs,
        timer_server_handler_ns: Number(process.hrtime.bigint() - started),
      };
    if (flag(q, 'provenance'))
      body.provenance = {
        version: options.version,
        bundles: d.revision !== null ? { airlock: { revision: d.revision } } : {},
      };
    return send(reply, q, 200, body);
  };

  const post = async (request: FastifyRequest, reply: FastifyReply) => {
    const body = request.body;
    if (body === undefined || body === null) return answer(request, reply, undefined, false);
    if (typeof body !== 'object' || Array.isArray(body))
      return replyOpaError(
        reply,
        400,
        'invalid_parameter',
        'body contains malformed input document: expected an object like {"input": …}',
      );
    const has = Object.hasOwn(body, 'input');
    return answer(request, reply, has ? (body as { input: unknown }).input : undefined, !has);
  };
  const get = async (request: FastifyRequest, reply: FastifyReply) => {
    const q = queryOf(request);
    let input: unknown;
    if (q.input !== undefined) {
      if (q.input.length > options.limits.maxBytes)
        return replyOpaError(reply, 413, 'invalid_parameter', 'input parameter is too large');
      try {
        input = parseJsonBody(q.input, options.limits.maxDepth, 'the input parameter');
      } catch (err) {
        return replyOpaError(reply, 400, 'invalid_parameter', (err as Error).message);
      }
    }
    return answer(request, reply, input, false);
  };
  for (const url of ['/v1/data', '/v1/data/', '/v1/data/*']) {
    app.post(url, post);
    app.get(url, get);
  }

  // Live data writes.
  const write = async (request: FastifyRequest, reply: FastifyReply, method: 'put' | 'patch' | 'delete') => {
    const live = options.liveData;
    if (!live) return replyOpaError(reply, 501, 'internal_error', 'live data is not enabled (no database)');
    const path = pathOf(request);
    if (!options.admin)
      return replyOpaError(
        reply,
        401,
        'unauthorized',
        'data writes are disabled: no admin credential is configured',
      );
    let caller: Awaited<ReturnType<AdminAuthenticator>>;
    try {
      caller = await options.admin(request);
    } catch (err) {
      if (err instanceof AdminAuthError) return replyOpaError(reply, 401, 'unauthorized', err.message);
      throw err;
    }
    const entrypoint = options.adminEntrypoint ?? 'airlock/admin';
    let allowed = false;
    try {
      const r = await decider.engine.evaluate(entrypoint, {
        method: method.toUpperCase(),
        path: `/${path.join('/')}`,
        principal: caller,
      });
      const v = r.result as { allow?: unknown } | boolean | undefined;
      allowed = r.defined && (v === true || (typeof v === 'object' && v !== null && v.allow === true));
    } catch (err) {
      request.log.warn({ err: (err as Error).message }, 'admin policy failed; write refused');
    }
    if (!allowed)
      return replyOpaError(reply, 401, 'unauthorized', 'request rejected by administrative policy');
    if (method === 'put' && request.headers['if-none-match'] === '*') {
      if (getAt(live.document, path) !== undefined) return reply.code(304).send();
    }
    let change: Parameters<LiveData['write']>[0];
    if (method === 'put') {
      if (request.body === undefined)
        return replyOpaError(reply, 400, 'invalid_parameter', 'PUT needs a JSON body: the value to store');
      change = { op: 'put', path, value: request.body };
    } else if (method === 'patch') {
      try {
        change = { op: 'patch', path, patch: parsePatch(request.body) };
      } catch (err) {
        if (err instanceof PatchError) return replyOpaError(reply, 400, 'invalid_parameter', err.message);
        throw err;
      }
    } else change = { op: 'delete', path };
    let version: number;
    try {
      ({ version } = await live.write(change, caller.sub));
    } catch (err) {
      if (err instanceof DataWriteError) return replyOpaError(reply, err.status, err.code, err.message);
      throw err;
    }
    try {
      await options.log?.dataChange({
        operation: method,
        path: `/${path.join('/')}`,
        by: caller.sub,
        version,
        ...(change.op === 'put' ? { value: change.value } : {}),
        ...(change.op === 'patch' ? { patch: change.patch } : {}),
      });
    } catch (err) {
      request.log.error(
        { err: (err as Error).message },
        'data change applied but not recorded in the audit trail',
      );
      return replyOpaError(
        reply,
        500,
        'internal_error',
        'the change was applied but could not be recorded in the audit trail',
      );
    }
    return reply.code(204).send();
  };
  app.put('/v1/data/*', (req, reply) => write(req, reply, 'put'));
  app.patch('/v1/data/*', (req, reply) => write(req, reply, 'patch'));
  app.delete('/v1/data/*', (req, reply) => write(req, reply, 'delete'));
}
