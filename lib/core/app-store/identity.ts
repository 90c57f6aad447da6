import type { NotificationPayloadV2 } from './model';

/** Where a V2 payload says which app and environment it is for. */
export function appIdentity(p: NotificationPayloadV2): {
  bundleId?: string;
  appAppleId?: number;
  environment?: string;
} {
  if (p.data) return p.data;
  if (p.summary) return p.summary;
  if (p.appData) return p.appData;
  if (p.externalPurchaseToken) {
    const t = p.externalPurchaseToken;
    // A "SANDBOX" prefix on externalPurchaseId marks the sandbox environment. The payload is JSON, not the
    // model's types: a non-string id must refuse the notification (environment), not throw a TypeError.
    const id: unknown = t.externalPurchaseId;
    const sandbox = typeof id === 'string' && id.startsWith('SANDBOX');
    return { ...t, environment: sandbox ? 'Sandbox' : 'Production' };
  }
  return {};
}
