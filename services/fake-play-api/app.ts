/**
 * A local stand-in for the Google Play Developer API speaking its documented JSON at the documented paths,
 * for tests and the local demo (Google's API cannot run here). Scenario data is set over HTTP
 * (PUT /_fake/...) or in process. It also serves an OAuth token endpoint for the service-account flow.
 */
import express, { type Express } from 'express';
import type { VoidedPurchase } from '../../lib/core/play/ports';
import type { ProductPurchase, SubscriptionPurchaseV2 } from '../../lib/core/play/model';

export interface FakePlayState {
  subscriptions: Map<string, SubscriptionPurchaseV2>;
  products: Map<string, ProductPurchase>;
  voided: VoidedPurchase[];
  acknowledged: string[];
  /** GET count per token, to check "one read per distinct notification". */
  reads: Map<string, number>;
  /** Next N answers for a token fail with this status (429, 500, ...), with Retry-After (seconds) if set. */
  failures: Map<string, { status: number; times: number; retryAfter?: number }>;
}

export function createFakePlayApi(opts: { accessToken: string }): { app: Express; state: FakePlayState } {
  const state: FakePlayState = {
    subscriptions: new Map(),
    products: new Map(),
    voided: [],
    acknowledged: [],
    reads: new Map(),
    failures: new Map(),
  };
  const app = express();
  app.use(express.json({ limit: '1mb' }));
  app.use(express.urlencoded({ extended: false }));
  tokenEndpoint(app, opts.accessToken);
  scenarioRoutes(app, state);
  const api = express.Router();
  api.use(bearer(opts.accessToken));
  purchaseRoutes(api, state);
  app.use('/androidpublisher/v3', api);
  return { app, state };
}

/** The OAuth token endpoint of the service-account flow: any JWT-bearer assertion gets the token. */
function tokenEndpoint(app: Express, accessToken: string): void {
  app.post('/token', (req, res) => {
    if (
      req.body?.grant_type !== 'urn:ietf:params:oauth:grant-type:jwt-bearer' ||
      typeof req.body.assertion !== 'string'
    ) {
      res.status(400).json({ error: 'invalid_grant' });
      return;
    }
    res.json({ access_token: accessToken, expires_in: 3600, token_type: 'Bearer' });
  });
}

/** Admin endpoints for scenarios. */
function scenarioRoutes(app: Express, state: FakePlayState): void {
  app.put('/_fake/subscriptions/:token', (req, res) => {
    state.subscriptions.set(req.params.token, req.body as SubscriptionPurchaseV2);
    res.status(204).end();
  });
  app.delete('/_fake/subscriptions/:token', (req, res) => {
    state.subscriptions.delete(req.params.token);
    res.status(204).end();
  });
  app.put('/_fake/products/:productId/:token', (req, res) => {
    state.products.set(`${req.params.productId}/${req.params.token}`, req.body as ProductPurchase);
    res.status(204).end();
  });
  /** Replaces the voided purchases voidedpurchases.list answers from (a JSON array of VoidedPurchase). */
  app.put('/_fake/voided', (req, res) => {
    state.voided = Array.isArray(req.body) ? (req.body as VoidedPurchase[]) : [];
    res.status(204).end();
  });
  app.get('/_fake/state', (_req, res) => {
    res.json({ acknowledged: state.acknowledged, reads: Object.fromEntries(state.reads) });
  });
}

/** Google's 401 for anything without the bearer token. */
function bearer(accessToken: string): express.RequestHandler {
  return (req, res, next) => {
    if (req.headers.authorization !== `Bearer ${accessToken}`) {
      res.status(401).json({
        error: {
          code: 401,
          message: 'Request had invalid authentication credentials.',
          status: 'UNAUTHENTICATED',
        },
      });
      return;
    }
    next();
  };
}

/** The documented purchase paths, answering from the scenario state (and its injected failures). */
function purchaseRoutes(api: express.Router, state: FakePlayState): void {
  const failed = (token: string, res: express.Response): boolean => {
    const f = state.failures.get(token);
    if (!f || f.times <= 0) return false;
    f.times -= 1;
    if (f.retryAfter !== undefined) res.setHeader('retry-after', String(f.retryAfter));
    res.status(f.status).json({ error: { code: f.status, message: 'injected failure' } });
    return true;
  };
  api.get('/applications/:pkg/purchases/subscriptionsv2/tokens/:token', (req, res) => {
    const token = req.params.token;
    state.reads.set(token, (state.reads.get(token) ?? 0) + 1);
    if (failed(token, res)) return;
    const sub = state.subscriptions.get(token);
    if (!sub) {
      res.status(410).json({
        error: {
          code: 410,
          message:
            'The subscription purchase is no longer available for query because it has been expired for too long.',
          status: 'GONE',
        },
      });
      return;
    }
    res.json(sub);
  });
  api.get('/applications/:pkg/purchases/products/:productId/tokens/:token', (req, res) => {
    const p = state.products.get(`${req.params.productId}/${req.params.token}`);
    if (!p) {
      res
        .status(404)
        .json({ error: { code: 404, message: 'The purchase token was not found.', status: 'NOT_FOUND' } });
      return;
    }
    res.json(p);
  });
  // ":acknowledge" is part of the last path segment (Google's custom-method syntax).
  api.post('/applications/:pkg/purchases/subscriptions/:subscriptionId/tokens/:tokenAction', (req, res) => {
    const m = /^(.*):acknowledge$/.exec(req.params.tokenAction);
    const token = m?.[1];
    if (!token) {
      res.status(404).json({ error: { code: 404, message: 'unknown method' } });
      return;
    }
    const sub = state.subscriptions.get(token);
    if (!sub) {
      res.status(410).json({ error: { code: 410, message: 'The purchase token is no longer valid.' } });
      return;
    }
    sub.acknowledgementState = 'ACKNOWLEDGEMENT_STATE_ACKNOWLEDGED';
    state.acknowledged.push(token);
    res.status(204).end();
  });
  api.get('/applications/:pkg/purchases/voidedpurchases', (req, res) => {
    if (failed(VOIDED_FAILURES, res)) return;
    res.json(voidedPage(state.voided, req.query as Record<string, string | undefined>));
  });
}

/** Key of `state.failures` that makes the voided-purchases list fail (e.g. 429, 503). */
export const VOIDED_FAILURES = 'voidedpurchases';

/**
 * One page of voidedpurchases.list as Google documents it: startTime/endTime (ms) filter on voidedTimeMillis
 * and are ignored once a page token is given, maxResults defaults to (and is capped at) 1000, and an opaque
 * `tokenPagination.nextPageToken` names the next page. Here the token is the next index (base64).
 * https://developers.google.com/android-publisher/api-ref/rest/v3/purchases.voidedpurchases/list
 */
function voidedPage(all: VoidedPurchase[], q: Record<string, string | undefined>) {
  const max = Math.min(Number(q.maxResults) || 1000, 1000);
  const token = q.token ? JSON.parse(Buffer.from(q.token, 'base64').toString('utf8')) : undefined;
  const since = token ? token.since : Number(q.startTime ?? 0);
  const until = token ? token.until : Number(q.endTime ?? Date.now());
  const start = token ? token.next : 0;
  const inRange = all
    .filter((v) => Number(v.voidedTimeMillis) >= since && Number(v.voidedTimeMillis) <= until)
    .sort((a, b) => Number(a.voidedTimeMillis) - Number(b.voidedTimeMillis));
  const page = inRange.slice(start, start + max);
  const next = start + max < inRange.length ? { since, until, next: start + max } : undefined;
  return {
    voidedPurchases: page.map((v) => ({ kind: 'androidpublisher#voidedPurchase', ...v })),
    ...(next && {
      tokenPagination: { nextPageToken: Buffer.from(JSON.stringify(next)).toString('base64') },
    }),
  };
}
