/**
 * `storeline reconcile app-store` on the real stack (Kafka, registry, PostgreSQL) against the fake App Store
 * Server API (in process, port 0) and the normalizer (in process, with its notification claims):
 *  - a subscription whose EXPIRED notification was lost: the command publishes one `app-store-status` raw
 *    record and the normalizer emits the missing EXPIRED once, marked RECONCILIATION; once the state has
 *    the event, a second run finds "matches"; the same raw record delivered again yields no events;
 *  - a matching subscription (picked by --all-active --older-than): "matches", nothing published.
 * Storeline's view is seeded with the state store's own applyEvents (lib/adapters/state/store.ts) from the
 * canonical events of a SUBSCRIBED notification (mapV2), and the reconciliation's events are applied the
 * same way, as the state aggregator would.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Kafka } from 'kafkajs';
import type { Pool } from 'pg';
import { Registry } from 'prom-client';
import { createFakeAppStoreApi, type FakeAppStoreState } from '../../services/fake-app-store-api/app';
import { runReconcileAppStore } from '../../services/cli/reconcileAppStore';
import { CLAIM_MIGRATIONS, PgNotificationClaims } from '../../lib/adapters/normalizer/claims';
import { createNormalizer } from '../../lib/adapters/normalizer/normalizer';
import { applyEvents } from '../../lib/adapters/state/store';
import { mapAppStoreV2 } from '../../lib/core/app-store/mapV2';
import type { RenewalInfo, TransactionInfo } from '../../lib/core/app-store/model';
import { RAW_HEADERS } from '../../lib/core/rawHeaders';
import type { SubscriptionEvent } from '../../lib/core/generated/avro';
import type { TopicNames } from '../../lib/core/topics';
import type { AvroCodec } from '../../lib/platform/avro';
import { codecFor, createRegistry } from '../../lib/platform/avro';
import { createPool, migrate } from '../../lib/platform/db';
import type { TransactionalTransformer } from '../../lib/platform/transactional';
import { createPki, signJws, type Pki } from '../kit/appleSigning';
import { CTX, notification } from '../kit/builders/appStore';
import { createApiKey, type ApiKey } from '../kit/appStoreServerApi';
import { stackEnv } from '../support/env';
import { serve } from '../support/http';
import {
  collect,
  createCatalogTopics,
  randomId,
  testKafka,
  testLogger,
  waitFor,
  waitForRecords,
  type Collected,
} from '../support/kafka';
import { migratedPool, randomSchema } from '../support/state';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

interface Ctx {
  dir: string;
  key: ApiKey;
  pki: Pki;
  fake: { state: FakeAppStoreState; url: string; close: () => Promise<void> };
  names: TopicNames;
  kafka: Kafka;
  statePool: Pool;
  stateSchema: string;
  claimsPool: Pool;
  codec: AvroCodec<SubscriptionEvent>;
  metrics: Registry;
  normalizer: TransactionalTransformer;
  sink: { records: Collected[]; stop: () => Promise<void> };
}

let c: Ctx;

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'storeline-reconcile-'));
  const key = createApiKey();
  const pki = await createPki();
  writeFileSync(join(dir, 'key.p8'), key.privatePem);
  writeFileSync(join(dir, 'root.der'), pki.rootDer);
  const { app, state } = createFakeAppStoreApi(key);
  const server = await serve(app);
  const kafka = testKafka();
  const names = await createCatalogTopics(kafka);
  const { pool: statePool, schema: stateSchema } = await migratedPool();
  const claimsSchema = randomSchema();
  const claimsPool = createPool(stackEnv().databaseUrl, claimsSchema);
  await migrate(claimsPool, claimsSchema, CLAIM_MIGRATIONS);
  const codec = codecFor<SubscriptionEvent>(
    createRegistry(stackEnv().registryUrl),
    names,
    'subscriptionEvents',
  );
  await codec.register();
  const metrics = new Registry();
  const normalizer = createNormalizer({
    kafka,
    logger: testLogger,
    names,
    codec,
    groupId: randomId('norm'),
    transactionalIdPrefix: randomId('norm-tx'),
    claims: new PgNotificationClaims(claimsPool),
    metrics,
  });
  await normalizer.start();
  const sink = await collect(kafka, [names.name('rawAppStore'), names.name('subscriptionEvents')]);
  c = {
    dir,
    key,
    pki,
    fake: { state, ...server },
    names,
    kafka,
    statePool,
    stateSchema,
    claimsPool,
    codec,
    metrics,
    normalizer,
    sink,
  };
});

afterAll(async () => {
  await c.sink.stop();
  await c.normalizer.stop();
  await c.fake.close();
  await c.statePool.end();
  await c.claimsPool.end();
});

/** A subscription Storeline saw start (SUBSCRIBED INITIAL_BUY, active, auto-renewing) `ageMs` ago. */
async function seedSubscription(
  ageMs: number,
): Promise<{ otid: string; tx: TransactionInfo; renewal: RenewalInfo }> {
  const otid = `7${randomUUID().replace(/-/g, '').slice(0, 14)}`;
  const at = Date.now() - ageMs;
  const n = notification('SUBSCRIBED', 'INITIAL_BUY', {
    tx: { originalTransactionId: otid, transactionId: otid, expiresDate: at + 30 * DAY, purchaseDate: at },
    renewal: { originalTransactionId: otid },
  });
  n.payload.notificationUUID = randomUUID();
  n.payload.signedDate = at;
  await applied(mapAppStoreV2(n, CTX));
  return { otid, tx: n.transaction!, renewal: n.renewal! };
}

/** The events in the state tables, as the state aggregator applies them. */
async function applied(events: SubscriptionEvent[]): Promise<void> {
  const client = await c.statePool.connect();
  try {
    await client.query('BEGIN');
    await applyEvents(client, events, Date.now());
    await client.query('COMMIT');
  } finally {
    client.release();
  }
}

/** What Get All Subscription Statuses answers for the subscription, signed by the test PKI. */
function appleSays(otid: string, status: number, tx: TransactionInfo, renewal: RenewalInfo): void {
  c.fake.state.statuses.set(otid, {
    environment: 'Sandbox',
    bundleId: c.key.bundleId,
    appAppleId: 1234567890,
    data: [
      {
        subscriptionGroupIdentifier: '21000000',
        lastTransactions: [
          {
            originalTransactionId: otid,
            status,
            signedTransactionInfo: signJws(tx, c.pki),
            signedRenewalInfo: signJws(renewal, c.pki),
          },
        ],
      },
    ],
  });
}

async function reconcile(extra: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const status = await runReconcileAppStore(
    [
      ...['--environment', 'sandbox', '--api-url', c.fake.url, '--rate', '50'],
      ...['--issuer-id', c.key.issuerId, '--key-id', c.key.keyId, '--bundle-id', c.key.bundleId],
      ...['--private-key', join(c.dir, 'key.p8'), '--apple-root', join(c.dir, 'root.der')],
      ...extra,
    ],
    {
      KAFKA_BROKERS: stackEnv().brokers.join(','),
      TOPIC_PREFIX: c.names.prefix,
      DATABASE_URL: stackEnv().databaseUrl,
      STATE_DB_SCHEMA: c.stateSchema,
    },
    { out: (l) => out.push(l), err: (l) => err.push(l), now: Date.now },
  );
  return { status, stdout: out.join('\n'), stderr: err.join('\n') };
}

/**
 * How many records the raw App Store topic holds. The CLI exits only after Kafka acknowledged what it
 * published, so comparing this before and after a run shows exactly whether it published, with no waiting.
 */
async function rawRecordCount(): Promise<number> {
  const admin = c.kafka.admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(c.names.name('rawAppStore'));
    return offsets.reduce((n, p) => n + Number(p.high), 0);
  } finally {
    await admin.disconnect();
  }
}

const onTopic = (t: 'rawAppStore' | 'subscriptionEvents') => (r: Collected) => r.topic === c.names.name(t);

const metric = async (name: string) =>
  (await c.metrics.getSingleMetric(name)?.get())?.values.reduce((n, v) => n + v.value, 0) ?? 0;

describe('storeline reconcile app-store', () => {
  it('emits a lost EXPIRED once, marked RECONCILIATION; then matches; a redelivered record adds nothing', async () => {
    const { otid, tx, renewal } = await seedSubscription(2 * HOUR);
    const key = `app_store:${otid}`;
    appleSays(otid, 2, tx, { ...renewal, autoRenewStatus: 0, expirationIntent: 1 });

    const first = await reconcile(['--subscription', key]);
    expect(first.stderr).not.toMatch(/not reconciled/);
    expect(first.status).toBe(0);
    expect(first.stdout).toContain(`${key}: status: ACTIVE -> EXPIRED`);
    expect(first.stdout).toContain(`${key}: autoRenew: true -> false`);
    const id = /published (\S+)/.exec(first.stdout)?.[1];
    expect(id).toBeDefined();

    const [raw] = await waitForRecords(c.sink.records, 1, onTopic('rawAppStore'));
    const h = raw!.message.headers!;
    expect(h[RAW_HEADERS.format]!.toString()).toBe('app-store-status');
    expect(h[RAW_HEADERS.reconcile]!.toString()).toBe('app-store:subscription-statuses');
    expect(h[RAW_HEADERS.notificationId]!.toString()).toBe(id);
    expect(raw!.message.key!.toString()).toBe(otid);

    const [out] = await waitForRecords(c.sink.records, 1, onTopic('subscriptionEvents'));
    const event = await c.codec.decode(out!.message.value!);
    expect(event).toMatchObject({
      eventId: `app_store:reconcile:${id}:0`,
      type: 'EXPIRED',
      reason: 'VOLUNTARY',
      subscriptionKey: key,
      environment: 'SANDBOX',
      appId: c.key.bundleId,
      productId: 'pro.monthly',
      status: 'EXPIRED',
      entitled: false,
      autoRenew: false,
      expiresAt: tx.expiresDate,
      source: { notificationId: id, nativeType: 'RECONCILIATION', nativeSubtype: null },
    });

    // The state aggregator applies it; Storeline now agrees with Apple.
    await applied([event]);
    const second = await reconcile(['--subscription', key]);
    expect(second.status).toBe(0);
    expect(second.stdout).toBe(`${key}: matches`);

    // The same raw record delivered again: claimed by its reconciliation id, no events.
    const producer = c.kafka.producer();
    await producer.connect();
    await producer.send({
      topic: c.names.name('rawAppStore'),
      messages: [{ key: raw!.message.key, value: raw!.message.value, headers: raw!.message.headers }],
    });
    await producer.disconnect();
    await waitFor(
      'the redelivered record normalized',
      async () => (await metric('storeline_normalizer_records_consumed_total')) >= 2,
    );
    expect(await metric('storeline_normalizer_duplicates_total')).toBe(1);
    expect(c.sink.records.filter(onTopic('rawAppStore'))).toHaveLength(2);
    expect(c.sink.records.filter(onTopic('subscriptionEvents'))).toHaveLength(1);
  });

  it('emits a lost renewal: RENEWED with the new period and transaction', async () => {
    const { otid, tx, renewal } = await seedSubscription(2 * HOUR);
    const key = `app_store:${otid}`;
    const renewed = {
      ...tx,
      transactionId: `${otid}9`,
      purchaseDate: tx.expiresDate,
      expiresDate: tx.expiresDate! + 30 * DAY,
    };
    appleSays(otid, 1, renewed, renewal);

    const r = await reconcile(['--subscription', key]);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(
      `${key}: expiresAt: ${new Date(tx.expiresDate!).toISOString()} -> ${new Date(renewed.expiresDate).toISOString()}`,
    );
    const id = /published (\S+)/.exec(r.stdout)?.[1];
    const ofKey = (rec: Collected) =>
      onTopic('subscriptionEvents')(rec) && rec.message.key?.toString() === key;
    const [out] = await waitForRecords(c.sink.records, 1, ofKey);
    const event = await c.codec.decode(out!.message.value!);
    await applied([event]); // as the state aggregator does: Storeline now has the renewal
    expect(event).toMatchObject({
      eventId: `app_store:reconcile:${id}:0`,
      type: 'RENEWED',
      status: 'ACTIVE',
      entitled: true,
      transactionId: renewed.transactionId,
      expiresAt: renewed.expiresDate,
      source: { nativeType: 'RECONCILIATION' },
    });
  });

  it('a matching subscription: "matches", nothing published (--all-active --older-than)', async () => {
    const before = c.sink.records.length;
    const rawBefore = await rawRecordCount();
    const stale = await seedSubscription(3 * HOUR);
    appleSays(stale.otid, 1, stale.tx, stale.renewal);
    const recent = await seedSubscription(10 * 60_000); // heard of lately: not picked
    appleSays(recent.otid, 2, recent.tx, recent.renewal);

    const r = await reconcile(['--all-active', '--older-than', '1h']);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(`app_store:${stale.otid}: matches`);
    expect(r.stderr).toMatch(/reconciling 1 App Store subscription/);
    expect(await rawRecordCount()).toBe(rawBefore);
    expect(c.sink.records.length).toBe(before);
  });

  it('a subscription Apple does not list, or signed by an untrusted root: exit 1, nothing published', async () => {
    const before = c.sink.records.length;
    const rawBefore = await rawRecordCount();
    const unknown = await seedSubscription(HOUR);
    const forged = await seedSubscription(HOUR);
    const other = await createPki();
    c.fake.state.statuses.set(forged.otid, {
      environment: 'Sandbox',
      bundleId: c.key.bundleId,
      data: [
        {
          subscriptionGroupIdentifier: '21000000',
          lastTransactions: [
            {
              originalTransactionId: forged.otid,
              status: 2,
              signedTransactionInfo: signJws(forged.tx, other),
              signedRenewalInfo: signJws(forged.renewal, other),
            },
          ],
        },
      ],
    });
    const r = await reconcile([
      ...['--subscription', `app_store:${unknown.otid}`, '--subscription', `app_store:${forged.otid}`],
    ]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`app_store:${unknown.otid}: not reconciled: .*HTTP 404`));
    expect(r.stderr).toMatch(new RegExp(`app_store:${forged.otid}: not reconciled: .*trusted root`));
    expect(r.stdout).toBe('');
    expect(await rawRecordCount()).toBe(rawBefore);
    expect(c.sink.records.length).toBe(before);
  });
  it('a key Apple refuses (401) stops the run: exit 1, one request, nothing published', async () => {
    const before = c.sink.records.length;
    const rawBefore = await rawRecordCount();
    const a = await seedSubscription(HOUR);
    const b = await seedSubscription(HOUR);
    appleSays(a.otid, 2, a.tx, a.renewal);
    appleSays(b.otid, 2, b.tx, b.renewal);
    writeFileSync(join(c.dir, 'wrong.p8'), createApiKey().privatePem);
    const refusedBefore = c.fake.state.unauthorized;
    const r = await reconcile([
      ...['--subscription', `app_store:${a.otid}`, '--subscription', `app_store:${b.otid}`],
      ...['--private-key', join(c.dir, 'wrong.p8')],
    ]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/HTTP 401 Unauthorized/);
    expect(r.stderr).toContain('stopped: 2 of 2 subscription(s) not reconciled');
    expect(r.stderr).not.toContain('BEGIN PRIVATE KEY');
    expect(c.fake.state.unauthorized - refusedBefore).toBe(1);
    expect(await rawRecordCount()).toBe(rawBefore);
    expect(c.sink.records.length).toBe(before);
  });
});
