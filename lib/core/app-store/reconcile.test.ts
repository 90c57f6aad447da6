import { CTX, notification } from '../../../test/kit/builders/appStore';
import { normalizeAppStore } from '../ingest/normalize';
import type { AppStoreStatusBody } from '../ingest/appStore';
import type { RenewalInfo, TransactionInfo } from './model';
import {
  differences,
  mapReconciliation,
  reconcileDrafts,
  type AppleTruth,
  type StorelineView,
} from './reconcile';

const EXPIRES = 1_762_592_000_000;
const LATER = EXPIRES + 30 * 86_400_000;

const built = notification('DID_RENEW');
const TX = built.transaction!;
const RENEWAL = built.renewal!;

/** Storeline's view that matches Apple's ACTIVE truth below. */
const VIEW: StorelineView = {
  status: 'ACTIVE',
  autoRenew: true,
  productId: 'pro.monthly',
  expiresAt: EXPIRES,
  lastEventId: 'app_store:x:0',
  lastEventAt: 1_760_000_000_500,
};

function truth(
  status: number,
  tx: Partial<TransactionInfo> = {},
  renewal: Partial<RenewalInfo> = {},
): AppleTruth {
  return { status, transaction: { ...TX, ...tx }, renewal: { ...RENEWAL, ...renewal } };
}

describe('reconcileDrafts', () => {
  it.each<[string, Partial<StorelineView>, AppleTruth, object[]]>([
    ['identical', {}, truth(1), []],
    ['identical, a trial Storeline calls TRIAL', { status: 'TRIAL' }, truth(1), []],
    [
      'Apple expired, Storeline active: EXPIRED with the intent as reason',
      {},
      truth(2, {}, { autoRenewStatus: 0, expirationIntent: 1 }),
      [{ type: 'EXPIRED', reason: 'VOLUNTARY' }],
    ],
    [
      'Apple expired for billing',
      {},
      truth(2, {}, { expirationIntent: 2 }),
      [{ type: 'EXPIRED', reason: 'BILLING_ERROR' }],
    ],
    ['Apple expired without an intent', {}, truth(2), [{ type: 'EXPIRED', reason: 'OTHER' }]],
    [
      'already expired on both sides',
      { status: 'EXPIRED', autoRenew: false },
      truth(2, {}, { autoRenewStatus: 0 }),
      [],
    ],
    ['a later expiry: a lost renewal', {}, truth(1, { expiresDate: LATER }), [{ type: 'RENEWED' }]],
    ['Storeline has no expiry yet', { expiresAt: null }, truth(1), [{ type: 'RENEWED' }]],
    ['an earlier expiry at Apple: no transition', { expiresAt: LATER }, truth(1), []],
    [
      'Apple active again after Storeline saw billing retry',
      { status: 'BILLING_RETRY' },
      truth(1, { expiresDate: LATER }),
      [{ type: 'BILLING_RECOVERED' }],
    ],
    ['auto-renew turned off', {}, truth(1, {}, { autoRenewStatus: 0 }), [{ type: 'AUTO_RENEW_DISABLED' }]],
    ['auto-renew turned on', { autoRenew: false }, truth(1), [{ type: 'AUTO_RENEW_ENABLED' }]],
    [
      'billing retry',
      {},
      truth(3, {}, { isInBillingRetryPeriod: true }),
      [{ type: 'BILLING_RETRY_STARTED', reason: 'BILLING_ERROR' }],
    ],
    ['grace period', {}, truth(4), [{ type: 'GRACE_PERIOD_STARTED', reason: 'BILLING_ERROR' }]],
    ['revoked (status 5)', {}, truth(5, { revocationReason: 1 }), [{ type: 'REVOKED', reason: 'APP_ISSUE' }]],
    [
      'a revocationDate revokes whatever the status',
      {},
      truth(1, { revocationDate: EXPIRES - 1000, revocationType: 'FAMILY_REVOKE' }),
      [{ type: 'REVOKED', reason: 'FAMILY_SHARING' }],
    ],
    ['a refund Storeline saw is a revocation', { status: 'REFUNDED' }, truth(5), []],
    [
      'another product',
      {},
      truth(1, { productId: 'pro.yearly' }),
      [
        {
          type: 'PLAN_CHANGED',
          planChange: expect.objectContaining({
            fromProductId: 'pro.monthly',
            toProductId: 'pro.yearly',
            timing: 'IMMEDIATE',
          }),
        },
      ],
    ],
    [
      'renewed into another product with auto-renew off: three transitions, status first',
      {},
      truth(1, { expiresDate: LATER, productId: 'pro.yearly' }, { autoRenewStatus: 0 }),
      [
        { type: 'RENEWED' },
        expect.objectContaining({ type: 'PLAN_CHANGED' }),
        { type: 'AUTO_RENEW_DISABLED' },
      ],
    ],
  ])('%s', (_name, over, t, expected) => {
    expect(reconcileDrafts({ ...VIEW, ...over }, t)).toEqual(expected);
  });
});

describe('differences', () => {
  it('none when identical', () => {
    expect(differences(VIEW, truth(1))).toEqual([]);
  });

  it('each field as Storeline -> Apple', () => {
    expect(
      differences(VIEW, truth(2, { expiresDate: LATER, productId: 'p2' }, { autoRenewStatus: 0 })),
    ).toEqual([
      { field: 'status', storeline: 'ACTIVE', apple: 'EXPIRED' },
      {
        field: 'expiresAt',
        storeline: new Date(EXPIRES).toISOString(),
        apple: new Date(LATER).toISOString(),
      },
      { field: 'autoRenew', storeline: 'true', apple: 'false' },
      { field: 'productId', storeline: 'pro.monthly', apple: 'p2' },
    ]);
  });
});

describe('mapReconciliation', () => {
  const r = {
    reconciliationId: 'rec-1',
    comparedAt: 1_770_000_000_000,
    environment: 'Sandbox',
    bundleId: 'com.example.app',
    appAppleId: 1234567890,
    view: VIEW,
    truth: truth(2, {}, { autoRenewStatus: 0, expirationIntent: 1 }),
  };

  it('Apple envelope, RECONCILIATION source, reconcile event ids', () => {
    const [e, ...rest] = mapReconciliation(r, CTX);
    expect(rest).toEqual([]);
    expect(e).toMatchObject({
      eventId: 'app_store:reconcile:rec-1:0',
      type: 'EXPIRED',
      reason: 'VOLUNTARY',
      store: 'APP_STORE',
      environment: 'SANDBOX',
      appId: 'com.example.app',
      subscriptionKey: `app_store:${TX.originalTransactionId}`,
      productId: 'pro.monthly',
      transactionId: TX.transactionId,
      expiresAt: EXPIRES,
      status: 'EXPIRED',
      entitled: false,
      autoRenew: false,
      occurredAt: r.comparedAt,
      receivedAt: CTX.receivedAt,
      source: {
        notificationId: 'rec-1',
        nativeType: 'RECONCILIATION',
        nativeSubtype: null,
        rawTopic: CTX.rawTopic,
        rawPartition: CTX.rawPartition,
        rawOffset: CTX.rawOffset,
      },
    });
  });

  it('nothing when Apple agrees', () => {
    expect(mapReconciliation({ ...r, truth: truth(1) }, CTX)).toEqual([]);
  });

  it('REVOKED carries the revoked status and no access even when Apple still says 1', () => {
    const [e] = mapReconciliation({ ...r, truth: truth(1, { revocationDate: 1 }) }, CTX);
    expect(e).toMatchObject({ type: 'REVOKED', status: 'REVOKED', entitled: false });
  });
});

describe("the normalizer's app-store-status dispatch", () => {
  const jws = (payload: unknown) =>
    `${Buffer.from('{"alg":"ES256"}').toString('base64url')}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.sig`;
  const body: AppStoreStatusBody = {
    reconciliationId: 'rec-2',
    comparedAt: 1_770_000_000_000,
    environment: 'Sandbox',
    bundleId: 'com.example.app',
    subscriptionGroupIdentifier: '21000000',
    lastTransaction: {
      originalTransactionId: TX.originalTransactionId!,
      status: 1,
      signedTransactionInfo: jws({ ...TX, expiresDate: LATER }),
      signedRenewalInfo: jws(RENEWAL),
    },
    storeline: { ...VIEW, subscriptionKey: `app_store:${TX.originalTransactionId}` },
  };

  it('maps the record with the same rules', () => {
    const events = normalizeAppStore('app-store-status', Buffer.from(JSON.stringify(body)), CTX);
    expect(events.map((e) => [e.eventId, e.type, e.expiresAt, e.source.nativeType])).toEqual([
      ['app_store:reconcile:rec-2:0', 'RENEWED', LATER, 'RECONCILIATION'],
    ]);
  });

  it('dead-letters a body without its parts, or with an undecodable item', () => {
    expect(() => normalizeAppStore('app-store-status', Buffer.from('{"reconciliationId":"x"}'), CTX)).toThrow(
      /lacks reconciliationId/,
    );
    const bad = { ...body, lastTransaction: { ...body.lastTransaction, signedTransactionInfo: 'a.b' } };
    expect(() => normalizeAppStore('app-store-status', Buffer.from(JSON.stringify(bad)), CTX)).toThrow(
      /does not decode/,
    );
  });
});
