/**
 * One Play notification, start to finish: dedupe by messageId, read the purchase from the Play Developer API
 * once, diff against the stored snapshot, acknowledge new purchases still pending acknowledgement, store the
 * outcome, return the events. I/O goes through the PlayApi and PlayRepo ports; the decision is diffPlay.
 */
import type { RawContext } from '../rawContext';
import type { SubscriptionEvent } from '../generated/avro';
import type { Logger } from '../logger';
import type { PlayApi, PlayRepo } from './ports';
import { diffPlay } from './diff';
import { parsePush } from './envelope';

export interface PlayProcessorDeps {
  api: PlayApi;
  repo: PlayRepo;
  logger: Logger;
  /** Google refunds purchases not acknowledged within 3 days; on by default. */
  acknowledge: boolean;
}

export function createPlayProcessor(deps: PlayProcessorDeps) {
  return async function process(body: Buffer, ctx: RawContext): Promise<SubscriptionEvent[]> {
    const { messageId, notification: n } = parsePush(body);
    const rawPosition = `${ctx.rawTopic}/${ctx.rawPartition}/${ctx.rawOffset}`;
    const done = await deps.repo.outcome(messageId);
    if (done) return done.rawPosition === rawPosition ? done.events : []; // re-emit after an aborted txn / duplicate

    const pkg = n.packageName;
    const s = n.subscriptionNotification;
    const v = n.voidedPurchaseNotification;
    const o = n.oneTimeProductNotification;
    const token = s?.purchaseToken ?? (v?.productType !== 2 ? v?.purchaseToken : undefined);
    const subscription = token ? await deps.api.getSubscriptionV2(pkg, token) : undefined;
    const product =
      o?.notificationType === 1 && o.sku
        ? await deps.api.getProductPurchase(pkg, o.sku, o.purchaseToken)
        : undefined;
    const previous = token ? await deps.repo.snapshot(token) : undefined;
    const linkedToken = subscription?.linkedPurchaseToken;
    const linked = linkedToken ? await deps.repo.snapshot(linkedToken) : undefined;
    const orderRootToken = n.pendingRefundReviewNotification?.orderId
      ? await deps.repo.rootByOrder(n.pendingRefundReviewNotification.orderId)
      : undefined;

    const out = diffPlay({
      notification: n,
      messageId,
      ctx,
      previous,
      linked,
      subscription,
      product,
      orderRootToken,
    });

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
      messageId,
      rawPosition,
      events: out.events,
      snapshot: out.snapshot,
      replaces: out.replaces,
    });
    return out.events;
  };
}
