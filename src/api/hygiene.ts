// Request hygiene for every HTTP listener Airlock runs (the decision API and the agents' listener):
//   - credentials never travel in URLs: a request naming one of identity's CREDENTIAL_QUERY_PARAMS
//     (`access_token`, `token`, `api_key`, …) in its query string is refused with 400 (RFC 6750
//     §5.3; the MCP authorization specification forbids access tokens in the query string),
//     whatever else it carries;
//   - request logs carry the path and the query's parameter names only, every value masked;
//   - a URL fastify cannot decode (a malformed percent-encoding) gets a 400 in the surface's error
//     shape, without echoing the URL.
// Errors answer in OPA's shape `{"code", "message"}` under the Data API (/v1/data) and as problem
// details elsewhere.
import type { FastifyBaseLogger, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { credentialInQuery, queryNames } from '../identity/url-credentials.js';
import { replyOpaError, replyProblem } from './errors.js';

const MASK = '***';
const PLAIN_NAME = /^[A-Za-z0-9_.[\]-]{1,64}$/;

const isOpaRoute = (url: string) =>
  url === '/v1/data' || url.startsWith('/v1/data/') || url.startsWith('/v1/data?');

const pathOf = (url: string) => {
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
};

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
    const found = credentialInQuery(request.url);
    if (found === undefined) return;
    request.log.warn({ param: found }, 'request refused: a credential in the query string');
    await refuse(
      request,
      reply,
      `credentials must not be sent in the URL: remove the ${found} query parameter and send the token in the Authorization header`,
    );
    return reply;
  });
}
