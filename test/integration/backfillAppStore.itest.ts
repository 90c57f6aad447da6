/**
 * `storeline backfill app-store` on the real stack against the fake App Store Server API (in process, port
 * 0): notifications the receiver never got are recovered through the normalizer exactly once, a second
 * backfill adds nothing, a wrong key is refused with 401 and publishes nothing, a 429 with Retry-After is
 * waited out, and an interrupted run resumes from its checkpoint without reading page 1 again.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Kafka } from 'kafkajs';
import { Registry } from 'prom-client';
import { createFakeAppStoreApi, type FakeAppStoreState } from '../../services/fake-app-store-api/app';
import { runBackfillAppStore } from '../../services/cli/backfillAppStore';
import { CLAIM_MIGRATIONS, PgNotificationClaims } from '../../lib/adapters/normalizer/claims';
import { createNormalizer } from '../../lib/adapters/normalizer/normalizer';
import { codecFor, createRegistry } from '../../lib/platform/avro';
import { createPool, migrate } from '../../lib/platform/db';
import { RAW_HEADERS } from '../../lib/core/rawHeaders';
import type { SubscriptionEvent } from '../../lib/core/generated/avro';
import type { TopicNames } from '../../lib/core/topics';
import { createPki, signedBody, type Pki } from '../kit/appleSigning';
import { notification } from '../kit/builders/appStore';
import { createApiKey, historyItem, type ApiKey } from '../kit/appStoreServerApi';
import { startAppStoreReceiver } from '../support/appStore';
import { stackEnv } from '../support/env';
import { post, serve } from '../support/http';
import { createCatalogTopics, drainTopic, randomId, testKafka, testLogger, waitFor } from '../support/kafka';
import { randomSchema } from '../support/state';

const HOUR = 3_600_000;

/** A DID_RENEW (one RENEWED event) of its own subscription, signed `ageMs` ago. */
function renewal(ageMs: number) {
  const id = randomUUID();
  const n = notification('DID_RENEW', undefined, { tx: { originalTransactionId: `7${id.slice(0, 8)}` } });
  n.payload.notificationUUID = id;
  n.payload.signedDate = Date.now() - ageMs;
  return n;
}

interface Setup {
  dir: string;
  key: ApiKey;
  pki: Pki;
  fake: { state: FakeAppStoreState; url: string; close: () => Promise<void> };
  names: TopicNames;
  kafka: Kafka;
}

async function setup(pageSize: number): Promise<Setup> {
  const dir = mkdtempSync(join(tmpdir(), 'storeline-backfill-'));
  const key = createApiKey();
  const pki = await createPki();
  writeFileSync(join(dir, 'key.p8'), key.privatePem);
  writeFileSync(join(dir, 'root.der'), pki.rootDer);
  const { app, state } = createFakeAppStoreApi({ ...key, pageSize });
  const server = await serve(app);
  const kafka = testKafka();
  const names = await createCatalogTopics(kafka);
  return { dir, key, pki, fake: { state, ...server }, names, kafka };
}

/** Runs the command in process; stderr lines collected. */
async function backfill(s: Setup, extra: string[] = [], env: Record<string, string> = {}) {
  const lines: string[] = [];
  const status = await runBackfillAppStore(
    [
      ...['--since', String(Date.now() - 2 * HOUR), '--until', String(Date.now() + HOUR)],
      ...['--environment', 'sandbox', '--api-url', s.fake.url],
      ...['--issuer-id', s.key.issuerId, '--key-id', s.key.keyId, '--bundle-id', s.key.bundleId],
      ...['--private-key', join(s.dir, 'key.p8'), '--apple-root', join(s.dir, 'root.der')],
      ...['--checkpoint', join(s.dir, 'checkpoint.json'), '--rate', '50'],
      ...extra,
    ],
    { KAFKA_BROKERS: stackEnv().brokers.join(','), TOPIC_PREFIX: s.names.prefix, ...env },
    { err: (l) => lines.push(l), now: Date.now },
  );
  return { status, stderr: lines.join('\n') };
}

const rawRecords = async (s: Setup) => drainTopic(s.kafka, s.names.name('rawAppStore'));

describe('storeline backfill app-store', () => {
  it('recovers notifications the receiver never got, once; a second backfill adds nothing', async () => {
    const s = await setup(2);
    const schema = randomSchema();
    const pool = createPool(stackEnv().databaseUrl, schema);
    await migrate(pool, schema, CLAIM_MIGRATIONS);
    const codec = codecFor<SubscriptionEvent>(
      createRegistry(stackEnv().registryUrl),
      s.names,
      'subscriptionEvents',
    );
    await codec.register();
    const metrics = new Registry();
    const normalizer = createNormalizer({
      kafka: s.kafka,
      logger: testLogger,
      names: s.names,
      codec,
      groupId: randomId('norm'),
      transactionalIdPrefix: randomId('norm-tx'),
      claims: new PgNotificationClaims(pool),
      metrics,
    });
    await normalizer.start();
    const receiver = await startAppStoreReceiver(s.kafka, s.names.name('rawAppStore'), {
      extraRoots: [s.pki.rootDer],
    });
    const consumed = async () =>
      (await metrics.getSingleMetric('storeline_normalizer_records_consumed_total')?.get())?.values.reduce(
        (n, v) => n + v.value,
        0,
      ) ?? 0;
    const all = [5, 4, 3, 2, 1].map((m) => renewal(m * 60_000));
    const pushed = [all[0]!, all[3]!];
    try {
      for (const n of pushed) {
        expect((await post(`${receiver.url}/app-store/v2`, signedBody(n, s.pki))).status).toBe(200);
      }
      await waitFor('the pushed notifications normalized', async () => (await consumed()) >= 2);
      s.fake.state.history = all.map((n) => historyItem(n, s.pki));

      const DB = { DATABASE_URL: stackEnv().databaseUrl, NORMALIZER_DB_SCHEMA: schema };
      const first = await backfill(s, [], DB);
      expect(first.status).toBe(0);
      expect(first.stderr).toMatch(
        /page 1: 2 notifications, 2 published \(1 already seen by the normalizer, 1 new\)/,
      );
      expect(first.stderr).toMatch(
        /done: 3 pages, 5 notifications, 5 published \(2 already seen, 3 new\), 0 refused/,
      );
      await waitFor('the backfilled records normalized', async () => (await consumed()) >= 7);

      const second = await backfill(s, [], DB);
      expect(second.status).toBe(0);
      expect(second.stderr).toMatch(/5 published \(5 already seen, 0 new\)/);
      await waitFor('the second backfill normalized', async () => (await consumed()) >= 12);
      const dupes = await metrics.getSingleMetric('storeline_normalizer_duplicates_total')?.get();
      expect(dupes?.values.reduce((n, v) => n + v.value, 0)).toBe(7);
    } finally {
      await receiver.close();
      await normalizer.stop();
      await pool.end();
      await s.fake.close();
    }

    const events = await Promise.all(
      (await drainTopic(s.kafka, s.names.name('subscriptionEvents'))).map((r) =>
        codec.decode(r.message.value!),
      ),
    );
    expect(events).toHaveLength(all.length);
    expect(new Set(events.map((e) => e.eventId)).size).toBe(all.length);
    expect(new Set(events.map((e) => e.source.notificationId))).toEqual(
      new Set(all.map((n) => n.payload.notificationUUID)),
    );
    expect(events.every((e) => e.type === 'RENEWED')).toBe(true);

    // The backfilled raw records are the receiver's, marked as a backfill.
    const raw = await rawRecords(s);
    const marked = raw.filter((r) => r.message.headers?.[RAW_HEADERS.backfill]?.toString());
    expect(marked).toHaveLength(10);
    const h = marked[0]!.message.headers!;
    expect(h[RAW_HEADERS.backfill]!.toString()).toBe('app-store:notification-history');
    expect(h[RAW_HEADERS.format]!.toString()).toBe('app-store-v2');
    expect(h[RAW_HEADERS.environment]!.toString()).toBe('Sandbox');
  });

  it('a wrong private key is refused with 401: exit 1, a clear message, nothing published', async () => {
    const s = await setup(2);
    try {
      s.fake.state.history = [renewal(60_000)].map((n) => historyItem(n, s.pki));
      writeFileSync(join(s.dir, 'key.p8'), createApiKey().privatePem);
      const r = await backfill(s);
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/HTTP 401 Unauthorized.*private key, key id, issuer id and bundle id/);
      expect(r.stderr).not.toContain('BEGIN PRIVATE KEY');
      expect(s.fake.state.unauthorized).toBe(1);
      expect(await rawRecords(s)).toHaveLength(0);
    } finally {
      await s.fake.close();
    }
  });

  it('waits out a 429 with Retry-After and completes', async () => {
    const s = await setup(20);
    try {
      s.fake.state.history = [renewal(60_000), renewal(30_000)].map((n) => historyItem(n, s.pki));
      s.fake.state.failures = [{ status: 429, retryAfterSeconds: 1 }];
      const t0 = Date.now();
      const r = await backfill(s);
      expect(r.status).toBe(0);
      expect(r.stderr).toContain('HTTP 429; retrying in 1000 ms');
      expect(Date.now() - t0).toBeGreaterThanOrEqual(1000);
      expect(r.stderr).toMatch(/done: 1 pages, 2 notifications, 2 published/);
      expect(await rawRecords(s)).toHaveLength(2);
    } finally {
      await s.fake.close();
    }
  });

  it('an interrupted run resumes from its checkpoint without reading page 1 again', async () => {
    const s = await setup(2);
    const checkpoint = join(s.dir, 'checkpoint.json');
    try {
      s.fake.state.history = [5, 4, 3, 2, 1].map((m) => historyItem(renewal(m * 60_000), s.pki));
      const since = String(Date.now() - HOUR);
      const first = await backfill(s, ['--since', since, '--max-pages', '1']);
      expect(first.status).toBe(0);
      expect(first.stderr).toMatch(/stopped after --max-pages/);
      const saved = JSON.parse(readFileSync(checkpoint, 'utf8'));
      expect(saved).toMatchObject({ pages: 1, found: 2, published: 2 });
      expect(typeof saved.paginationToken).toBe('string');
      expect(s.fake.state.historyRequests).toHaveLength(1);

      // The same range (the helper's default --until moved on): resumed after page 1.
      const second = await backfill(s, ['--since', since, '--until', String(saved.endDate)]);
      expect(second.status).toBe(0);
      expect(second.stderr).toMatch(/resuming after page 1/);
      expect(second.stderr).toMatch(/done: 3 pages, 5 notifications, 5 published/);
      const resumed = s.fake.state.historyRequests.slice(1);
      expect(resumed).toHaveLength(2);
      expect(resumed.every((r) => r.paginationToken !== undefined)).toBe(true);
      expect(resumed[0]!.paginationToken).toBe(saved.paginationToken);
      expect(existsSync(checkpoint)).toBe(false);
      expect(await rawRecords(s)).toHaveLength(5);
    } finally {
      await s.fake.close();
    }
  });
});
