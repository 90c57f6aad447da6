/**
 * A raw body of a known format -> canonical events: the one mapping the normalizer (raw topics) and the CLI
 * (files) share. App Store bodies are decoded here, not verified: what reaches this point was accepted.
 */
import { PoisonMessageError } from '../errors';
import type { SubscriptionEvent } from '../generated/avro';
import type { RawContext } from '../rawContext';
import { normalizeAppStoreStatus, normalizeAppStoreV1, normalizeAppStoreV2 } from './appStore';
import { APP_STORE_STATUS_FORMAT, type RawFormat } from './format';

/** The Play path needs the Play Developer API and the stored snapshots: the caller injects it. */
export type PlayNormalize = (body: Buffer, ctx: RawContext) => Promise<SubscriptionEvent[]>;

/** An App Store body by its format header; any other format on the App Store raw topic is poison. */
export function normalizeAppStore(
  format: string | undefined,
  body: Buffer,
  ctx: RawContext,
): SubscriptionEvent[] {
  switch (format) {
    case 'app-store-v2':
      return normalizeAppStoreV2(body, ctx);
    case 'app-store-v1':
      return normalizeAppStoreV1(body, ctx);
    case APP_STORE_STATUS_FORMAT:
      return normalizeAppStoreStatus(body, ctx);
    default:
      throw new PoisonMessageError('decode', `unknown raw format header ${JSON.stringify(format)}`);
  }
}

export async function normalize(
  format: RawFormat,
  body: Buffer,
  ctx: RawContext,
  play: PlayNormalize,
): Promise<SubscriptionEvent[]> {
  return format === 'play-store-pubsub' ? play(body, ctx) : normalizeAppStore(format, body, ctx);
}
