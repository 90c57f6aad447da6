/**
 * The pure parts of calling the App Store Server API: the JWT's header and claims, whether and when to retry
 * an answer, and a token bucket. The HTTP client is lib/adapters/app-store/serverApi.ts.
 */

/** Base URLs by environment (https://developer.apple.com/documentation/appstoreserverapi). */
export const APP_STORE_API_URLS = {
  production: 'https://api.storekit.itunes.apple.com',
  sandbox: 'https://api.storekit-sandbox.itunes.apple.com',
} as const;

export type AppStoreApiEnvironment = keyof typeof APP_STORE_API_URLS;

/**
 * How far back Get Notification History reaches: 180 days in production, 30 in sandbox
 * (https://developer.apple.com/documentation/appstoreserverapi/get-notification-history).
 */
export const HISTORY_RETENTION_DAYS: Record<AppStoreApiEnvironment, number> = {
  production: 180,
  sandbox: 30,
};

export const APP_STORE_API_AUDIENCE = 'appstoreconnect-v1';

/** Apple refuses tokens that live longer than 60 minutes; we ask for less so clock skew cannot matter. */
export const MAX_TOKEN_TTL_SECONDS = 3600;
const DEFAULT_TOKEN_TTL_SECONDS = 20 * 60;

export interface ApiKeyIdentity {
  /** Issuer ID from the Keys page in App Store Connect. */
  issuerId: string;
  /** The in-app purchase key's ID (the `kid`). */
  keyId: string;
  bundleId: string;
}

/**
 * Header and payload of the bearer token, as "Generating JSON Web Tokens for API requests" lists them
 * (https://developer.apple.com/documentation/appstoreserverapi/generating-json-web-tokens-for-api-requests):
 * ES256 with the key's id, and iss, iat, exp (at most 60 minutes later), aud and bid.
 */
export function apiToken(
  id: ApiKeyIdentity,
  nowMs: number,
  ttlSeconds = DEFAULT_TOKEN_TTL_SECONDS,
): {
  header: { alg: 'ES256'; kid: string; typ: 'JWT' };
  claims: { iss: string; iat: number; exp: number; aud: string; bid: string };
} {
  const iat = Math.floor(nowMs / 1000);
  const ttl = Math.min(Math.max(1, Math.floor(ttlSeconds)), MAX_TOKEN_TTL_SECONDS);
  return {
    header: { alg: 'ES256', kid: id.keyId, typ: 'JWT' },
    claims: { iss: id.issuerId, iat, exp: iat + ttl, aud: APP_STORE_API_AUDIENCE, bid: id.bundleId },
  };
}

export interface RetryPolicy {
  /** Attempts in all, the first one included. */
  maxAttempts: number;
  /** Wait before the second attempt when the answer says nothing; doubled each time. */
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 6, baseDelayMs: 500, maxDelayMs: 30_000 };

/** A Retry-After longer than this is not waited for: the run stops and can be resumed later. */
const MAX_RETRY_AFTER_MS = 5 * 60_000;

/**
 * Retry-After as milliseconds from now: delay-seconds or an HTTP-date (RFC 9110 section 10.2.3). Apple
 * documents 429 RateLimitExceededError
 * (https://developer.apple.com/documentation/appstoreserverapi/ratelimitexceedederror); the header is
 * honoured whenever present.
 */
export function parseRetryAfter(value: string | null | undefined, nowMs: number): number | undefined {
  if (value === null || value === undefined || value.trim() === '') return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

export type RetryDecision = { retry: true; waitMs: number } | { retry: false; reason: string };

/**
 * Whether to send the same request again after `attempt` attempts. Only 429, 5xx and network failures
 * (`status` undefined) are retried: any other 4xx says the request or the credentials are wrong, and
 * sending it again cannot help.
 */
export function retryDecision(
  status: number | undefined,
  attempt: number,
  retryAfter: string | null | undefined,
  nowMs: number,
  policy: RetryPolicy = DEFAULT_RETRY,
): RetryDecision {
  const transient = status === undefined || status === 429 || (status >= 500 && status <= 599);
  if (!transient) return { retry: false, reason: `HTTP ${status} is not retried` };
  if (attempt >= policy.maxAttempts) return { retry: false, reason: `gave up after ${attempt} attempts` };
  const told = parseRetryAfter(retryAfter, nowMs);
  if (told !== undefined) {
    if (told > MAX_RETRY_AFTER_MS)
      return { retry: false, reason: `Retry-After of ${Math.round(told / 1000)} s is too long to wait` };
    return { retry: true, waitMs: told };
  }
  const backoff = policy.baseDelayMs * 2 ** Math.max(0, attempt - 1);
  return { retry: true, waitMs: Math.min(policy.maxDelayMs, backoff) };
}

/**
 * A token bucket: `ratePerSecond` requests on average, bursts up to `burst`. `take` reserves a token and
 * says how long to wait before using it, so callers stay pure about time.
 */
export class TokenBucket {
  private tokens: number;
  private last: number | undefined;

  constructor(
    private readonly ratePerSecond: number,
    private readonly burst = Math.max(1, Math.floor(ratePerSecond)),
  ) {
    if (!(ratePerSecond > 0)) throw new RangeError('rate must be positive');
    this.tokens = this.burst;
  }

  take(nowMs: number): number {
    if (this.last !== undefined) {
      this.tokens = Math.min(this.burst, this.tokens + ((nowMs - this.last) / 1000) * this.ratePerSecond);
    }
    this.last = nowMs;
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens / this.ratePerSecond) * 1000);
  }
}
