// What a caller sets on its upstream session — its log level, its resource subscriptions — and the
// upstream notifications that answer it (`notifications/message`, `notifications/resources/updated`),
// routed to the callers they belong to. The state is kept with the session, so a session the
// upstream dropped is re-created with it.
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { RequestOptions } from '@modelcontextprotocol/sdk/shared/protocol.js';
import {
  type LoggingLevel,
  type LoggingMessageNotification,
  LoggingMessageNotificationSchema,
  type ResourceUpdatedNotification,
  ResourceUpdatedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { relatedCall } from './relay/server-requests.js';
import { SHARED_SESSION, type UpstreamSession } from './upstream-sessions.js';

export type CallerNotification = LoggingMessageNotification | ResourceUpdatedNotification;

/**
 * Passes the upstream's log messages and resource updates on `session` to `emit`, with the callers
 * they concern: log messages to the session's caller (those of a shared session belong to nobody
 * and go nowhere) — or, sent during a call that asked for them (relay/log-messages.ts
 * requestLogSink), to that call's request — updates to the callers subscribed to the resource.
 */
export function relayNotifications(
  client: Client,
  session: UpstreamSession,
  emit: (notification: CallerNotification, callers: string[]) => void,
): void {
  client.setNotificationHandler(LoggingMessageNotificationSchema, async (n) => {
    // Sent during a call whose request named its own level: on that request's stream, filtered.
    const call = relatedCall(client);
    if (call?.log) return call.log(n);
    if (session.key !== SHARED_SESSION) emit(n, [session.key]);
  });
  client.setNotificationHandler(ResourceUpdatedNotificationSchema, async (n) => {
    const callers = session.subscribers.get(n.params.uri);
    if (callers?.size) emit(n, [...callers]);
  });
}

/** Sets again, on a session opened anew, what its caller had set (failures leave it unset). */
export async function restoreSession(client: Client, session: UpstreamSession, timeout: number) {
  const caps = client.getServerCapabilities();
  if (session.logLevel && caps?.logging)
    await client.setLoggingLevel(session.logLevel as LoggingLevel, { timeout }).catch(() => {});
  if (caps?.resources?.subscribe)
    for (const uri of session.subscribers.keys())
      await client.subscribeResource({ uri }, { timeout }).catch(() => {});
}

/**
 * The caller's log level on its own session; false (nothing sent) on a shared session or an
 * upstream without logging.
 */
export async function setLevel(
  client: Client,
  session: UpstreamSession,
  level: LoggingLevel,
  options: RequestOptions,
): Promise<boolean> {
  if (session.key === SHARED_SESSION || !client.getServerCapabilities()?.logging) return false;
  await client.setLoggingLevel(level, options);
  session.logLevel = level;
  return true;
}

/** Subscribes `caller` to `uri`: upstream on the session's first subscriber, then counted. */
export async function addSubscriber(
  client: Client,
  session: UpstreamSession,
  uri: string,
  caller: string,
  options: RequestOptions,
): Promise<void> {
  const callers = session.subscribers.get(uri);
  if (!callers?.size) await client.subscribeResource({ uri }, options);
  if (callers) callers.add(caller);
  else session.subscribers.set(uri, new Set([caller]));
}

/** Unsubscribes `caller` from `uri`: upstream when the session's last subscriber leaves. */
export async function removeSubscriber(
  client: Client,
  session: UpstreamSession,
  uri: string,
  caller: string,
  options: RequestOptions,
): Promise<void> {
  const callers = session.subscribers.get(uri);
  if (!callers?.delete(caller)) return;
  if (callers.size > 0) return;
  session.subscribers.delete(uri);
  await client.unsubscribeResource({ uri }, options);
}
