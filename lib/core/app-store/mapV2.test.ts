import { APP_STORE_FIXTURES } from '../../../test/kit/fixtures';
import { readFileSync, readdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { decodeNotificationV2 } from './decode';
import { mapAppStoreV2 } from './mapV2';
import { CTX, notification } from '../../../test/kit/builders/appStore';
import { AppleVerifier } from './verify';

const pick = (n: Parameters<typeof mapAppStoreV2>[0]) => mapAppStoreV2(n, CTX);

describe('Apple V2 mapping: every row of the table', () => {
  // [notificationType, subtype, options, expected types, extra expectations on event 0]
  const rows: [
    string,
    string | undefined,
    Parameters<typeof notification>[2],
    string[],
    Record<string, unknown>,
  ][] = [
    ['SUBSCRIBED', 'INITIAL_BUY', {}, ['SUBSCRIPTION_STARTED'], { isResubscribe: false }],
    ['SUBSCRIBED', 'RESUBSCRIBE', {}, ['SUBSCRIPTION_STARTED'], { isResubscribe: true }],
    ['DID_RENEW', undefined, {}, ['RENEWED'], {}],
    ['DID_RENEW', 'BILLING_RECOVERY', {}, ['BILLING_RECOVERED'], {}],
    [
      'DID_CHANGE_RENEWAL_STATUS',
      'AUTO_RENEW_DISABLED',
      { renewal: { autoRenewStatus: 0 } },
      ['AUTO_RENEW_DISABLED'],
      { autoRenew: false },
    ],
    ['DID_CHANGE_RENEWAL_STATUS', 'AUTO_RENEW_ENABLED', {}, ['AUTO_RENEW_ENABLED'], { autoRenew: true }],
    [
      'DID_CHANGE_RENEWAL_PREF',
      'UPGRADE',
      { tx: { productId: 'pro.yearly' }, renewal: { autoRenewProductId: 'pro.yearly' } },
      ['PLAN_CHANGED'],
      {
        planChange: {
          fromProductId: null,
          toProductId: 'pro.yearly',
          timing: 'IMMEDIATE',
          direction: 'UPGRADE',
        },
      },
    ],
    [
      'DID_CHANGE_RENEWAL_PREF',
      'DOWNGRADE',
      { renewal: { autoRenewProductId: 'basic.monthly' } },
      ['PLAN_CHANGE_SCHEDULED'],
      {
        nextProductId: 'basic.monthly',
        planChange: {
          fromProductId: 'pro.monthly',
          toProductId: 'basic.monthly',
          timing: 'NEXT_RENEWAL',
          direction: 'DOWNGRADE',
        },
      },
    ],
    ['DID_CHANGE_RENEWAL_PREF', undefined, {}, ['PLAN_CHANGE_CANCELED'], { nextProductId: null }],
    [
      'DID_CHANGE_RENEWAL_PREF',
      undefined,
      { renewal: { autoRenewProductId: 'other.monthly' } },
      ['PLAN_CHANGE_SCHEDULED'],
      {
        nextProductId: 'other.monthly',
        planChange: expect.objectContaining({ direction: 'CROSSGRADE', timing: 'NEXT_RENEWAL' }),
      },
    ],
    [
      'OFFER_REDEEMED',
      undefined,
      { tx: { offerType: 2, offerIdentifier: 'promo1', offerDiscountType: 'PAY_AS_YOU_GO' } },
      ['OFFER_REDEEMED'],
      {
        offer: { type: 'PROMOTIONAL', id: 'promo1', discountType: 'PAY_AS_YOU_GO', period: null },
        periodType: 'PROMOTIONAL',
      },
    ],
    [
      'OFFER_REDEEMED',
      'UPGRADE',
      { tx: { offerType: 3 } },
      ['OFFER_REDEEMED', 'PLAN_CHANGED'],
      { offer: expect.objectContaining({ type: 'OFFER_CODE' }) },
    ],
    [
      'OFFER_REDEEMED',
      'DOWNGRADE',
      { renewal: { autoRenewProductId: 'basic.monthly' } },
      ['OFFER_REDEEMED', 'PLAN_CHANGE_SCHEDULED'],
      {},
    ],
    [
      'DID_FAIL_TO_RENEW',
      'GRACE_PERIOD',
      { status: 4, renewal: { gracePeriodExpiresDate: 1_760_500_000_000, isInBillingRetryPeriod: true } },
      ['GRACE_PERIOD_STARTED'],
      { status: 'GRACE_PERIOD', entitled: true, gracePeriodExpiresAt: 1_760_500_000_000 },
    ],
    [
      'DID_FAIL_TO_RENEW',
      undefined,
      { status: 3 },
      ['BILLING_RETRY_STARTED'],
      { status: 'BILLING_RETRY', entitled: false },
    ],
    [
      'GRACE_PERIOD_EXPIRED',
      undefined,
      { status: 3 },
      ['GRACE_PERIOD_ENDED'],
      { status: 'BILLING_RETRY', entitled: false },
    ],
    [
      'EXPIRED',
      'VOLUNTARY',
      { status: 2 },
      ['EXPIRED'],
      { reason: 'VOLUNTARY', status: 'EXPIRED', entitled: false },
    ],
    ['EXPIRED', 'BILLING_RETRY', { status: 2 }, ['EXPIRED'], { reason: 'BILLING_ERROR' }],
    ['EXPIRED', 'PRICE_INCREASE', { status: 2 }, ['EXPIRED'], { reason: 'PRICE_INCREASE_DECLINED' }],
    ['EXPIRED', 'PRODUCT_NOT_FOR_SALE', { status: 2 }, ['EXPIRED'], { reason: 'PRODUCT_UNAVAILABLE' }],
    ['EXPIRED', undefined, { status: 2 }, ['EXPIRED'], { reason: 'OTHER' }],
    ['PRICE_INCREASE', 'PENDING', {}, ['PRICE_INCREASE_PENDING'], {}],
    ['PRICE_INCREASE', 'ACCEPTED', {}, ['PRICE_INCREASE_ACCEPTED'], {}],
    [
      'REFUND',
      undefined,
      {
        tx: {
          revocationDate: 1_760_000_000_400,
          revocationReason: 1,
          revocationType: 'REFUND_PRORATED',
          revocationPercentage: 50000,
        },
      },
      ['REFUNDED'],
      {
        refund: { scope: 'PRORATED', percentage: 50000, quantity: null },
        reason: 'APP_ISSUE',
        status: 'ACTIVE',
        entitled: true,
      },
    ],
    [
      'REFUND',
      undefined,
      { status: 5, tx: { revocationDate: 1_760_000_000_400, revocationReason: 0 } },
      ['REFUNDED'],
      {
        refund: { scope: 'FULL', percentage: null, quantity: null },
        reason: 'OTHER',
        status: 'REVOKED',
        entitled: false,
      },
    ],
    ['REFUND_DECLINED', undefined, {}, ['REFUND_DECLINED'], {}],
    ['REFUND_REVERSED', undefined, {}, ['REFUND_REVERSED'], { entitled: true }],
    [
      'CONSUMPTION_REQUEST',
      undefined,
      { data: { consumptionRequestReason: 'UNINTENDED_PURCHASE' } },
      ['REFUND_REQUESTED'],
      { reason: 'UNINTENDED_PURCHASE' },
    ],
    [
      'REVOKE',
      undefined,
      { status: 5, tx: { inAppOwnershipType: 'FAMILY_SHARED', revocationDate: 1_760_000_000_400 } },
      ['REVOKED'],
      { isFamilyShare: true, entitled: false, status: 'REVOKED' },
    ],
    ['RENEWAL_EXTENDED', undefined, {}, ['RENEWAL_EXTENDED'], {}],
    ['RENEWAL_EXTENSION', 'FAILURE', {}, ['RENEWAL_EXTENSION_FAILED'], {}],
    [
      'ONE_TIME_CHARGE',
      undefined,
      { tx: { type: 'Consumable', expiresDate: undefined }, renewal: null, data: { status: undefined } },
      ['ONE_TIME_PURCHASE'],
      { periodType: null, entitled: true, autoRenew: null },
    ],
    ['METADATA_UPDATE', undefined, {}, ['STORE_NOTICE'], {}],
    ['MIGRATION', undefined, {}, ['STORE_NOTICE'], {}],
    ['PRICE_CHANGE', undefined, {}, ['STORE_NOTICE'], {}],
    [
      'TEST',
      undefined,
      { tx: null, renewal: null, data: { status: undefined } },
      ['TEST'],
      { subscriptionKey: 'app_store:app:com.example.app', entitled: false },
    ],
    [
      'SUBSCRIPTION_TELEPORTED',
      undefined,
      {},
      ['UNKNOWN'],
      { source: expect.objectContaining({ nativeType: 'SUBSCRIPTION_TELEPORTED' }) },
    ],
    [
      'SUBSCRIBED',
      'SOMETHING_NEW',
      {},
      ['UNKNOWN'],
      { source: expect.objectContaining({ nativeType: 'SUBSCRIBED', nativeSubtype: 'SOMETHING_NEW' }) },
    ],
  ];

  it.each(rows)('%s / %s', (type, subtype, opts, types, extra) => {
    const events = pick(notification(type, subtype, opts));
    expect(events.map((e) => e.type)).toEqual(types);
    expect(events[0]).toMatchObject(extra);
    expect(events.map((e) => e.eventId)).toEqual(
      types.map((_, i) => `app_store:0f0e0d0c-1111-4222-8333-444455556666:${i}`),
    );
  });

  it('RENEWAL_EXTENSION / SUMMARY, EXTERNAL_PURCHASE_TOKEN and RESCIND_CONSENT are app-level notices', () => {
    const base = notification('X', undefined, { tx: null, renewal: null });
    const summary = {
      ...base,
      payload: {
        ...base.payload,
        notificationType: 'RENEWAL_EXTENSION',
        subtype: 'SUMMARY',
        data: undefined,
        summary: {
          environment: 'Production',
          appAppleId: 1,
          bundleId: 'com.example.app',
          productId: 'pro.monthly',
          succeededCount: 10,
          failedCount: 1,
        },
      },
    };
    expect(pick(summary)[0]).toMatchObject({
      type: 'STORE_NOTICE',
      environment: 'PRODUCTION',
      subscriptionKey: 'app_store:app:com.example.app',
    });
    const ext = {
      ...base,
      payload: {
        ...base.payload,
        notificationType: 'EXTERNAL_PURCHASE_TOKEN',
        subtype: 'UNREPORTED',
        data: undefined,
        externalPurchaseToken: {
          externalPurchaseId: 'SANDBOX_b2d2',
          tokenCreationDate: 1,
          appAppleId: 1,
          bundleId: 'com.example.app',
        },
      },
    };
    expect(pick(ext)[0]).toMatchObject({ type: 'STORE_NOTICE', environment: 'SANDBOX' });
    const rescind = {
      ...base,
      payload: {
        ...base.payload,
        notificationType: 'RESCIND_CONSENT',
        data: undefined,
        appData: {
          appAppleId: 1,
          bundleId: 'com.example.app',
          environment: 'Sandbox',
          signedAppTransactionInfo: 'x.y.z',
        },
      },
    };
    expect(pick(rescind)[0]).toMatchObject({
      type: 'CONSENT_REVOKED',
      subscriptionKey: 'app_store:app:com.example.app',
    });
  });

  it('fills the envelope from the transaction and renewal info', () => {
    const [e] = pick(
      notification('DID_RENEW', undefined, {
        tx: { offerType: 1, offerDiscountType: 'FREE_TRIAL', offerPeriod: 'P1W' },
      }),
    );
    expect(e).toMatchObject({
      store: 'APP_STORE',
      environment: 'SANDBOX',
      appId: 'com.example.app',
      subscriptionKey: 'app_store:2000000111111111',
      appUserId: '7a1b2c3d-0000-4000-8000-00000000beef',
      productId: 'pro.monthly',
      transactionId: '2000000111111112',
      occurredAt: 1_760_000_000_500,
      receivedAt: CTX.receivedAt,
      status: 'ACTIVE',
      entitled: true,
      autoRenew: true,
      expiresAt: 1_762_592_000_000,
      purchasedAt: 1_760_000_000_000,
      originalPurchasedAt: 1_750_000_000_000,
      periodType: 'TRIAL',
      price: { amountMicros: 9_990_000, currency: 'USD' },
      countryCode: 'USA',
      isFamilyShare: false,
      offer: { type: 'FREE_TRIAL', id: null, discountType: 'FREE_TRIAL', period: 'P1W' },
      source: {
        notificationId: '0f0e0d0c-1111-4222-8333-444455556666',
        nativeType: 'DID_RENEW',
        nativeSubtype: null,
        rawTopic: 'raw',
        rawPartition: 2,
        rawOffset: 7,
      },
    });
  });
});

describe('Apple V2 mapping: the 14 real Apple-signed samples', () => {
  const dir = resolve(APP_STORE_FIXTURES, 'real');
  const verifier = new AppleVerifier({
    trustedRoots: [readFileSync(resolve(APP_STORE_FIXTURES, 'trust/AppleRootCA-G3.cer'))],
    bundleIds: null,
    environments: ['Production', 'Sandbox'],
    appAppleIds: [],
    effectiveDate: 'signed-date',
  });
  const expected: Record<string, string[]> = {
    '01_DID_RENEW': ['RENEWED'],
    '02_SUBSCRIBED_INITIAL_BUY': ['SUBSCRIPTION_STARTED'],
    '03_SUBSCRIBED_RESUBSCRIBE': ['SUBSCRIPTION_STARTED'],
    '04_DID_CHANGE_RENEWAL_STATUS_AUTO_RENEW_DISABLED': ['AUTO_RENEW_DISABLED'],
    '05_EXPIRED_VOLUNTARY': ['EXPIRED'],
    '06_DID_CHANGE_RENEWAL_PREF_UPGRADE': ['PLAN_CHANGED'],
    '07_DID_CHANGE_RENEWAL_PREF_DOWNGRADE': ['PLAN_CHANGE_SCHEDULED'],
    '08_DID_CHANGE_RENEWAL_PREF_nosubtype': ['PLAN_CHANGE_CANCELED'],
    '09_CONSUMPTION_REQUEST_autorenewable': ['REFUND_REQUESTED'],
    '10_REFUND_autorenewable': ['REFUNDED'],
    '11_ONE_TIME_CHARGE_consumable': ['ONE_TIME_PURCHASE'],
    '12_CONSUMPTION_REQUEST_consumable': ['REFUND_REQUESTED'],
    '13_REFUND_consumable': ['REFUNDED'],
    '14_TEST_production': ['TEST'],
  };
  const files = readdirSync(dir).filter((f) => /^\d\d_[^.]+\.json$/.test(f));

  it('finds all 14 samples', () => expect(files).toHaveLength(14));

  it.each(files)('%s verifies and maps as the spec says', (file) => {
    const payload = verifier.verifyNotificationV2(readFileSync(resolve(dir, file)), Date.now());
    const events = mapAppStoreV2(decodeNotificationV2(payload), CTX);
    expect(events.map((e) => e.type)).toEqual(expected[file.replace('.json', '')]);
    expect(events[0]!.eventId).toBe(`app_store:${payload.notificationUUID}:0`);
  });

  it('sample 10 is a refund that leaves the subscription active (status decides access)', () => {
    const payload = verifier.verifyNotificationV2(
      readFileSync(resolve(dir, '10_REFUND_autorenewable.json')),
      Date.now(),
    );
    expect(mapAppStoreV2(decodeNotificationV2(payload), CTX)[0]).toMatchObject({
      status: 'ACTIVE',
      entitled: true,
    });
  });
});
