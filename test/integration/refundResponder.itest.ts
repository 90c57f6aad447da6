/**
 * refund-responder on the real stack (Kafka, registry, PostgreSQL) against the fake App Store Server API in
 * process over real HTTP: a REFUND_REQUESTED event becomes exactly one Send Consumption Information PUT
 * with the expected body and a token the fake verified; 503 twice then 202 is one answer after three
 * recorded attempts; no consent sends nothing and says so; the same event published twice is answered
 * once; v1 carries the customer's history in Apple's buckets; a wrong key is refused with a clear error.
 */
import { randomUUID } from 'node:crypto';
import express from 'express';
import type { Kafka } from 'kafkajs';
import type { Pool } from 'pg';
import { createFakeAppStoreApi, type FakeAppStoreState } from '../../services/fake-app-store-api/app';
import { createRefundApi } from '../../services/refund-responder/app';
import { AppStoreServerApi, loadApiPrivateKey } from '../../lib/adapters/app-store/serverApi';
import { createRefundResponder } from '../../lib/adapters/refund-responder/service';
import { REFUND_RESPONDER_MIGRATIONS, type RequestView } from '../../lib/adapters/refund-responder/store';
import { applyEvents } from '../../lib/adapters/state/store';
import { createIdempotentProducer } from '../../lib/platform/kafka';
import { createPool, inTransaction, migrate } from '../../lib/platform/db';
import type { ResponderPolicy } from '../../lib/core/app-store/consumption';
import type { SubscriptionEvent } from '../../lib/core/generated/avro';
import type { TopicNames } from '../../lib/core/topics';
import { createApiKey, type ApiKey } from '../kit/appStoreServerApi';
import { stackEnv } from '../support/env';
import { serve } from '../support/http';
import { createCatalogTopics, randomId, testKafka, testLogger, waitFor } from '../support/kafka';
import { codecs, migratedPool, produceEvents, randomSchema, realSampleEvents } from '../support/state';

const DAY = 86_400_000;
const API_KEY = 'refund-requests-test-key';
const key = createApiKey();

function refundRequest(over: Partial<SubscriptionEvent> = {}): SubscriptionEvent {
  const sample = realSampleEvents().find((e) => e.type === 'REFUND_REQUESTED')!;
  const now = Date.now();
  return {
    ...sample,
    eventId: `app_store:${randomUUID()}:0`,
    environment: 'PRODUCTION',
    subscriptionKey: `app_store:${randomId('sub')}`,
    transactionId: String(2_000_000_000 + Math.floor(Math.random() * 1e9)),
    appUserId: randomUUID(),
    occurredAt: now,
    purchasedAt: now - DAY,
    originalPurchasedAt: now - DAY,
    expiresAt: now + 300 * DAY,
    ...over,
  };
}

interface Responder {
  names: TopicNames;
  pool: Pool;
  fake: FakeAppStoreState;
  api: string;
  publish: (...events: SubscriptionEvent[]) => Promise<void>;
  stop: () => Promise<void>;
}

interface Options {
  policy: Partial<ResponderPolicy>;
  signingKey?: ApiKey;
  hookUrl?: string;
  stateSchema?: string;
}

async function startResponder(kafka: Kafka, opts: Options): Promise<Responder> {
  const names = await createCatalogTopics(kafka);
  const { eventCodec } = await codecs(names);
  const schema = randomSchema();
  const pool = createPool(stackEnv().databaseUrl, schema);
  await migrate(pool, schema, REFUND_RESPONDER_MIGRATIONS);
  const fake = createFakeAppStoreApi(key);
  const fakeServer = await serve(fake.app);
  const signing = opts.signingKey ?? key;
  const apple = new AppStoreServerApi({
    baseUrl: fakeServer.url,
    key: { ...key, privateKey: await loadApiPrivateKey(signing.privatePem) },
    ratePerSecond: 100,
    retry: { maxAttempts: 1, baseDelayMs: 0, maxDelayMs: 0 },
  });
  const producer = createIdempotentProducer(kafka);
  await producer.connect();
  const responder = createRefundResponder({
    kafka,
    pool,
    producer,
    eventCodec,
    names,
    groupId: randomId('refund-responder'),
    logger: testLogger,
    environment: 'PRODUCTION',
    send: (path, body) => apple.sendConsumptionInformation(path, body),
    hook: opts.hookUrl ? { url: opts.hookUrl, token: 'hook-token', timeoutMs: 2000 } : undefined,
    policy: {
      version: 'v2',
      assumeConsent: false,
      deliveryStatus: 'DELIVERED',
      refundPreference: undefined,
      sampleContentProvided: false,
      platform: 1,
      ...opts.policy,
    },
    usdPerUnit: { EUR: 1.1 },
    stateSchema: opts.stateSchema ?? randomSchema(),
    backoff: { baseMs: 100, maxMs: 400 },
    pollIntervalMs: 100,
  });
  await responder.start();
  const apiServer = await serve(createRefundApi({ pool, apiKeys: [API_KEY], logger: testLogger }));
  return {
    names,
    pool,
    fake: fake.state,
    api: apiServer.url,
    publish: (...events) => produceEvents(kafka, names.name('subscriptionEvents'), eventCodec, events),
    stop: async () => {
      await responder.stop();
      await producer.disconnect();
      await Promise.all([fakeServer.close(), apiServer.close()]);
      await pool.query(`DROP SCHEMA "${schema}" CASCADE`);
      await pool.end();
    },
  };
}

async function requests(r: Responder): Promise<RequestView[]> {
  const res = await fetch(`${r.api}/refund-requests?since=0`, {
    headers: { authorization: `Bearer ${API_KEY}` },
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { items: RequestView[] }).items;
}

/** The request once it has left `pending`. */
function settled(r: Responder, eventId: string): Promise<RequestView> {
  return waitFor(`refund request ${eventId} settled`, async () =>
    (await requests(r)).find((x) => x.eventId === eventId && x.status !== 'pending'),
  );
}

const putsFor = (r: Responder, transactionId: string) =>
  r.fake.consumption.filter((c) => c.transactionId === transactionId);

describe('refund responder, v2 with the app hook deciding consent', () => {
  const kafka = testKafka();
  let r: Responder;
  let hook: { url: string; close: () => Promise<void> };
  const consent = new Map<string, boolean>();
  const hookCalls: { body: { transactionId: string }; auth: string | undefined }[] = [];

  beforeAll(async () => {
    const app = express();
    app.use(express.json());
    app.post('/refund-hook', (req, res) => {
      hookCalls.push({ body: req.body, auth: req.headers.authorization });
      res.json({ customerConsented: consent.get(req.body.transactionId) ?? false, playTimeMs: 3_600_000 });
    });
    hook = await serve(app);
    r = await startResponder(kafka, {
      policy: { refundPreference: 'DECLINE' },
      hookUrl: `${hook.url}/refund-hook`,
    });
  });
  afterAll(async () => {
    await r.stop();
    await hook.close();
  });

  it('answers a refund request with exactly one PUT, the expected body and a token the fake verified', async () => {
    const e = refundRequest();
    consent.set(e.transactionId!, true);
    await r.publish(e);
    const done = await settled(r, e.eventId);
    expect(done).toMatchObject({ status: 'sent', apiVersion: 'v2', transactionId: e.transactionId });
    expect(done.attempts).toEqual([
      expect.objectContaining({ attempt: 1, target: 'apple', httpStatus: 202 }),
    ]);
    expect(putsFor(r, e.transactionId!)).toEqual([
      expect.objectContaining({
        version: 'v2',
        status: 202,
        body: {
          customerConsented: true,
          deliveryStatus: 'DELIVERED',
          refundPreference: 'DECLINE',
          sampleContentProvided: false,
        },
      }),
    ]);
    expect(r.fake.unauthorized).toBe(0);
    expect(hookCalls.find((c) => c.body.transactionId === e.transactionId)?.auth).toBe('Bearer hook-token');
  });

  it('retries 503 twice, then answers once: three attempts recorded', async () => {
    const e = refundRequest();
    consent.set(e.transactionId!, true);
    r.fake.failures.push({ status: 503 }, { status: 503 });
    await r.publish(e);
    const done = await settled(r, e.eventId);
    expect(done.status).toBe('sent');
    expect(done.attempts.map((a) => a.httpStatus)).toEqual([503, 503, 202]);
    expect(putsFor(r, e.transactionId!)).toHaveLength(1);
  });

  it('sends nothing without consent, and records why', async () => {
    const e = refundRequest();
    consent.set(e.transactionId!, false);
    await r.publish(e);
    const done = await settled(r, e.eventId);
    expect(done).toMatchObject({
      status: 'not_consented',
      outcome: 'the app hook answered customerConsented=false',
      attempts: [],
    });
    expect(putsFor(r, e.transactionId!)).toEqual([]);
  });

  it('answers an event published twice once', async () => {
    const e = refundRequest();
    const after = refundRequest({ subscriptionKey: e.subscriptionKey }); // same partition, read after both copies
    consent.set(e.transactionId!, true);
    consent.set(after.transactionId!, true);
    await r.publish(e, e); // twice in one batch
    expect((await settled(r, e.eventId)).status).toBe('sent');
    await r.publish(e, after); // and again after it was answered
    await settled(r, after.eventId);
    expect(putsFor(r, e.transactionId!)).toHaveLength(1);
    expect((await requests(r)).filter((x) => x.eventId === e.eventId)).toHaveLength(1);
  });

  it('needs an API key to read the requests', async () => {
    expect((await fetch(`${r.api}/refund-requests`)).status).toBe(401);
  });
});

describe('refund responder, v1 from the customer history', () => {
  const kafka = testKafka();
  let r: Responder;
  let state: { pool: Pool; schema: string };

  beforeAll(async () => {
    state = await migratedPool();
    r = await startResponder(kafka, {
      policy: { version: 'v1', assumeConsent: true, refundPreference: 'GRANT_FULL' },
      stateSchema: state.schema,
    });
  });
  afterAll(async () => {
    await r.stop();
    await state.pool.query(`DROP SCHEMA "${state.schema}" CASCADE`);
    await state.pool.end();
  });

  it('sends tenure and lifetime amounts in Apple buckets', async () => {
    const now = Date.now();
    const e = refundRequest({ originalPurchasedAt: now - 40 * DAY });
    const history = (
      type: SubscriptionEvent['type'],
      daysAgo: number,
      tx: string,
      over: Partial<SubscriptionEvent> = {},
    ) => ({
      ...e,
      eventId: `app_store:${randomUUID()}:0`,
      type,
      occurredAt: now - daysAgo * DAY,
      transactionId: tx,
      price: { amountMicros: 59_990_000, currency: 'USD' },
      ...over,
    });
    await inTransaction(state.pool, (c) =>
      applyEvents(
        c,
        [
          history('SUBSCRIPTION_STARTED', 40, 't1', {
            periodType: 'TRIAL',
            price: { amountMicros: 0, currency: 'USD' },
          }),
          history('RENEWED', 33, 't2'),
          history('RENEWED', 3, 't3', { price: { amountMicros: 50_000_000, currency: 'EUR' } }),
        ],
        now,
      ),
    );
    await r.publish(e);
    const done = await settled(r, e.eventId);
    expect(done.status).toBe('sent');
    expect(putsFor(r, e.transactionId!)).toEqual([
      expect.objectContaining({
        version: 'v1',
        status: 202,
        body: {
          accountTenure: 4, // 30-90 days
          appAccountToken: e.appUserId,
          consumptionStatus: 0,
          customerConsented: true,
          deliveryStatus: 0,
          lifetimeDollarsPurchased: 4, // 59.99 + 55.00 (50 EUR at 1.1) = 114.99 USD: 100-499.99
          lifetimeDollarsRefunded: 1, // none
          platform: 1,
          playTime: 0,
          refundPreference: 1,
          sampleContentProvided: true, // the trial
          userStatus: 0,
        },
      }),
    ]);
  });
});

describe('refund responder with the wrong key', () => {
  const kafka = testKafka();
  let r: Responder;
  beforeAll(async () => {
    r = await startResponder(kafka, { policy: { assumeConsent: true }, signingKey: createApiKey() });
  });
  afterAll(() => r.stop());

  it('is refused by the fake, with a clear recorded error and nothing received', async () => {
    const e = refundRequest();
    await r.publish(e);
    const done = await settled(r, e.eventId);
    expect(done).toMatchObject({
      status: 'refused',
      attempts: [expect.objectContaining({ httpStatus: 401 })],
    });
    expect(done.outcome).toMatch(/HTTP 401 Unauthorized: Apple refused the token; check the private key/);
    expect(r.fake.unauthorized).toBe(1);
    expect(r.fake.consumption).toEqual([]);
  });
});
