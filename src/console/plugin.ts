// The console's routes on the agents' listener:
//   GET  /console/                 the app (static files built into dist/console-ui/)
//   GET  /console/login            start signing in at the OpenID issuer (302)
//   GET  /console/callback         the issuer's redirect back: a session cookie, then 302 /console/
//   POST /console/logout           end the session (CSRF-checked)
//   GET  /console/api/me           who is signed in, what airlock/console lets them do, the CSRF token
//   GET  /console/api/approvals    pending calls this user may see, arguments as the trail keeps them
//   GET  /console/api/events       server-sent events: `approvals` when the pending set changes
//   GET  /console/api/audit…       the audit trail, its chain status, exports (audit-routes.ts)
//   GET  /console/api/policy, POST /console/api/evaluate, /console/api/data   (policy-routes.ts)
//   POST /console/api/replay       what-if: the trail replayed against an uploaded bundle (whatif.ts)
// Answers go to the approver API (/v1/approvals/:id/approve|deny) with the session cookie; see
// approver-guard.ts.
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { replyProblem } from '../api/errors.js';
import { queryEvents } from '../audit/query.js';
import type { AuditStore } from '../audit/store.js';
import { EvaluationError, type LiveData } from '../engine/index.js';
import type { ApprovalStore } from '../gateway/approvals.js';
import { clientPolicyText } from '../gateway/clean.js';
import { type Asset, loadAssets } from './assets.js';
import { registerAuditRoutes } from './audit-routes.js';
import { cookie, loginCookieName, readCookie } from './cookies.js';
import { csrfRefusal } from './csrf.js';
import { ApprovalsFeed } from './feed.js';
import { registerPolicyRoutes } from './policy-routes.js';
import type { ConsoleService } from './service.js';
import type { Session } from './sessions.js';
import { SignInError } from './signin.js';
import { registerWhatIf } from './whatif.js';

export interface ConsolePluginOptions {
  service: ConsoleService;
  audit: Pick<AuditStore, 'db' | 'record' | 'checkpointer'>;
  /** Live data (revocations…), shown on the policy page and edited through airlock/admin. */
  liveData?: LiveData | undefined;
  /** The entrypoint deciding live data writes (default airlock/admin, as for the Data API). */
  adminEntrypoint?: string | undefined;
  approvals: Pick<ApprovalStore, 'list'>;
  /** Built browser files (default dist/console-ui/). */
  assets?: Map<string, Asset>;
  /** How often the live feed looks for changes while someone listens (ms, default 1000). */
  feedIntervalMs?: number;
  /** At most this many open event streams (default 200). */
  maxStreams?: number;
}

const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');
const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function secure(reply: FastifyReply): FastifyReply {
  return reply
    .header('cache-control', 'no-store')
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .header('x-frame-options', 'DENY')
    .header('content-security-policy', CSP);
}

export const consolePlugin: FastifyPluginAsync<ConsolePluginOptions> = async (
  app: FastifyInstance,
  options: ConsolePluginOptions,
) => {
  const { service } = options;
  const assets = options.assets ?? loadAssets();
  const feed = new ApprovalsFeed(options.approvals, options.feedIntervalMs ?? 1000, (err) =>
    app.log.warn({ err: err.message }, 'console feed: listing approvals failed'),
  );
  const maxStreams = options.maxStreams ?? 200;
  const streams = new Set<() => void>();
  app.addHook('onClose', async () => {
    for (const end of [...streams]) end();
    feed.close();
  });

  const unauthenticated = (reply: FastifyReply) =>
    replyProblem(secure(reply), 401, 'unauthenticated', 'Sign-in required', 'sign in at /console/login');
  const unavailable = (reply: FastifyReply, err: EvaluationError) =>
    replyProblem(
      secure(reply),
      503,
      'policy-unavailable',
      'Policy unavailable',
      `cannot decide what the console may do: ${clientPolicyText(err.message)}`,
    );

  /** The session, and whether policy grants `action` (one of `actions`); replies and returns undefined otherwise. */
  const allowed = async (
    request: FastifyRequest,
    reply: FastifyReply,
    actions: string[],
  ): Promise<Session | undefined> => {
    const session = service.session(request);
    if (!session) {
      unauthenticated(reply);
      return undefined;
    }
    try {
      const verdict = await service.verdict(session.user);
      if (actions.some((a) => verdict.actions.includes(a))) return session;
      // The policy's own wording of the refusal, asked for the one action needed.
      const reasons =
        actions.length === 1 ? (await service.verdict(session.user, actions[0])).reasons : verdict.reasons;
      replyProblem(
        secure(reply),
        403,
        'console-forbidden',
        'Not allowed',
        `${service.entrypoint} does not let ${session.user.sub} do this (needs ${actions.join(' or ')})${reasons.length ? `: ${reasons.join('; ')}` : ''}`,
      );
    } catch (err) {
      if (!(err instanceof EvaluationError)) throw err;
      unavailable(reply, err);
    }
    return undefined;
  };

  const sendAsset = (reply: FastifyReply, name: string) => {
    const asset = assets.get(name);
    if (!asset)
      return replyProblem(
        secure(reply),
        name === 'index.html' ? 503 : 404,
        name === 'index.html' ? 'console-not-built' : 'not-found',
        name === 'index.html' ? 'Console not built' : 'Not found',
        name === 'index.html'
          ? 'the console files are missing: run `npm run build:console`'
          : `no console file ${name}`,
      );
    return secure(reply).type(asset.type).send(asset.body);
  };

  app.get('/console', (_request, reply) => reply.redirect('/console/', 302));
  app.get('/console/', (_request, reply) => sendAsset(reply, 'index.html'));
  app.get<{ Params: { name: string } }>('/console/assets/:name', (request, reply) =>
    sendAsset(reply, request.params.name),
  );

  app.get('/console/login', async (request, reply) => {
    try {
      const { loginId, url } = await service.signIn.start(service.redirectUri(request));
      const flags = service.flags(request);
      return secure(reply)
        .header('set-cookie', cookie(loginCookieName(flags), loginId, 600, flags))
        .redirect(url, 302);
    } catch (err) {
      if (!(err instanceof SignInError)) throw err;
      return replyProblem(secure(reply), err.status, 'sign-in-failed', 'Sign-in failed', err.message);
    }
  });

  app.get('/console/callback', async (request, reply) => {
    const flags = service.flags(request);
    const loginCookie = loginCookieName(flags);
    const clearLogin = cookie(loginCookie, '', 0, flags);
    try {
      const user = await service.signIn.finish(
        readCookie(request.headers.cookie, loginCookie),
        new URL(request.url, 'http://callback.invalid'),
      );
      const verdict = await service.verdict(user);
      if (!verdict.allow)
        return replyProblem(
          secure(reply).header('set-cookie', clearLogin),
          403,
          'console-forbidden',
          'Not allowed',
          `${service.entrypoint} gives ${user.sub} no access to the console${verdict.reasons.length ? `: ${verdict.reasons.join('; ')}` : ''}`,
        );
      // A previous session in this browser ends: a fresh id after every sign-in (no fixation).
      service.sessions.delete(service.sessionId(request));
      const { id } = service.sessions.create(user);
      request.log.info({ sub: user.sub }, 'console sign-in');
      return secure(reply)
        .header('set-cookie', [clearLogin, service.sessionCookie(request, id)])
        .redirect('/console/', 302);
    } catch (err) {
      if (err instanceof EvaluationError) return unavailable(reply.header('set-cookie', clearLogin), err);
      if (!(err instanceof SignInError)) throw err;
      return replyProblem(
        secure(reply).header('set-cookie', clearLogin),
        err.status,
        'sign-in-failed',
        'Sign-in failed',
        err.message,
      );
    }
  });

  app.post('/console/logout', async (request, reply) => {
    const session = service.session(request);
    if (!session) return unauthenticated(reply);
    const refused = csrfRefusal(request, session.csrf, service.origin(request));
    if (refused) return replyProblem(secure(reply), 403, 'csrf-refused', 'Request refused', refused);
    service.sessions.delete(service.sessionId(request));
    const end = await service.signIn.endSessionUrl(`${service.origin(request)}/console/`);
    return secure(reply)
      .header('set-cookie', service.clearSessionCookie(request))
      .send({ signed_out: true, ...(end ? { end_session_url: end } : {}) });
  });

  app.get('/console/api/me', async (request, reply) => {
    const session = service.session(request);
    if (!session) return unauthenticated(reply);
    try {
      const verdict = await service.verdict(session.user);
      return secure(reply).send({
        user: session.user,
        actions: verdict.actions,
        csrf_token: session.csrf,
        expires_at: new Date(session.expiresAt).toISOString(),
      });
    } catch (err) {
      if (!(err instanceof EvaluationError)) throw err;
      return unavailable(reply, err);
    }
  });

  app.get('/console/api/approvals', async (request, reply) => {
    const session = await allowed(request, reply, ['approvals.answer', 'approvals.own']);
    if (!session) return reply;
    // The approver API decides who sees which call (their own, and those airlock/approve lets them
    // answer): asked as this user, through the same session cookie.
    const listed = await app.inject({
      method: 'GET',
      url: '/v1/approvals?status=pending&limit=200',
      headers: { cookie: request.headers.cookie ?? '', host: request.headers.host ?? '' },
    });
    if (listed.statusCode !== 200)
      return secure(reply).code(listed.statusCode).type('application/problem+json').send(listed.body);
    const approvals = (JSON.parse(listed.body) as { approvals: Record<string, unknown>[] }).approvals;
    // Arguments as policy keeps them in the trail (masked where the decision said to redact).
    const out = [];
    for (const a of approvals) {
      const kept = await keptArguments(String(a.decision_id));
      out.push({
        ...a,
        arguments: kept.found ? kept.arguments : null,
        arguments_kept: kept.found,
        model: kept.model ?? null,
        mine: isObject(a.requester) && a.requester.sub === session.user.sub,
      });
    }
    return secure(reply).send({ approvals: out, now: new Date().toISOString() });
  });

  /** The request-phase decision event of a parked call: its arguments as kept, and the model. */
  const keptArguments = async (
    decisionId: string,
  ): Promise<{ found: boolean; arguments?: unknown; model?: unknown }> => {
    const page = await queryEvents(options.audit.db, { decisionId, kind: 'decision', limit: 20 });
    const e = page.events.find((x) => x.phase === 'request' && x.effect === 'require_approval');
    return e ? { found: true, arguments: e.arguments, model: e.model } : { found: false };
  };

  app.get('/console/api/events', async (request, reply) => {
    const session = await allowed(request, reply, ['approvals.answer', 'approvals.own']);
    if (!session) return reply;
    if (streams.size >= maxStreams)
      return replyProblem(
        secure(reply).header('retry-after', '10'),
        503,
        'too-many-streams',
        'Too many live streams',
        'try again later',
      );
    const id = service.sessionId(request);
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      connection: 'keep-alive',
    });
    res.write('retry: 3000\n\n');
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      unsubscribe();
      clearInterval(beat);
      streams.delete(end);
      res.end();
    };
    const unsubscribe = feed.subscribe(() => {
      if (!service.sessions.peek(id)) return end();
      res.write('event: approvals\ndata: {}\n\n');
    });
    // Heartbeats keep proxies from closing the stream; the stream ends with the session.
    const beat = setInterval(() => {
      if (!service.sessions.peek(id)) return end();
      res.write(': keep-alive\n\n');
    }, 15_000);
    beat.unref();
    streams.add(end);
    request.raw.on('close', end);
  });

  registerWhatIf(app, { service, db: options.audit.db, allowed, secure });
  registerPolicyRoutes(app, {
    service,
    liveData: options.liveData,
    audit: options.audit,
    adminEntrypoint: options.adminEntrypoint,
    allowed,
    secure,
  });
  registerAuditRoutes(app, {
    db: options.audit.db,
    checkpointer: () => options.audit.checkpointer,
    allowed,
    secure,
  });
};
