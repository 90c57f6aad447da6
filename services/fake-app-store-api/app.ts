/**
 * A local stand-in for the App Store Server API, at the documented paths with the documented JSON, for
 * tests and the local demo (Apple's API cannot run here):
 *   POST /inApps/v1/notifications/history[?paginationToken=]  Get Notification History
 *   GET  /inApps/v1/subscriptions/{transactionId}             Get All Subscription Statuses
 *   PUT  /inApps/{v2|v1}/transactions/consumption/{id}        Send Consumption Information (202; every
 *                                                             accepted body is kept: GET /_fake/consumption)
 * Every request needs `Authorization: Bearer <JWT>` signed ES256 with the configured key, with Apple's
 * claims (kid, iss, aud appstoreconnect-v1, bid, exp at most 60 minutes after iat); anything else is 401.
 * Scenario data (signed notifications, statuses, injected 429/5xx answers) is set in process through
 * `state` or over HTTP (PUT /_fake/...). The fake signs nothing: scenarios bring signedPayloads.
 */
import express, { type Express, type Request, type Response } from 'express';
import { decodeJwt, jwtVerify, type KeyLike } from 'jose';
import { APP_STORE_API_AUDIENCE, MAX_TOKEN_TTL_SECONDS } from '../../lib/core/app-store/serverApi';

interface HistoryItem {
  signedPayload: string;
  sendAttempts?: { attemptDate: number; sendAttemptResult: string }[];
}

/** An answer given instead of the real one (the next request to /inApps takes the first). */
interface InjectedFailure {
  status: number;
  /** Sent as Retry-After (seconds) when set. */
  retryAfterSeconds?: number;
}

export interface FakeAppStoreState {
  /** Notification history, oldest first; filtered by each payload's signedDate. */
  history: HistoryItem[];
  /** Get All Subscription Statuses answers (StatusResponse JSON) by transaction id. */
  statuses: Map<string, unknown>;
  failures: InjectedFailure[];
  /** Every history request that passed authentication, for "did it re-read page 1?" checks. */
  historyRequests: { startDate: number; endDate: number; paginationToken?: string }[];
  /** Requests refused with 401. */
  unauthorized: number;
  /** Every Send Consumption Information request that passed authentication, in arrival order. */
  consumption: ConsumptionRecord[];
}

interface ConsumptionRecord {
  version: 'v1' | 'v2';
  transactionId: string;
  body: unknown;
  /** 202 when accepted, else the 400 Apple would answer. */
  status: number;
  receivedAt: number;
}

export interface FakeAppStoreOptions {
  publicKey: KeyLike;
  keyId: string;
  issuerId: string;
  bundleId: string;
  pageSize?: number;
}

export function createFakeAppStoreApi(opts: FakeAppStoreOptions): { app: Express; state: FakeAppStoreState } {
  const state: FakeAppStoreState = {
    history: [],
    statuses: new Map(),
    failures: [],
    historyRequests: [],
    unauthorized: 0,
    consumption: [],
  };
  const app = express();
  app.use(express.json({ limit: '5mb' }));
  scenarioRoutes(app, state);
  const api = express.Router();
  api.use(authenticate(opts, state));
  api.use(injectedFailures(state));
  historyRoute(api, state, opts.pageSize ?? 20);
  api.get('/v1/subscriptions/:transactionId', (req, res) => {
    const status = state.statuses.get(req.params.transactionId as string);
    if (status === undefined) return apiError(res, 404, 4040010, 'Transaction id not found.');
    res.json(status);
  });
  consumptionRoute(api, state);
  app.use('/inApps', api);
  return { app, state };
}

/** Admin endpoints for scenarios (not Apple's). */
function scenarioRoutes(app: Express, state: FakeAppStoreState): void {
  app.put('/_fake/notification-history', (req, res) => {
    state.history = (req.body?.notificationHistory ?? []) as HistoryItem[];
    res.status(204).end();
  });
  app.post('/_fake/notification-history', (req, res) => {
    state.history.push(...((req.body?.notificationHistory ?? []) as HistoryItem[]));
    res.status(204).end();
  });
  app.put('/_fake/subscriptions/:transactionId', (req, res) => {
    state.statuses.set(req.params.transactionId, req.body);
    res.status(204).end();
  });
  app.put('/_fake/failures', (req, res) => {
    state.failures = (req.body?.failures ?? []) as InjectedFailure[];
    res.status(204).end();
  });
  app.get('/_fake/consumption', (_req, res) => {
    res.json({ requests: state.consumption });
  });
  app.get('/_fake/state', (_req, res) => {
    res.json({
      history: state.history.length,
      historyRequests: state.historyRequests,
      unauthorized: state.unauthorized,
    });
  });
}

/**
 * Apple answers 401 to a token it cannot verify or whose claims are wrong
 * (https://developer.apple.com/documentation/appstoreserverapi/generating-json-web-tokens-for-api-requests).
 */
function authenticate(opts: FakeAppStoreOptions, state: FakeAppStoreState): express.RequestHandler {
  return (req, res, next) => {
    const token = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '')?.[1];
    void checkToken(token, opts).then((ok) => {
      if (ok) return next();
      state.unauthorized++;
      res.status(401).type('text/plain').send('Unauthenticated');
    });
  };
}

async function checkToken(token: string | undefined, opts: FakeAppStoreOptions): Promise<boolean> {
  if (!token) return false;
  try {
    const { payload, protectedHeader } = await jwtVerify(token, opts.publicKey, {
      algorithms: ['ES256'],
      audience: APP_STORE_API_AUDIENCE,
      issuer: opts.issuerId,
      typ: 'JWT',
      requiredClaims: ['iat', 'exp'],
    });
    return (
      protectedHeader.kid === opts.keyId &&
      payload.bid === opts.bundleId &&
      (payload.exp as number) - (payload.iat as number) <= MAX_TOKEN_TTL_SECONDS
    );
  } catch {
    return false;
  }
}

function injectedFailures(state: FakeAppStoreState): express.RequestHandler {
  return (_req, res, next) => {
    const f = state.failures.shift();
    if (!f) return next();
    if (f.retryAfterSeconds !== undefined) res.setHeader('retry-after', String(f.retryAfterSeconds));
    if (f.status === 429) return apiError(res, 429, 4290000, 'Rate limit exceeded.');
    apiError(res, f.status, 5000000, 'An unknown error occurred.');
  };
}

/** Apple's error body: https://developer.apple.com/documentation/appstoreserverapi/error-codes */
function apiError(res: Response, status: number, errorCode: number, errorMessage: string): void {
  res.status(status).json({ errorCode, errorMessage });
}

interface Cursor {
  startDate: number;
  endDate: number;
  offset: number;
}

/**
 * Get Notification History: the records whose signedDate is in [startDate, endDate), `pageSize` at a time;
 * the pagination token names the range and the offset, and is refused for another range.
 */
function historyRoute(api: express.Router, state: FakeAppStoreState, pageSize: number): void {
  api.post('/v1/notifications/history', (req: Request, res: Response) => {
    const { startDate, endDate } = (req.body ?? {}) as { startDate?: unknown; endDate?: unknown };
    if (typeof startDate !== 'number') return apiError(res, 400, 4000015, 'Invalid start date.');
    if (typeof endDate !== 'number') return apiError(res, 400, 4000016, 'Invalid end date.');
    if (startDate >= endDate) return apiError(res, 400, 4000018, 'Start date after end date.');
    const token = typeof req.query.paginationToken === 'string' ? req.query.paginationToken : undefined;
    state.historyRequests.push({ startDate, endDate, ...(token ? { paginationToken: token } : {}) });
    const offset = token ? cursorOffset(token, startDate, endDate) : 0;
    if (offset === undefined) return apiError(res, 400, 4000006, 'Invalid pagination token.');
    const inRange = state.history.filter((h) => {
      const at = signedDate(h.signedPayload);
      return at !== undefined && at >= startDate && at < endDate;
    });
    const page = inRange.slice(offset, offset + pageSize);
    const hasMore = offset + pageSize < inRange.length;
    const next: Cursor = { startDate, endDate, offset: offset + pageSize };
    res.json({
      notificationHistory: page,
      hasMore,
      paginationToken: hasMore ? Buffer.from(JSON.stringify(next)).toString('base64url') : undefined,
    });
  });
}

function cursorOffset(token: string, startDate: number, endDate: number): number | undefined {
  try {
    const c = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as Cursor;
    return c.startDate === startDate && c.endDate === endDate && Number.isInteger(c.offset)
      ? c.offset
      : undefined;
  } catch {
    return undefined;
  }
}

/** The notification's signedDate, read without verifying (the fake only files it by date). */
function signedDate(jws: string): number | undefined {
  try {
    const at = decodeJwt(jws).signedDate;
    return typeof at === 'number' ? at : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Send Consumption Information: v2 (https://developer.apple.com/documentation/appstoreserverapi/consumptionrequest)
 * and v1 (https://developer.apple.com/documentation/appstoreserverapi/consumptionrequestv1). The fake checks
 * the required fields and their types and that customerConsented is true (Apple answers 400 otherwise),
 * records the request, and answers 202 with no body.
 */
function consumptionRoute(api: express.Router, state: FakeAppStoreState): void {
  for (const version of ['v1', 'v2'] as const)
    api.put(`/${version}/transactions/consumption/:transactionId`, (req, res) => {
      const body: unknown = req.body;
      const problem = version === 'v2' ? checkConsumptionV2(body) : checkConsumptionV1(body);
      const status = problem ? 400 : 202;
      state.consumption.push({
        version,
        transactionId: req.params.transactionId as string,
        body,
        status,
        receivedAt: Date.now(),
      });
      if (problem) return apiError(res, 400, 4000000, `Invalid request: ${problem}.`);
      res.status(202).end();
    });
}

const V2_DELIVERY = [
  'DELIVERED',
  'UNDELIVERED_QUALITY_ISSUE',
  'UNDELIVERED_WRONG_ITEM',
  'UNDELIVERED_SERVER_OUTAGE',
  'UNDELIVERED_OTHER',
];
const V2_REFUND = ['DECLINE', 'GRANT_FULL', 'GRANT_PRORATED'];

function checkConsumptionV2(body: unknown): string | undefined {
  const b = (body ?? {}) as Record<string, unknown>;
  if (b.customerConsented !== true) return 'customerConsented must be true';
  if (!V2_DELIVERY.includes(b.deliveryStatus as string)) return 'invalid deliveryStatus';
  if (typeof b.sampleContentProvided !== 'boolean') return 'invalid sampleContentProvided';
  if (b.refundPreference !== undefined && !V2_REFUND.includes(b.refundPreference as string))
    return 'invalid refundPreference';
  const p = b.consumptionPercentage;
  if (p !== undefined && !(Number.isInteger(p) && (p as number) >= 0 && (p as number) <= 100_000))
    return 'consumptionPercentage out of range';
  return undefined;
}

/** Each v1 integer field with its largest value. */
const V1_INTS: Record<string, number> = {
  accountTenure: 7,
  consumptionStatus: 3,
  deliveryStatus: 5,
  lifetimeDollarsPurchased: 7,
  lifetimeDollarsRefunded: 7,
  platform: 2,
  playTime: 7,
  userStatus: 4,
};

function checkConsumptionV1(body: unknown): string | undefined {
  const b = (body ?? {}) as Record<string, unknown>;
  if (b.customerConsented !== true) return 'customerConsented must be true';
  for (const [field, max] of Object.entries(V1_INTS)) {
    const v = b[field];
    if (!Number.isInteger(v) || (v as number) < 0 || (v as number) > max) return `invalid ${field}`;
  }
  if (typeof b.sampleContentProvided !== 'boolean') return 'invalid sampleContentProvided';
  if (typeof b.appAccountToken !== 'string') return 'invalid appAccountToken';
  const r = b.refundPreference;
  if (r !== undefined && !(Number.isInteger(r) && (r as number) >= 0 && (r as number) <= 3))
    return 'invalid refundPreference';
  return undefined;
}
