/**
 * Play Developer API port and its real HTTP client.
 * Paths are the documented ones under a root that defaults to https://androidpublisher.googleapis.com and
 * can be replaced (tests, the local demo):
 *   GET  /androidpublisher/v3/applications/{pkg}/purchases/subscriptionsv2/tokens/{token}
 *   GET  /androidpublisher/v3/applications/{pkg}/purchases/products/{productId}/tokens/{token}
 *   POST /androidpublisher/v3/applications/{pkg}/purchases/subscriptions/{subscriptionId}/tokens/{token}:acknowledge
 *   GET  /androidpublisher/v3/applications/{pkg}/purchases/voidedpurchases
 * https://developers.google.com/android-publisher/api-ref/rest/v3/purchases.subscriptionsv2/get
 * Retries 429, 5xx and network errors with backoff; 404/410 ("expired too long ago", "no longer valid") are
 * terminal and read as "gone" (null).
 */
import { importPKCS8, SignJWT } from 'jose';
import { PipelineError, TransientError, errorMessage } from '../../core/errors';
import type { ProductPurchase, SubscriptionPurchaseV2 } from '../../core/play/model';
import type { PlayApi, VoidedPurchase } from '../../core/play/ports';

const GOOGLE_API_ROOT = 'https://androidpublisher.googleapis.com';
const ANDROIDPUBLISHER_SCOPE = 'https://www.googleapis.com/auth/androidpublisher';

export type AccessTokenProvider = () => Promise<string>;

export function staticToken(token: string): AccessTokenProvider {
  return async () => token;
}

export interface ServiceAccountKey {
  client_email: string;
  private_key: string;
  token_uri?: string;
}

/**
 * OAuth 2.0 for service accounts (JWT bearer grant), signed with jose:
 * https://developers.google.com/identity/protocols/oauth2/service-account#httprest
 * Tokens are cached until a minute before they expire.
 */
export function serviceAccountToken(
  key: ServiceAccountKey,
  fetchImpl: typeof fetch = fetch,
  now: () => number = Date.now,
): AccessTokenProvider {
  const tokenUri = key.token_uri ?? 'https://oauth2.googleapis.com/token';
  let cached: { token: string; expiresAt: number } | undefined;
  return async () => {
    if (cached && cached.expiresAt - 60_000 > now()) return cached.token;
    const pk = await importPKCS8(key.private_key, 'RS256');
    const iat = Math.floor(now() / 1000);
    const assertion = await new SignJWT({ scope: ANDROIDPUBLISHER_SCOPE })
      .setProtectedHeader({ alg: 'RS256', typ: 'JWT' })
      .setIssuer(key.client_email)
      .setAudience(tokenUri)
      .setIssuedAt(iat)
      .setExpirationTime(iat + 3600)
      .sign(pk);
    const res = await fetchImpl(tokenUri, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion }),
    });
    if (!res.ok) {
      const err = `service-account token request failed: HTTP ${res.status}`;
      throw res.status >= 500 || res.status === 429
        ? new TransientError(err)
        : new PipelineError(err, { retriable: false });
    }
    const body = (await res.json()) as { access_token: string; expires_in?: number };
    cached = { token: body.access_token, expiresAt: now() + (body.expires_in ?? 3600) * 1000 };
    return cached.token;
  };
}

class PlayApiError extends PipelineError {
  constructor(
    message: string,
    readonly status: number,
    retriable: boolean,
  ) {
    super(message, { retriable });
  }
}

const enc = encodeURIComponent;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class HttpPlayApi implements PlayApi {
  private readonly root: string;

  constructor(
    private readonly opts: {
      rootUrl?: string;
      accessToken: AccessTokenProvider;
      maxAttempts?: number;
      initialBackoffMs?: number;
      timeoutMs?: number;
      fetch?: typeof fetch;
    },
  ) {
    this.root = (opts.rootUrl ?? GOOGLE_API_ROOT).replace(/\/+$/, '');
  }

  private async call<T>(
    method: 'GET' | 'POST',
    path: string,
    body?: object,
  ): Promise<{ status: number; json?: T }> {
    const attempts = this.opts.maxAttempts ?? 4;
    const f = this.opts.fetch ?? fetch;
    let last = '';
    for (let attempt = 1; attempt <= attempts; attempt++) {
      let res: Response;
      try {
        res = await f(`${this.root}/androidpublisher/v3${path}`, {
          method,
          headers: {
            authorization: `Bearer ${await this.opts.accessToken()}`,
            ...(body ? { 'content-type': 'application/json' } : {}),
          },
          body: body ? JSON.stringify(body) : undefined,
          signal: AbortSignal.timeout(this.opts.timeoutMs ?? 10_000),
        });
      } catch (err) {
        if (err instanceof PipelineError && !err.retriable) throw err;
        last = `network: ${errorMessage(err)}`;
        await sleep((this.opts.initialBackoffMs ?? 200) * 2 ** (attempt - 1));
        continue;
      }
      if (res.status === 429 || res.status >= 500) {
        last = `HTTP ${res.status}`;
        const retryAfter = Number(res.headers.get('retry-after'));
        await sleep(
          Number.isFinite(retryAfter) && retryAfter > 0
            ? retryAfter * 1000
            : (this.opts.initialBackoffMs ?? 200) * 2 ** (attempt - 1),
        );
        continue;
      }
      if (res.status === 404 || res.status === 410) return { status: res.status };
      if (!res.ok) {
        throw new PlayApiError(
          `Play API ${method} ${path}: HTTP ${res.status} ${(await res.text()).slice(0, 300)}`,
          res.status,
          false,
        );
      }
      const text = await res.text();
      return { status: res.status, json: text ? (JSON.parse(text) as T) : undefined };
    }
    throw new PlayApiError(
      `Play API ${method} ${path} failed after ${attempts} attempts (${last})`,
      503,
      true,
    );
  }

  async getSubscriptionV2(packageName: string, token: string): Promise<SubscriptionPurchaseV2 | null> {
    const r = await this.call<SubscriptionPurchaseV2>(
      'GET',
      `/applications/${enc(packageName)}/purchases/subscriptionsv2/tokens/${enc(token)}`,
    );
    return r.json ?? null;
  }

  async getProductPurchase(
    packageName: string,
    productId: string,
    token: string,
  ): Promise<ProductPurchase | null> {
    const r = await this.call<ProductPurchase>(
      'GET',
      `/applications/${enc(packageName)}/purchases/products/${enc(productId)}/tokens/${enc(token)}`,
    );
    return r.json ?? null;
  }

  async acknowledgeSubscription(packageName: string, token: string, subscriptionId = '-'): Promise<void> {
    // subscriptionId is optional since 2025-05 ("-" is accepted by the path template when omitted).
    const r = await this.call(
      'POST',
      `/applications/${enc(packageName)}/purchases/subscriptions/${enc(subscriptionId)}/tokens/${enc(token)}:acknowledge`,
      {},
    );
    if (r.status === 404 || r.status === 410)
      throw new PlayApiError(`acknowledge: token ${token} is gone`, r.status, false);
  }

  async listVoidedPurchases(
    packageName: string,
    opts: { startTime?: number; endTime?: number; type?: 0 | 1; token?: string; maxResults?: number } = {},
  ) {
    const q = new URLSearchParams();
    if (opts.maxResults !== undefined) q.set('maxResults', String(opts.maxResults));
    if (opts.startTime !== undefined) q.set('startTime', String(opts.startTime));
    if (opts.endTime !== undefined) q.set('endTime', String(opts.endTime));
    if (opts.type !== undefined) q.set('type', String(opts.type));
    if (opts.token) q.set('token', opts.token);
    const r = await this.call<{
      voidedPurchases?: VoidedPurchase[];
      tokenPagination?: { nextPageToken?: string };
    }>('GET', `/applications/${enc(packageName)}/purchases/voidedpurchases${q.size ? `?${q}` : ''}`);
    return {
      voidedPurchases: r.json?.voidedPurchases ?? [],
      nextPageToken: r.json?.tokenPagination?.nextPageToken,
    };
  }
}
