/**
 * services/backfill on the real stack (Kafka, PostgreSQL; the fake Play API in process): with the Play
 * Store enabled and a short interval, a voided purchase missed as RTDN reaches the raw topic on every run
 * and the canonical topic once (the normalizer deduplicates by orderId); a failed run is counted and retried
 * at the next interval; /metrics shows the run counter. With no store enabled it starts, idle and ready.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createFakeAppStoreApi } from '../../services/fake-app-store-api/app';
import { VOIDED_FAILURES } from '../../services/fake-play-api/app';
import { startBackfill } from '../../services/backfill/app';
import { BackfillConfig } from '../../services/backfill/config';
import { RAW_HEADERS } from '../../lib/core/rawHeaders';
import { parseConfig } from '../../lib/platform/config';
import { express, mountOps } from '../../lib/platform/http';
import { createMetricsRegistry } from '../../lib/platform/metrics';
import type { Started } from '../../lib/platform/service';
import { createPki } from '../kit/appleSigning';
import { createApiKey, historyItem } from '../kit/appStoreServerApi';
import { notification } from '../kit/builders/appStore';
import { PACKAGE, rtdn, sub } from '../kit/builders/play';
import { startPlayPipeline, typesByKey } from '../kit/playPipeline';
import { stackEnv } from '../support/env';
import { serve } from '../support/http';
import { createCatalogTopics, drainTopic, testKafka, testLogger, waitFor } from '../support/kafka';
import { PLAY_TOKEN } from '../support/play';

function backfillConfig(env: Record<string, string>): BackfillConfig {
  const parsed = parseConfig(BackfillConfig, {
    KAFKA_BROKERS: stackEnv().brokers.join(','),
    SCHEMA_REGISTRY_URL: stackEnv().registryUrl,
    PORT: '0',
    ...env,
  });
  if (!parsed.ok) throw new Error(parsed.problems.join('; '));
  return parsed.config;
}

/** The service as the runner would start it, its ops routes on an ephemeral port. */
async function start(env: Record<string, string>) {
  const metrics = createMetricsRegistry('backfill');
  const started: Started = await startBackfill({ config: backfillConfig(env), logger: testLogger, metrics });
  const app = express();
  mountOps(app, { metrics, ready: started.ready! });
  const ops = await serve(app);
  return {
    url: ops.url,
    metrics: async () => (await fetch(`${ops.url}/metrics`)).text(),
    async stop() {
      await ops.close();
      for (const step of started.shutdown) if (step !== 'server') await step();
    },
  };
}

/** The value of `name{labels}` in a Prometheus text exposition (0 when absent). */
function sample(text: string, name: string, labels: Record<string, string>): number {
  const line = text
    .split('\n')
    .find(
      (l) => l.startsWith(`${name}{`) && Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`)),
    );
  return line ? Number(line.split(' ').pop()) : 0;
}

describe('backfill service', () => {
  it('recovers a missed refund on schedule, publishes it every run and yields its events once', async () => {
    const p = await startPlayPipeline();
    let service: Awaited<ReturnType<typeof start>> | undefined;
    try {
      p.fake.state.subscriptions.set('tok-s', sub('ACTIVE', {}, { latestSuccessfulOrderId: 'GPA.S' }));
      expect(await p.push(rtdn(4, 'tok-s'), 'm-s1')).toBe(204);
      p.fake.state.voided.push({
        purchaseToken: 'tok-s',
        orderId: 'GPA.S',
        voidedTimeMillis: String(Date.now() - 3_600_000),
        purchaseTimeMillis: String(Date.now() - 10 * 86_400_000),
        voidedSource: 0,
        voidedReason: 1,
      });
      // The first run fails (403 is not retried): counted, logged, and tried again at the next interval.
      p.fake.state.failures.set(VOIDED_FAILURES, { status: 403, times: 1 });
      service = await start({
        BACKFILL_PLAY_STORE: 'true',
        BACKFILL_INTERVAL_MS: '300',
        PLAY_PACKAGE_NAMES: PACKAGE,
        PLAY_API_ROOT_URL: p.fake.url,
        PLAY_API_TOKEN: PLAY_TOKEN,
        PLAY_MIN_INTERVAL_MS: '0',
        TOPIC_PREFIX: p.names.prefix,
      });
      const s = service;
      await waitFor('two successful runs', async () => {
        const m = await s.metrics();
        return sample(m, 'storeline_backfill_runs_total', { store: 'play-store', outcome: 'ok' }) >= 2 && m;
      });
      const metrics = await service.metrics();
      expect(
        sample(metrics, 'storeline_backfill_runs_total', { store: 'play-store', outcome: 'failed' }),
      ).toBe(1);
      expect(
        sample(metrics, 'storeline_backfill_published_total', { store: 'play-store' }),
      ).toBeGreaterThanOrEqual(2);
      expect((await fetch(`${service.url}/readyz`)).status).toBe(200);
      await service.stop();
      service = undefined;
      await p.settled();

      const raw = await drainTopic(p.kafka, p.names.name('rawPlayStore'));
      const backfilled = raw.filter((r) => r.message.headers?.[RAW_HEADERS.backfill]);
      expect(backfilled.length).toBeGreaterThanOrEqual(2);
      expect(new Set(backfilled.map((r) => r.message.key?.toString()))).toEqual(new Set(['tok-s']));
      expect(typesByKey(await p.events())).toEqual({
        'play_store:tok-s': ['SUBSCRIPTION_STARTED', 'REFUNDED', 'REVOKED'],
      });
    } finally {
      await service?.stop();
      await p.stop();
    }
  });

  it('publishes a notification withheld from the receiver from App Store notification history', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'storeline-backfill-service-'));
    const key = createApiKey();
    const pki = await createPki();
    writeFileSync(join(dir, 'key.p8'), key.privatePem);
    writeFileSync(join(dir, 'root.der'), pki.rootDer);
    const { app, state } = createFakeAppStoreApi({ ...key, pageSize: 20 });
    const fake = await serve(app);
    const kafka = testKafka();
    const names = await createCatalogTopics(kafka);
    const n = notification('DID_RENEW', undefined, { tx: { originalTransactionId: '7000123' } });
    n.payload.notificationUUID = randomUUID();
    n.payload.signedDate = Date.now() - 3_600_000;
    state.history = [historyItem(n, pki)];
    let service: Awaited<ReturnType<typeof start>> | undefined;
    try {
      service = await start({
        BACKFILL_APP_STORE: 'true',
        BACKFILL_INTERVAL_MS: '60000',
        APPLE_ENVIRONMENT: 'sandbox',
        APP_STORE_API_URL: fake.url,
        APPLE_ISSUER_ID: key.issuerId,
        APPLE_KEY_ID: key.keyId,
        APPLE_BUNDLE_ID: key.bundleId,
        APPLE_PRIVATE_KEY_FILE: join(dir, 'key.p8'),
        APPLE_ROOT_CERTS: join(dir, 'root.der'),
        APP_STORE_API_RATE: '50',
        TOPIC_PREFIX: names.prefix,
      });
      const s = service;
      const metrics = await waitFor('a successful run', async () => {
        const m = await s.metrics();
        return sample(m, 'storeline_backfill_runs_total', { store: 'app-store', outcome: 'ok' }) === 1 && m;
      });
      expect(sample(metrics, 'storeline_backfill_published_total', { store: 'app-store' })).toBe(1);
      const raw = await drainTopic(kafka, names.name('rawAppStore'));
      expect(raw.map((r) => r.message.headers?.[RAW_HEADERS.notificationId]?.toString())).toEqual([
        n.payload.notificationUUID,
      ]);
      expect(raw[0]!.message.headers?.[RAW_HEADERS.backfill]?.toString()).toBe(
        'app-store:notification-history',
      );
    } finally {
      await service?.stop();
      await fake.close();
    }
  });

  it('with no store enabled, starts idle and ready', async () => {
    const service = await start({});
    try {
      expect((await fetch(`${service.url}/readyz`)).status).toBe(200);
      expect(await service.metrics()).not.toContain('storeline_backfill_runs_total');
    } finally {
      await service.stop();
    }
  });
});
