/**
 * One Play notification, start to finish: dedupe by messageId (a voided purchase by orderId), read the
 * purchase from the Play Developer API once, diff against the stored snapshot, acknowledge new purchases still
 * pending acknowledgement, store the outcome, return the events. I/O goes through the PlayApi and PlayRepo
 * ports; the decision is diffPlay.
 */
import type { RawContext } from '../rawContext';
import type { SubscriptionEvent } from '../generated/avro';
import type { Logger } from '../logger';
import type { PlayApi, PlayRepo, StoredDiffInput } from './ports';
import type { DeveloperNotification, PlaySnapshot, SubscriptionPurchaseV2 } from './model';
import { diffPlay } from './diff';
import { parsePush } from './envelope';

export interface PlayProcessorDeps {
  api: PlayApi;
  repo: PlayRepo;
  logger: Logger;
  /** Google refunds purchases not acknowledged within 3 days; on by default. */
  acknowledge: boolean;
  /** The mapping; the current one unless a test runs another (yesterday's, for renormalize). */
  diff?: typeof diffPlay;
}

export function createPlayProcessor(deps: PlayProcessorDeps) {
  return async function process(body: Buffer, ctx: RawContext): Promise<SubscriptionEvent[]> {
    const { messageId, notification: parsed } = parsePush(body);
    const rawPosition = `${ctx.rawTopic}/${ctx.rawPartition}/${ctx.rawOffset}`;
    const outcomeId = outcomeIdOf(parsed, messageId);
    const done = (await deps.repo.outcome(messageId)) ?? (await deps.repo.outcome(outcomeId));
    if (done) return done.rawPosition === rawPosition ? done.events : []; // re-emit after an aborted txn / duplicate

    const pkg = parsed.packageName;
    const s = parsed.subscriptionNotification;
    const o = parsed.oneTimeProductNotification;
    const voided = parsed.voidedPurchaseNotification;
    const token = s?.purchaseToken ?? (voided?.productType !== 2 ? voided?.purchaseToken : undefined);
    const subscription = token ? await deps.api.getSubscriptionV2(pkg, token) : undefined;
    const product =
      o?.notificationType === 1 && o.sku
        ? await deps.api.getProductPurchase(pkg, o.sku, o.purchaseToken)
        : undefined;
    const previous = token ? await deps.repo.snapshot(token) : undefined;
    const n = withVoidedProductType(parsed, subscription ?? undefined, previous);
    const linkedToken = subscription?.linkedPurchaseToken;
    const linked = linkedToken ? await deps.repo.snapshot(linkedToken) : undefined;
    const orderRootToken = n.pendingRefundReviewNotification?.orderId
      ? await deps.repo.rootByOrder(n.pendingRefundReviewNotification.orderId)
      : undefined;

    const inputs: StoredDiffInput = {
      notification: n,
      messageId,
      previous,
      linked,
      subscription,
      product,
      orderRootToken,
    };
    const out = (deps.diff ?? diffPlay)({ ...inputs, ctx });

    const state = subscription?.subscriptionState;
    if (
      deps.acknowledge &&
      s &&
      subscription?.acknowledgementState === 'ACKNOWLEDGEMENT_STATE_PENDING' &&
      state !== 'SUBSCRIPTION_STATE_PENDING' &&
      state !== 'SUBSCRIPTION_STATE_EXPIRED' &&
      state !== 'SUBSCRIPTION_STATE_PENDING_PURCHASE_CANCELED'
    ) {
      await deps.api.acknowledgeSubscription(
        pkg,
        s.purchaseToken,
        s.subscriptionId ?? subscription.lineItems?.[0]?.productId,
      );
      deps.logger.info({ messageId, token: s.purchaseToken }, 'acknowledged purchase');
    }
    await deps.repo.commit({
      messageId: outcomeId,
      rawPosition,
      events: out.events,
      inputs,
      snapshot: out.snapshot,
      replaces: out.replaces,
    });
    return out.events;
  };
}

/**
 * The id the outcome of a notification is stored (and deduplicated) under. Usually the Pub/Sub messageId.
 * A voided purchase is deduplicated by its orderId instead: the same refund reaches us as a live RTDN (one
 * messageId per Pub/Sub delivery) and from `storeline backfill play-store` (voidedpurchases.list, which has no
 * messageId at all), and Google documents the orderId as what "uniquely identifies a one-time purchase,
 * subscription purchase, or subscription renewal":
 * https://developers.google.com/android-publisher/api-ref/rest/v3/purchases.voidedpurchases
 * Whichever copy comes first stores its outcome under `voided:<orderId>`; any later copy, live or backfilled,
 * finds it and yields nothing. Outcomes stored under a messageId before this rule keep answering their Pub/Sub
 * duplicates, since the messageId is looked up first.
 */
export function outcomeIdOf(n: DeveloperNotification, messageId: string): string {
  const v = n.voidedPurchaseNotification;
  return v ? `voided:${v.orderId}` : messageId;
}

/**
 * An RTDN's voidedPurchaseNotification always names its productType (1 subscription, 2 one-time), but
 * voidedpurchases.list does not, so a backfilled one comes without. Then the purchase is a subscription when
 * the Play API knows the token as one or we hold a snapshot of it (snapshots are subscriptions only), and a
 * one-time product otherwise. A subscription that Google has forgotten (410 after 60 days) and that we never
 * saw is thus mapped as one-time: keyed by its orderId, which still names the refunded order.
 */
function withVoidedProductType(
  n: DeveloperNotification,
  subscription: SubscriptionPurchaseV2 | undefined,
  previous: PlaySnapshot | undefined,
): DeveloperNotification {
  const v = n.voidedPurchaseNotification;
  if (!v || v.productType !== undefined) return n;
  const productType = subscription || previous ? 1 : 2;
  return { ...n, voidedPurchaseNotification: { ...v, productType } };
}
