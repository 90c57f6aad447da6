import {
  AccountTenure,
  LifetimeDollars,
  PlayTime,
  RESPONSE_WINDOW_MS,
  afterAttempt,
  buildConsumption,
  consumptionPath,
  dollarsBucket,
  playTimeBucket,
  responseDeadline,
  summarizeHistory,
  tenureBucket,
  type CustomerHistory,
  type HistoryEvent,
  type ResponderPolicy,
} from './consumption';

const DAY = 86_400_000;
const T0 = Date.UTC(2026, 0, 1);

const ev = (over: Partial<HistoryEvent>): HistoryEvent => ({
  type: 'RENEWED',
  occurredAt: T0,
  originalPurchasedAt: null,
  transactionId: null,
  price: null,
  refundPercentage: null,
  periodType: null,
  offerType: null,
  ...over,
});
const usd = (dollars: number) => ({ amountMicros: dollars * 1_000_000, currency: 'USD' });

describe('Apple buckets', () => {
  it.each([
    [undefined, AccountTenure.UNDECLARED],
    [0, AccountTenure.ZERO_TO_THREE_DAYS],
    [2.99, AccountTenure.ZERO_TO_THREE_DAYS],
    [3, AccountTenure.THREE_DAYS_TO_TEN_DAYS],
    [10, AccountTenure.TEN_DAYS_TO_THIRTY_DAYS],
    [30, AccountTenure.THIRTY_DAYS_TO_NINETY_DAYS],
    [90, AccountTenure.NINETY_DAYS_TO_ONE_HUNDRED_EIGHTY_DAYS],
    [180, AccountTenure.ONE_HUNDRED_EIGHTY_DAYS_TO_THREE_HUNDRED_SIXTY_FIVE_DAYS],
    [364.9, AccountTenure.ONE_HUNDRED_EIGHTY_DAYS_TO_THREE_HUNDRED_SIXTY_FIVE_DAYS],
    [365, AccountTenure.GREATER_THAN_THREE_HUNDRED_SIXTY_FIVE_DAYS],
  ])('tenure of %s days is %s', (days, bucket) => {
    const first = days === undefined ? undefined : T0 - days * DAY;
    expect(tenureBucket(first, T0)).toBe(bucket);
  });

  it.each([
    [undefined, LifetimeDollars.UNDECLARED],
    [0, LifetimeDollars.ZERO_DOLLARS],
    [10_000, LifetimeDollars.ONE_CENT_TO_FORTY_NINE_DOLLARS_AND_NINETY_NINE_CENTS],
    [49_990_000, LifetimeDollars.ONE_CENT_TO_FORTY_NINE_DOLLARS_AND_NINETY_NINE_CENTS],
    [50_000_000, LifetimeDollars.FIFTY_DOLLARS_TO_NINETY_NINE_DOLLARS_AND_NINETY_NINE_CENTS],
    [
      100_000_000,
      LifetimeDollars.ONE_HUNDRED_DOLLARS_TO_FOUR_HUNDRED_NINETY_NINE_DOLLARS_AND_NINETY_NINE_CENTS,
    ],
    [
      999_990_000,
      LifetimeDollars.FIVE_HUNDRED_DOLLARS_TO_NINE_HUNDRED_NINETY_NINE_DOLLARS_AND_NINETY_NINE_CENTS,
    ],
    [
      1_000_000_000,
      LifetimeDollars.ONE_THOUSAND_DOLLARS_TO_ONE_THOUSAND_NINE_HUNDRED_NINETY_NINE_DOLLARS_AND_NINETY_NINE_CENTS,
    ],
    [2_000_000_000, LifetimeDollars.TWO_THOUSAND_DOLLARS_OR_GREATER],
  ])('%s USD micros is %s', (micros, bucket) => {
    expect(dollarsBucket(micros)).toBe(bucket);
  });

  it.each([
    [undefined, PlayTime.UNDECLARED],
    [4 * 60_000, PlayTime.ZERO_TO_FIVE_MINUTES],
    [5 * 60_000, PlayTime.FIVE_TO_SIXTY_MINUTES],
    [2 * 3_600_000, PlayTime.ONE_TO_SIX_HOURS],
    [7 * 3_600_000, PlayTime.SIX_HOURS_TO_TWENTY_FOUR_HOURS],
    [2 * DAY, PlayTime.ONE_DAY_TO_FOUR_DAYS],
    [5 * DAY, PlayTime.FOUR_DAYS_TO_SIXTEEN_DAYS],
    [20 * DAY, PlayTime.OVER_SIXTEEN_DAYS],
  ])('play time %s ms is %s', (ms, bucket) => {
    expect(playTimeBucket(ms)).toBe(bucket);
  });
});

describe('summarizeHistory', () => {
  it('counts each transaction once, refunds by their share, converts with the configured rates', () => {
    const h = summarizeHistory(
      [
        ev({
          type: 'SUBSCRIPTION_STARTED',
          transactionId: '1',
          price: usd(0),
          periodType: 'TRIAL',
          occurredAt: T0 - 40 * DAY,
        }),
        ev({ type: 'RENEWED', transactionId: '2', price: usd(60) }),
        ev({ type: 'OFFER_REDEEMED', transactionId: '2', price: usd(60) }),
        ev({ type: 'RENEWED', transactionId: '3', price: { amountMicros: 50_000_000, currency: 'EUR' } }),
        ev({ type: 'REFUNDED', transactionId: '2', price: usd(60), refundPercentage: 50_000 }),
        ev({ type: 'EXPIRED', transactionId: '3', price: usd(1000), originalPurchasedAt: T0 - 50 * DAY }),
      ],
      { EUR: 1.1 },
    );
    expect(h).toEqual({
      firstSeenAt: T0 - 50 * DAY,
      purchasedUsdMicros: 115_000_000,
      refundedUsdMicros: 30_000_000,
      hadTrial: true,
    });
  });

  it('leaves a total undeclared when an amount has no rate, and an empty history unknown', () => {
    const h = summarizeHistory([ev({ transactionId: '1', price: { amountMicros: 1, currency: 'JPY' } })], {});
    expect(h.purchasedUsdMicros).toBeUndefined();
    expect(h.refundedUsdMicros).toBe(0);
    expect(summarizeHistory([], {})).toEqual({
      firstSeenAt: undefined,
      purchasedUsdMicros: 0,
      refundedUsdMicros: 0,
      hadTrial: false,
    });
  });
});

describe('buildConsumption', () => {
  const facts = {
    transactionId: '2000000123',
    appAccountToken: '7389a31a-fb6d-4569-a2a6-db7d85d84813',
    requestedAt: T0,
    autoRenewable: true,
  };
  const history: CustomerHistory = {
    firstSeenAt: T0 - 40 * DAY,
    purchasedUsdMicros: 120_000_000,
    refundedUsdMicros: 0,
    hadTrial: false,
  };
  const policy: ResponderPolicy = {
    version: 'v2',
    assumeConsent: true,
    deliveryStatus: 'DELIVERED',
    refundPreference: 'DECLINE',
    sampleContentProvided: false,
    platform: 1,
  };

  it('sends nothing without consent, from config or from the app', () => {
    expect(buildConsumption(facts, history, undefined, { ...policy, assumeConsent: false })).toEqual({
      kind: 'not-consented',
      reason: 'no consent: no app hook, and REFUND_RESPONDER_ASSUME_CONSENT is false',
    });
    expect(buildConsumption(facts, history, { customerConsented: false }, policy)).toMatchObject({
      kind: 'not-consented',
    });
  });

  it('v2: the current ConsumptionRequest; no consumptionPercentage for an auto-renewable subscription', () => {
    expect(
      buildConsumption(facts, history, { customerConsented: true, consumptionPercentage: 40_000 }, policy),
    ).toEqual({
      kind: 'send',
      version: 'v2',
      body: {
        customerConsented: true,
        deliveryStatus: 'DELIVERED',
        refundPreference: 'DECLINE',
        sampleContentProvided: false,
      },
      notes: ['consumptionPercentage left out: Apple computes it for auto-renewable subscriptions'],
    });
  });

  it('v2: a consumable gets 0 % when undelivered, and GRANT_PRORATED only with a percentage in range', () => {
    const consumable = { ...facts, autoRenewable: false };
    const undelivered = buildConsumption(
      consumable,
      history,
      { customerConsented: true, deliveryStatus: 'UNDELIVERED_SERVER_OUTAGE', consumptionPercentage: 50_000 },
      { ...policy, refundPreference: 'GRANT_FULL' },
    );
    expect(undelivered).toMatchObject({
      body: {
        consumptionPercentage: 0,
        deliveryStatus: 'UNDELIVERED_SERVER_OUTAGE',
        refundPreference: 'GRANT_FULL',
      },
    });
    const prorated = { ...policy, refundPreference: 'GRANT_PRORATED' as const };
    expect(
      buildConsumption(
        consumable,
        history,
        { customerConsented: true, consumptionPercentage: 25_000 },
        prorated,
      ),
    ).toMatchObject({
      body: { consumptionPercentage: 25_000, refundPreference: 'GRANT_PRORATED' },
    });
    const without = buildConsumption(consumable, history, { customerConsented: true }, prorated);
    expect(without.kind === 'send' && 'refundPreference' in without.body).toBe(false);
  });

  it('v1: every field, Storeline history in buckets, sample content from a trial in the history', () => {
    const out = buildConsumption(
      facts,
      { ...history, hadTrial: true, refundedUsdMicros: undefined },
      { customerConsented: true, playTimeMs: 2 * 3_600_000, userStatus: 1 },
      { ...policy, version: 'v1', assumeConsent: false },
    );
    expect(out).toEqual({
      kind: 'send',
      version: 'v1',
      notes: [],
      body: {
        accountTenure: AccountTenure.THIRTY_DAYS_TO_NINETY_DAYS,
        appAccountToken: facts.appAccountToken,
        consumptionStatus: 0,
        customerConsented: true,
        deliveryStatus: 0,
        lifetimeDollarsPurchased:
          LifetimeDollars.ONE_HUNDRED_DOLLARS_TO_FOUR_HUNDRED_NINETY_NINE_DOLLARS_AND_NINETY_NINE_CENTS,
        lifetimeDollarsRefunded: LifetimeDollars.UNDECLARED,
        platform: 1,
        playTime: PlayTime.ONE_TO_SIX_HOURS,
        refundPreference: 2,
        sampleContentProvided: true,
        userStatus: 1,
      },
    });
  });

  it('v1: an appUserId that is not a UUID is sent as the empty string Apple asks for', () => {
    const out = buildConsumption({ ...facts, appAccountToken: 'user-42' }, history, undefined, {
      ...policy,
      version: 'v1',
    });
    expect(out.kind === 'send' && (out.body as { appAccountToken: string }).appAccountToken).toBe('');
  });

  it('paths per version', () => {
    expect(consumptionPath('v2', '2000/1')).toBe('/inApps/v2/transactions/consumption/2000%2F1');
    expect(consumptionPath('v1', '7')).toBe('/inApps/v1/transactions/consumption/7');
  });
});

describe('deadline and retries', () => {
  const deadline = responseDeadline(T0);
  const backoff = { baseMs: 1000, maxMs: 60_000 };

  it('is 12 hours after the request', () => {
    expect(deadline - T0).toBe(RESPONSE_WINDOW_MS);
    expect(RESPONSE_WINDOW_MS).toBe(12 * 3_600_000);
  });

  it('stops on 2xx and on a 4xx other than 429', () => {
    expect(afterAttempt({ status: 202 }, 1, T0, deadline, backoff)).toEqual({ kind: 'sent' });
    expect(afterAttempt({ status: 400 }, 1, T0, deadline, backoff)).toEqual({ kind: 'refused' });
    expect(afterAttempt({ status: 401 }, 1, T0, deadline, backoff)).toEqual({ kind: 'refused' });
  });

  it('retries 5xx, 429 and network failures with backoff, honouring Retry-After', () => {
    expect(afterAttempt({ status: 503 }, 1, T0, deadline, backoff)).toEqual({ kind: 'retry', at: T0 + 1000 });
    expect(afterAttempt({ status: undefined }, 3, T0, deadline, backoff)).toEqual({
      kind: 'retry',
      at: T0 + 4000,
    });
    expect(afterAttempt({ status: 500 }, 20, T0, deadline, backoff)).toEqual({
      kind: 'retry',
      at: T0 + 60_000,
    });
    expect(afterAttempt({ status: 429, retryAfter: '30' }, 1, T0, deadline, backoff)).toEqual({
      kind: 'retry',
      at: T0 + 30_000,
    });
  });

  it('expires when the next attempt would be at or past the deadline', () => {
    expect(afterAttempt({ status: 503 }, 1, deadline - 500, deadline, backoff)).toMatchObject({
      kind: 'expired',
    });
    expect(
      afterAttempt({ status: 429, retryAfter: String(13 * 3600) }, 1, T0, deadline, backoff),
    ).toMatchObject({
      kind: 'expired',
    });
  });
});
