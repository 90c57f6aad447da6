/**
 * The raw formats: what a receiver stamps in the `format` header of a raw record, and how a body alone tells
 * them apart (the CLI reads files, which carry no header).
 */
export type AppStoreFormat = 'app-store-v2' | 'app-store-v1';
export type RawFormat = AppStoreFormat | 'play-store-pubsub';

/**
 * The raw record `storeline reconcile app-store` writes to the raw App Store topic: Apple's signed
 * statuses item (Get All Subscription Statuses), the Storeline view it was compared with, and a
 * reconciliation id. No store sends it and no receiver accepts it, so it is not a RawFormat (those are
 * what a request body may be); only the normalizer's App Store dispatch knows it.
 */
export const APP_STORE_STATUS_FORMAT = 'app-store-status';

/** The format a parsed JSON body has, by the field only that format carries; undefined for none. */
export function sniffFormat(body: unknown): RawFormat | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  if (typeof (body as { signedPayload?: unknown }).signedPayload === 'string') return 'app-store-v2';
  if (typeof (body as { notification_type?: unknown }).notification_type === 'string') return 'app-store-v1';
  if (typeof (body as { message?: { data?: unknown } }).message?.data === 'string')
    return 'play-store-pubsub';
  return undefined;
}

const JSON_CONTENT_TYPE = /^application\/json\s*(;.*)?$/i;

/** Both stores send JSON; anything else is refused before the body is read. */
export function isJsonContentType(contentType: string | undefined): boolean {
  return JSON_CONTENT_TYPE.test(contentType ?? '');
}

export const CONTENT_TYPE_REJECTION = {
  check: 'content_type',
  status: 400,
  message: 'content-type must be application/json',
} as const;
