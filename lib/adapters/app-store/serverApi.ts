/**
 * A client of the App Store Server API: each request carries a fresh ES256 bearer token signed with the
 * in-app purchase key, goes through a token bucket, and is retried on 429, 5xx and network failures (with
 * Retry-After honoured); any other 4xx fails at once. Only what the CLI needs is here:
 * Get Notification History (https://developer.apple.com/documentation/appstoreserverapi/get-notification-history)
 * for backfill, Get All Subscription Statuses
 * (https://developer.apple.com/documentation/appstoreserverapi/get-all-subscription-statuses) for reconcile,
 * Send Consumption Information
 * (https://developer.apple.com/documentation/appstoreserverapi/send-consumption-information, and its v1)
 * for the refund responder.
 * The token and the key are never logged nor put into an error.
 */
import { importPKCS8, SignJWT, type KeyLike } from 'jose';
import { z } from 'zod';
import { PipelineError, errorMessage } from '../../core/errors';
import {
  DEFAULT_RETRY,
  TokenBucket,
  apiToken,
  retryDecision,
  type ApiKeyIdentity,
  type RetryPolicy,
} from '../../core/app-store/serverApi';

/** An answer or failure of the API; `retriable` as decided by the retry policy, `status` when HTTP answered. */
export class AppStoreApiError extends PipelineError {
  constructor(
    message: string,
    readonly status: number | undefined,
    opts: { retriable: boolean; apiErrorCode?: number; cause?: unknown; retryAfter?: string | null },
  ) {
    super(message, {
      retriable: opts.retriable,
      cause: opts.cause,
      context: opts.apiErrorCode === undefined ? {} : { apiErrorCode: opts.apiErrorCode },
    });
    this.retryAfter = opts.retryAfter ?? null;
  }

  /** The answer's Retry-After header, for a caller that schedules its own retries. */
  readonly retryAfter: string | null;
}

/** Reads the .p8 (PKCS#8 PEM) key; the message of a failure never quotes the file. */
export async function loadApiPrivateKey(pem: string): Promise<KeyLike> {
  try {
    return await importPKCS8(pem, 'ES256');
  } catch {
    throw new Error('the private key is not a PKCS#8 PEM EC P-256 key (an App Store Connect .p8 file)');
  }
}

/** https://developer.apple.com/documentation/appstoreserverapi/notificationhistoryresponse */
const NotificationHistoryResponse = z.object({
  notificationHistory: z
    .array(z.object({ signedPayload: z.string().min(1), sendAttempts: z.array(z.unknown()).optional() }))
    .default([]),
  hasMore: z.boolean().default(false),
  paginationToken: z.string().optional(),
});
export type NotificationHistoryPage = z.output<typeof NotificationHistoryResponse>;

/**
 * https://developer.apple.com/documentation/appstoreserverapi/statusresponse: per subscription group, the
 * last transaction of each entitlement (usually one; a family-shared one too). The signed infos are Apple's
 * JWS, verified by the caller.
 */
const StatusResponse = z.object({
  environment: z.string().optional(),
  bundleId: z.string().optional(),
  appAppleId: z.number().optional(),
  data: z
    .array(
      z.object({
        subscriptionGroupIdentifier: z.string(),
        lastTransactions: z
          .array(
            z.object({
              originalTransactionId: z.string().min(1),
              /** 1 active, 2 expired, 3 billing retry, 4 billing grace period, 5 revoked */
              status: z.number().int(),
              signedTransactionInfo: z.string().min(1),
              signedRenewalInfo: z.string().min(1).optional(),
            }),
          )
          .default([]),
      }),
    )
    .default([]),
});
export type SubscriptionStatuses = z.output<typeof StatusResponse>;

/** https://developer.apple.com/documentation/appstoreserverapi/notificationhistoryrequest (epoch ms). */
export interface HistoryRange {
  startDate: number;
  endDate: number;
}

interface RetryNotice {
  status: number | undefined;
  attempt: number;
  waitMs: number;
}

export interface AppStoreServerApiOptions {
  baseUrl: string;
  key: ApiKeyIdentity & { privateKey: KeyLike };
  ratePerSecond: number;
  retry?: RetryPolicy;
  requestTimeoutMs?: number;
  onRetry?: (n: RetryNotice) => void;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

const realSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class AppStoreServerApi {
  private readonly bucket: TokenBucket;
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(private readonly opts: AppStoreServerApiOptions) {
    this.bucket = new TokenBucket(opts.ratePerSecond);
    this.now = opts.now ?? Date.now;
    this.sleep = opts.sleep ?? realSleep;
  }

  /** One page of notification history; `paginationToken` from the previous page for the next one. */
  async notificationHistory(range: HistoryRange, paginationToken?: string): Promise<NotificationHistoryPage> {
    const query = paginationToken ? `?paginationToken=${encodeURIComponent(paginationToken)}` : '';
    const json = await this.request('POST', `/inApps/v1/notifications/history${query}`, range);
    const parsed = NotificationHistoryResponse.safeParse(json);
    if (!parsed.success)
      throw new AppStoreApiError('notification history: unexpected response shape', 200, {
        retriable: false,
      });
    return parsed.data;
  }

  /** Get All Subscription Statuses for any transaction id of the customer (an originalTransactionId works). */
  async subscriptionStatuses(transactionId: string): Promise<SubscriptionStatuses> {
    const json = await this.request('GET', `/inApps/v1/subscriptions/${encodeURIComponent(transactionId)}`);
    const parsed = StatusResponse.safeParse(json);
    if (!parsed.success)
      throw new AppStoreApiError('subscription statuses: unexpected response shape', 200, {
        retriable: false,
      });
    return parsed.data;
  }

  /**
   * Send Consumption Information: `PUT /inApps/{v2|v1}/transactions/consumption/{transactionId}` with the
   * version's body (lib/core/app-store/consumption.ts builds it); Apple answers 202 with no body.
   */
  async sendConsumptionInformation(path: string, body: object): Promise<void> {
    await this.request('PUT', path, body, false);
  }

  private async request(method: string, path: string, body?: unknown, json = true): Promise<unknown> {
    for (let attempt = 1; ; attempt++) {
      await this.sleep(this.bucket.take(this.now()));
      let res: Response;
      try {
        res = await fetch(new URL(path, this.opts.baseUrl), {
          method,
          headers: {
            authorization: `Bearer ${await this.token()}`,
            ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
          signal: AbortSignal.timeout(this.opts.requestTimeoutMs ?? 30_000),
        });
      } catch (err) {
        await this.retryOrThrow(
          undefined,
          attempt,
          null,
          `cannot reach ${this.opts.baseUrl}: ${errorMessage(err)}`,
        );
        continue;
      }
      if (res.ok) return json ? res.json() : res.arrayBuffer().then(() => undefined);
      const text = await res.text().catch(() => '');
      await this.retryOrThrow(
        res.status,
        attempt,
        res.headers.get('retry-after'),
        describe(res.status, text),
      );
    }
  }

  /** Waits before the next attempt, or throws the failure when it is not to be retried. */
  private async retryOrThrow(
    status: number | undefined,
    attempt: number,
    retryAfter: string | null,
    message: string,
  ): Promise<void> {
    const d = retryDecision(status, attempt, retryAfter, this.now(), this.opts.retry ?? DEFAULT_RETRY);
    if (!d.retry) {
      const transient = status === undefined || status === 429 || status >= 500;
      throw new AppStoreApiError(transient ? `${message} (${d.reason})` : message, status, {
        retriable: transient,
        apiErrorCode: apiErrorCode(message),
        retryAfter,
      });
    }
    this.opts.onRetry?.({ status, attempt, waitMs: d.waitMs });
    await this.sleep(d.waitMs);
  }

  /** A new token per request, as Apple recommends; signing is cheap. */
  private token(): Promise<string> {
    const { header, claims } = apiToken(this.opts.key, this.now());
    return new SignJWT(claims).setProtectedHeader(header).sign(this.opts.key.privateKey);
  }
}

/** Apple's error bodies are `{errorCode, errorMessage}`; a 401 has none worth showing. */
function describe(status: number, text: string): string {
  if (status === 401)
    return 'HTTP 401 Unauthorized: Apple refused the token; check the private key, key id, issuer id and bundle id';
  let detail = text.slice(0, 300);
  try {
    const j = JSON.parse(text) as { errorCode?: unknown; errorMessage?: unknown };
    if (j.errorCode !== undefined)
      detail = `errorCode ${String(j.errorCode)}: ${String(j.errorMessage ?? '')}`;
  } catch {
    // not JSON: the text as it came
  }
  return `HTTP ${status}${detail ? ` (${detail})` : ''}`;
}

function apiErrorCode(message: string): number | undefined {
  const m = /errorCode (\d+)/.exec(message);
  return m ? Number(m[1]) : undefined;
}
