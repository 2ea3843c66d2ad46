// OpenID AuthZEN Authorization API 1.0, Access Evaluation:
//   POST /access/v1/evaluation   {subject, action, resource, context} → {"decision": bool, "context": …}
//   POST /access/v1/evaluations  {…defaults, evaluations: [{…}], options: {evaluations_semantic}} → {"evaluations": […]}
//   GET  /.well-known/authzen-configuration  (PDP metadata)
// The request maps onto Airlock's decision input (subject → user or agent, resource of type `tool` →
// tool, action.name → action, context → context, and the AuthZEN request as `authzen`), as a
// request-phase decision (`phase: "request"`): an AuthZEN PEP asks before it acts. The decision
// is true only for a policy result of `true` or `{"effect": "allow"}`: redaction and approval need a
// gateway that executes them, so an AuthZEN PEP is told no, with the effect in the context.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { EvaluationError } from '../engine/index.js';
import { type BodyLimits, installJsonParser } from './body.js';
import type { Decider, Decision, RequestedBy } from './decider.js';
import { replyProblem, useProblemErrors } from './errors.js';

export interface AuthzenOptions {
  decider: Decider;
  limits: BodyLimits;
  /** Entrypoint evaluated (default `airlock/decision`). */
  entrypoint?: string;
  /** Most evaluations in one batch (default 100). */
  maxEvaluations?: number;
  /**
   * Base URL the metadata document names (`authzen.base_url`). Without it the metadata names the
   * address the request arrived on (the listener's own address, never the Host header).
   */
  baseUrl?: string | undefined;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

export class AuthzenRequestError extends Error {}

function entity(v: unknown, what: 'subject' | 'resource'): { type: string; id: string; properties: Obj } {
  if (!isObj(v)) throw new AuthzenRequestError(`${what} must be an object with type and id`);
  if (typeof v.type !== 'string' || v.type === '')
    throw new AuthzenRequestError(`${what}.type must be a non-empty string`);
  if (typeof v.id !== 'string' || v.id === '')
    throw new AuthzenRequestError(`${what}.id must be a non-empty string`);
  if (v.properties !== undefined && !isObj(v.properties))
    throw new AuthzenRequestError(`${what}.properties must be an object`);
  return { type: v.type, id: v.id, properties: (v.properties as Obj | undefined) ?? {} };
}

/** Maps one AuthZEN evaluation request onto the decision input. */
export function authzenInput(req: Obj): Obj {
  const subject = entity(req.subject, 'subject');
  const resource = entity(req.resource, 'resource');
  const action = req.action;
  if (!isObj(action) || typeof action.name !== 'string' || action.name === '')
    throw new AuthzenRequestError('action must be an object with a non-empty name');
  if (req.context !== undefined && !isObj(req.context))
    throw new AuthzenRequestError('context must be an object');
  const p = subject.properties;
  const input: Obj = {
    phase: 'request',
    action: action.name,
    context: req.context ?? {},
    authzen: { subject: req.subject, action: req.action, resource: req.resource, context: req.context ?? {} },
  };
  if (subject.type === 'agent') input.agent = { id: subject.id, ...p };
  else {
    input.user = {
      sub: subject.id,
      groups: Array.isArray(p.groups) ? p.groups : [],
      ...p,
    };
    if (isObj(p.agent)) input.agent = p.agent;
    else if (typeof p.agent === 'string') input.agent = { id: p.agent };
  }
  if (isObj(p.model)) input.model = p.model;
  const rp = resource.properties;
  if (resource.type === 'tool') {
    input.tool = { name: resource.id, ...(isObj(rp.annotations) ? { annotations: rp.annotations } : {}) };
    if (typeof rp.server === 'string')
      input.server = { name: rp.server, ...(typeof rp.virtual === 'string' ? { virtual: rp.virtual } : {}) };
    if (isObj(rp.arguments)) input.arguments = rp.arguments;
  } else input.resource = { type: resource.type, id: resource.id, ...rp };
  return input;
}

function response(d: Decision): Obj {
  if (d.error)
    return { decision: false, context: { id: d.decisionId, reason_admin: { error: d.error.message } } };
  const r = d.result;
  const allow = d.defined && (r === true || (isObj(r) && r.effect === 'allow'));
  const context: Obj = { id: d.decisionId };
  if (isObj(r)) {
    if (typeof r.effect === 'string') context.effect = r.effect;
    if (Array.isArray(r.reasons)) context.reason_user = { reasons: r.reasons };
  } else if (!d.defined) context.reason_admin = { reason: 'policy result undefined' };
  return { decision: allow, context };
}

/** `http://<address>:<port>` of the socket the request arrived on (not the client's Host header). */
function listenerBase(request: FastifyRequest): string {
  let host = request.socket?.localAddress;
  let port = request.socket?.localPort;
  if (!host || !port) {
    // Not a real socket (app.inject): the bound address, else loopback.
    const bound = request.server.server.address();
    host = typeof bound === 'object' && bound ? bound.address : '127.0.0.1';
    port = typeof bound === 'object' && bound ? bound.port : 80;
  }
  if (host.startsWith('::ffff:') && host.includes('.')) host = host.slice(7);
  if (host === '0.0.0.0') host = '127.0.0.1';
  if (host === '::') host = '::1';
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

export async function authzenPlugin(app: FastifyInstance, options: AuthzenOptions): Promise<void> {
  installJsonParser(app, options.limits);
  useProblemErrors(app);
  const path = (options.entrypoint ?? 'airlock/decision').split('/');
  const max = options.maxEvaluations ?? 100;

  app.addHook('onSend', async (request, reply, payload) => {
    const id = request.headers['x-request-id'];
    if (typeof id === 'string' && id.length <= 256) reply.header('x-request-id', id);
    return payload;
  });

  const evaluate = async (req: Obj, by: RequestedBy | null) => {
    const d = await options.decider.decide('authzen', path, authzenInput(req), by);
    if (d.error?.code === 'input_too_large') throw d.error;
    return response(d);
  };
  const bad = (reply: Parameters<typeof replyProblem>[0], err: unknown) => {
    if (err instanceof AuthzenRequestError)
      return replyProblem(reply, 400, 'bad-request', 'Bad AuthZEN request', err.message);
    if (err instanceof EvaluationError && err.code === 'input_too_large')
      return replyProblem(reply, 413, 'input-too-large', 'Input too large', err.message);
    throw err;
  };

  app.post('/access/v1/evaluation', async (request, reply) => {
    if (!isObj(request.body))
      return replyProblem(reply, 400, 'bad-request', 'Bad AuthZEN request', 'body must be a JSON object');
    try {
      return await evaluate(request.body, request.apiCaller);
    } catch (err) {
      return bad(reply, err);
    }
  });

  app.post('/access/v1/evaluations', async (request, reply) => {
    const body = request.body;
    if (!isObj(body))
      return replyProblem(reply, 400, 'bad-request', 'Bad AuthZEN request', 'body must be a JSON object');
    try {
      const items = body.evaluations;
      if (items === undefined) return await evaluate(body, request.apiCaller);
      if (!Array.isArray(items)) throw new AuthzenRequestError('evaluations must be an array');
      if (items.length > max) throw new AuthzenRequestError(`at most ${max} evaluations per request`);
      const options_ = isObj(body.options) ? body.options : {};
      const semantic = options_.evaluations_semantic ?? 'execute_all';
      if (!['execute_all', 'deny_on_first_deny', 'permit_on_first_permit'].includes(String(semantic)))
        throw new AuthzenRequestError(`unknown evaluations_semantic ${JSON.stringify(semantic)}`);
      const requests = items.map((e: unknown, i: number) => {
        if (!isObj(e)) throw new AuthzenRequestError(`evaluations[${i}] must be an object`);
        const merged: Obj = {
          subject: e.subject ?? body.subject,
          action: e.action ?? body.action,
          resource: e.resource ?? body.resource,
          context: e.context ?? body.context,
        };
        try {
          authzenInput(merged); // validate all before evaluating any
        } catch (err) {
          if (err instanceof AuthzenRequestError)
            throw new AuthzenRequestError(`evaluations[${i}]: ${err.message}`);
          throw err;
        }
        return merged;
      });
      const out: Obj[] = [];
      for (const r of requests) {
        const res = await evaluate(r, request.apiCaller);
        out.push(res);
        if (semantic === 'deny_on_first_deny' && res.decision === false) break;
        if (semantic === 'permit_on_first_permit' && res.decision === true) break;
      }
      return { evaluations: out };
    } catch (err) {
      return bad(reply, err);
    }
  });

  app.get('/.well-known/authzen-configuration', async (request: FastifyRequest) => {
    const base = options.baseUrl?.replace(/\/+$/, '') ?? listenerBase(request);
    return {
      policy_decision_point: base,
      access_evaluation_endpoint: `${base}/access/v1/evaluation`,
      access_evaluations_endpoint: `${base}/access/v1/evaluations`,
    };
  });
}
