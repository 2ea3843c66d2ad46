// Resource subscriptions on protocol revision 2026-07-28, which has no `resources/subscribe`: a
// `subscriptions/listen` request names the resources in its filter (`resourceSubscriptions`), and
// their `notifications/resources/updated` come on that stream while it is open. Airlock subscribes
// the caller's own upstream session to each, through the same Gateway method as the session
// revisions' `resources/subscribe` (so each is decided and audited as `resources/subscribe`), and
// unsubscribes when the stream closes. A resource the caller may not see or subscribe to is left
// out of the acknowledged filter (the refusal is in the audit trail).
import type { CallContext, Gateway } from '../gateway.js';

/** Subscribes `context`'s caller to each URI; the URIs subscribed, in order. */
export async function subscribeListed(
  gateway: Gateway,
  context: CallContext,
  uris: string[],
): Promise<string[]> {
  const subscribed: string[] = [];
  for (const uri of uris) {
    try {
      await gateway.subscribeResource(context, uri, true);
      subscribed.push(uri);
    } catch {
      // refused or failed: decided and audited by the gateway; not honoured
    }
  }
  return subscribed;
}

/** Ends the subscriptions a listen stream held (each decided and audited as `resources/unsubscribe`). */
export function unsubscribeListed(gateway: Gateway, context: CallContext, uris: string[]): void {
  for (const uri of uris) void gateway.subscribeResource(context, uri, false).catch(() => {});
}
