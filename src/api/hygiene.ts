// Request hygiene for every HTTP listener Airlock runs (the decision API and the agents' listener):
//   - credentials never travel in URLs: a request with `access_token`, `token`, `id_token` or
//     `refresh_token` in its query string is refused with 400 (RFC 6750 §5.3; the MCP authorization
//     specification forbids access tokens in the query string), whatever else it carries;
//   - request logs carry the path and the query's parameter names only, every value masked;
//   - a URL fastify cannot decode (a malformed percent-encoding) gets a 400 in the surface's error
//     shape, without echoing the URL.
// Errors answer in OPA's shape `{"code", "message"}` under the Data API (/v1/data) and as problem
// details elsewhere.
import type { FastifyBaseLogger, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { replyOpaError, replyProblem } from './errors.js';

/** Query parameters that carry credentials: refused on every route. */
export const CREDENTIAL_QUERY_PARAMS: ReadonlySet<string> = new Set([
  'access_token',
  'token',
  'id_token',
  'refresh_token',
]);

const MASK = '***';
const PLAIN_NAME = /^[A-Za-z0-9_.[\]-]{1,64}$/;

const isOpaRoute = (url: string) =>
  url === '/v1/data' || url.startsWith('/v1/data/') || url.startsWith('/v1/data?');

const pathOf = (url: string) => {
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
};

/** Decoded parameter names of a raw URL's query string (lenient: undecodable names are kept as sent). */
export function queryNames(url: string): string[] {
  const q = url.indexOf('?');
  if (q < 0) return [];
  const names: string[] = [];
  for (const part of url.slice(q + 1).split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const raw = (eq < 0 ? part : part.slice(0, eq)).replaceAll('+', ' ');
    let name: string;
    try {
      name = decodeURIComponent(raw);
    } catch {
      name = raw;
    }
    names.push(name);
  }
  return names;
}

/**
 * A URL as request logs show it: the path, then each query parameter's name (when it is a plain
 * identifier, `***` otherwise) with its value masked: `/v1/data/x?input=***&pretty=***`.
 */
export function redactUrl(url: string): string {
  const names = queryNames(url);
  if (names.length === 0) return pathOf(url);
  return `${pathOf(url)}?${names.map((n) => `${PLAIN_NAME.test(n) ? n : MASK}=${MASK}`).join('&')}`;
}

/** pino serializers for fastify's request and response log lines (no query values, no headers). */
export const requestLogSerializers = {
  req(request: FastifyRequest) {
    return {
      method: request.method,
      url: redactUrl(request.url ?? ''),
      remoteAddress: request.ip,
      remotePort: request.socket?.remotePort,
    };
  },
  res(reply: FastifyReply) {
    return { statusCode: reply.statusCode };
  },
};

/** A child of `logger` whose request log lines go through requestLogSerializers. */
export function hygienicLogger(logger: FastifyBaseLogger): FastifyBaseLogger {
  return logger.child({}, { serializers: requestLogSerializers });
}

function refuse(request: FastifyRequest, reply: FastifyReply, message: string) {
  if (isOpaRoute(request.url ?? '')) return replyOpaError(reply, 400, 'invalid_parameter', message);
  return replyProblem(reply, 400, 'bad-request', 'Bad request', message);
}

/**
 * fastify's `frameworkErrors` option: a URL that cannot be decoded gets a clean 400 (fastify's
 * default answer echoes the whole URL, query included).
 */
export function frameworkErrors(
  error: Error & { code?: string },
  request: FastifyRequest,
  reply: FastifyReply,
) {
  request.log.info({ code: error.code }, 'request refused: the URL cannot be decoded');
  const message =
    error.code === 'FST_ERR_BAD_URL'
      ? 'the URL is not valid: it holds a malformed percent-encoding'
      : 'the request cannot be routed';
  return refuse(request, reply, message);
}

/** fastify constructor options for request hygiene (pass them to every listener's `Fastify()`). */
export const hygieneFastifyOptions = { frameworkErrors };

/**
 * Installs the credential-in-URL refusal on `app` (an onRequest hook; install it before any
 * authentication hook so that a token in the URL is refused even when it is valid).
 */
export function installRequestHygiene(app: FastifyInstance): void {
  app.addHook('onRequest', async (request, reply) => {
    const names = queryNames(request.url);
    const found = names.find((n) => CREDENTIAL_QUERY_PARAMS.has(n.toLowerCase()));
    if (found === undefined) return;
    request.log.warn({ param: found.toLowerCase() }, 'request refused: a credential in the query string');
    await refuse(
      request,
      reply,
      `credentials must not be sent in the URL: remove the ${found.toLowerCase()} query parameter and send the token in the Authorization header`,
    );
    return reply;
  });
}
