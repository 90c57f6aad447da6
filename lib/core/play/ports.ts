/**
 * What the Play processor needs from the outside, as interfaces the core owns: the Play Developer API and the
 * snapshot repository. The adapters (lib/adapters/play) implement them; tests pass fakes.
 */
import type { SubscriptionEvent } from '../generated/avro';
import type { DiffInput } from './diff';
import type { PlaySnapshot, ProductPurchase, SubscriptionPurchaseV2 } from './model';

export interface VoidedPurchase {
  purchaseToken?: string;
  orderId?: string;
  purchaseTimeMillis?: string;
  voidedTimeMillis?: string;
  voidedSource?: number;
  voidedReason?: number;
  voidedQuantity?: number;
}

export interface PlayApi {
  getSubscriptionV2(packageName: string, token: string): Promise<SubscriptionPurchaseV2 | null>;
  getProductPurchase(packageName: string, productId: string, token: string): Promise<ProductPurchase | null>;
  acknowledgeSubscription(packageName: string, token: string, subscriptionId?: string): Promise<void>;
  /**
   * No caller yet: the backfill (a later issue) reads voided purchases through it.
   * @public
   */
  listVoidedPurchases(
    packageName: string,
    opts?: { startTime?: number; endTime?: number; type?: 0 | 1; token?: string },
  ): Promise<{ voidedPurchases: VoidedPurchase[]; nextPageToken?: string }>;
}

/**
 * What the diff was given, minus the raw context (re-derived from the raw record): stored with the outcome so
 * `storeline renormalize` can run a fixed mapping again without asking the Play Developer API, whose answer
 * has changed since (docs/toolkit.md#re-normalize-after-a-mapping-fix).
 */
export type StoredDiffInput = Omit<DiffInput, 'ctx'>;

export interface Outcome {
  messageId: string;
  rawPosition: string;
  events: SubscriptionEvent[];
  inputs?: StoredDiffInput;
  snapshot?: PlaySnapshot;
  replaces?: string;
}

export interface PlayRepo {
  outcome(messageId: string): Promise<{ rawPosition: string; events: SubscriptionEvent[] } | undefined>;
  snapshot(token: string): Promise<PlaySnapshot | undefined>;
  rootByOrder(orderId: string): Promise<string | undefined>;
  commit(o: Outcome): Promise<void>;
}
