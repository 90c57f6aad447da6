/**
 * The scheduled backfills: every BACKFILL_INTERVAL_MS, for each enabled store, the CLI's backfill
 * (`storeline backfill app-store|play-store`) over [now − BACKFILL_WINDOW_MS, now], published through the
 * receivers' publisher. Runs never overlap (the next is scheduled when one ends); a failed run is logged,
 * counted and tried again at the next interval; on shutdown the current page finishes, then it stops.
 * With no store enabled it does nothing and stays ready, so a deployment can include it harmlessly.
 */
import { readFileSync } from 'node:fs';
import { Counter } from 'prom-client';
import { APPLE_ROOT_CA_G3_DER } from '../../lib/core/app-store/appleRoot';
import { loadCertificates } from '../../lib/core/app-store/certs';
import { APP_STORE_API_URLS } from '../../lib/core/app-store/serverApi';
import { AppleVerifier } from '../../lib/core/app-store/verify';
import { errorMessage } from '../../lib/core/errors';
import { TopicNames } from '../../lib/core/topics';
import { backfillNotificationHistory } from '../../lib/adapters/app-store/backfill';
import type { CheckpointFile } from '../../lib/adapters/app-store/checkpoint';
import { AppStoreServerApi, loadApiPrivateKey } from '../../lib/adapters/app-store/serverApi';
import { HttpPlayApi, serviceAccountToken, staticToken } from '../../lib/adapters/play/api';
import { backfillVoidedPurchases, type VoidedProgress } from '../../lib/adapters/play/backfill';
import { startPublisher } from '../../lib/platform/bootstrap';
import { createKafka } from '../../lib/platform/kafka';
import type { Logger } from '../../lib/platform/logger';
import type { Publish } from '../../lib/platform/publisher';
import type { ServiceSpec, Started } from '../../lib/platform/service';
import type { BackfillConfig } from './config';

type Store = 'app-store' | 'play-store';

interface Range {
  startDate: number;
  endDate: number;
}

/** One store's backfill over a range; `stopping` ends it after the page in progress. */
type StoreBackfill = (
  range: Range,
  stopping: () => boolean,
) => Promise<{ summary: object; complete: boolean }>;

/** Thrown into the App Store loop (whose pages cannot be cut otherwise) when shutdown asks it to stop. */
class Stopped extends Error {}

type StartContext = Parameters<ServiceSpec<typeof BackfillConfig>['start']>[0];

export async function startBackfill({ config, logger, metrics }: StartContext): Promise<Started> {
  const base = { port: config.PORT, host: config.HOST, shutdown: ['server' as const] };
  if (!config.BACKFILL_APP_STORE && !config.BACKFILL_PLAY_STORE) {
    logger.info('no store enabled (BACKFILL_APP_STORE, BACKFILL_PLAY_STORE): nothing to do');
    return { ...base, ready: () => true, listening: [{ port: config.PORT, stores: [] }, 'listening, idle'] };
  }
  const runs = new Counter({
    name: 'storeline_backfill_runs_total',
    help: 'Scheduled backfill runs by store and outcome (ok, refused: some signedPayloads failed verification, failed, stopped)',
    labelNames: ['store', 'outcome'],
    registers: [metrics],
  });
  const published = new Counter({
    name: 'storeline_backfill_published_total',
    help: 'Records the scheduled backfills published to the raw topics, by store',
    labelNames: ['store'],
    registers: [metrics],
  });
  const kafka = createKafka({
    brokers: config.KAFKA_BROKERS,
    clientId: config.KAFKA_CLIENT_ID ?? 'backfill',
    logger,
  });
  const publisher = await startPublisher('backfill', kafka, config, logger, metrics);
  const names = new TopicNames(config.TOPIC_PREFIX);
  const counted =
    (store: Store): Publish =>
    async (record) => {
      await publisher.publish(record);
      published.inc({ store });
    };
  const stores: [Store, StoreBackfill][] = [];
  if (config.BACKFILL_APP_STORE)
    stores.push(['app-store', await appStoreBackfill(config, counted('app-store'), names, logger)]);
  if (config.BACKFILL_PLAY_STORE)
    stores.push(['play-store', playStoreBackfill(config, counted('play-store'), names, logger)]);

  let stopping = false;
  let current: Promise<void> | undefined;
  let timer: NodeJS.Timeout | undefined;

  async function runOnce(): Promise<void> {
    for (const [store, backfill] of stores) {
      if (stopping) return;
      const endDate = Date.now();
      const range = { startDate: endDate - config.BACKFILL_WINDOW_MS, endDate };
      const window = {
        since: new Date(range.startDate).toISOString(),
        until: new Date(endDate).toISOString(),
      };
      try {
        const { summary, complete } = await backfill(range, () => stopping);
        const outcome = !complete ? 'stopped' : 'rejected' in summary && summary.rejected ? 'refused' : 'ok';
        runs.inc({ store, outcome });
        const log = outcome === 'refused' ? logger.warn.bind(logger) : logger.info.bind(logger);
        log({ store, ...window, ...summary, durationMs: Date.now() - endDate, outcome }, 'backfill run done');
      } catch (err) {
        if (err instanceof Stopped) {
          runs.inc({ store, outcome: 'stopped' });
          logger.info({ store, ...window }, 'backfill run stopped by shutdown');
          return;
        }
        runs.inc({ store, outcome: 'failed' });
        logger.error(
          { store, ...window, err: errorMessage(err), retryInMs: config.BACKFILL_INTERVAL_MS },
          'backfill run failed; retried at the next interval',
        );
      }
    }
  }

  function tick(): void {
    const started = Date.now();
    current = runOnce().finally(() => {
      current = undefined;
      if (!stopping)
        timer = setTimeout(tick, Math.max(0, config.BACKFILL_INTERVAL_MS - (Date.now() - started)));
    });
  }

  tick();
  return {
    ...base,
    ready: () => publisher.readiness(),
    listening: [
      {
        port: config.PORT,
        stores: stores.map(([s]) => s),
        intervalMs: config.BACKFILL_INTERVAL_MS,
        windowMs: config.BACKFILL_WINDOW_MS,
      },
      'listening',
    ],
    shutdown: [
      'server',
      async () => {
        stopping = true;
        clearTimeout(timer);
        await current;
      },
      () => publisher.stop(),
    ],
  };
}

/** `storeline backfill app-store` without its checkpoint file: each run reads its whole window again. */
async function appStoreBackfill(
  config: BackfillConfig,
  publish: Publish,
  names: TopicNames,
  logger: Logger,
): Promise<StoreBackfill> {
  const environment = config.APPLE_ENVIRONMENT;
  const bundleId = config.APPLE_BUNDLE_ID!;
  const privateKey = await loadApiPrivateKey(readFileSync(config.APPLE_PRIVATE_KEY_FILE!, 'utf8'));
  const api = new AppStoreServerApi({
    baseUrl: config.APP_STORE_API_URL ?? APP_STORE_API_URLS[environment],
    key: { issuerId: config.APPLE_ISSUER_ID!, keyId: config.APPLE_KEY_ID!, bundleId, privateKey },
    ratePerSecond: config.APP_STORE_API_RATE,
    onRetry: (n) => logger.warn({ store: 'app-store', ...n }, 'App Store Server API retry'),
  });
  const verifier = new AppleVerifier({
    trustedRoots: [
      APPLE_ROOT_CA_G3_DER,
      ...loadCertificates(config.APPLE_ROOT_CERTS.map((f) => ({ name: f, bytes: readFileSync(f) }))),
    ],
    bundleIds: [bundleId],
    environments: environment === 'production' ? ['Production'] : ['Sandbox'],
    appAppleIds: [],
    effectiveDate: 'signed-date',
  });
  const noCheckpoint: CheckpointFile = {
    path: '(none)',
    read: () => undefined,
    write: () => undefined,
    remove: () => undefined,
  } as unknown as CheckpointFile;
  const rawTopic = names.name('rawAppStore');
  return async (range, stopping) => {
    let pages = 0;
    const s = await backfillNotificationHistory(
      {
        history: (r, token) => {
          if (pages++ > 0 && stopping()) throw new Stopped();
          return api.notificationHistory(r, token);
        },
        verifier,
        publish,
        rawTopic,
        checkpoint: noCheckpoint,
        progress: (line) => logger.debug({ store: 'app-store' }, line),
        now: Date.now,
      },
      { bundleId, environment, range },
    );
    return {
      complete: s.complete,
      summary: { pages: s.pages, found: s.found, published: s.published, rejected: s.rejected },
    };
  };
}

/** `storeline backfill play-store` for each package, without its checkpoint file. */
function playStoreBackfill(
  config: BackfillConfig,
  publish: Publish,
  names: TopicNames,
  logger: Logger,
): StoreBackfill {
  const api = new HttpPlayApi({
    rootUrl: config.PLAY_API_ROOT_URL,
    accessToken: config.PLAY_API_TOKEN
      ? staticToken(config.PLAY_API_TOKEN)
      : serviceAccountToken(JSON.parse(readFileSync(config.PLAY_SERVICE_ACCOUNT_KEY_FILE!, 'utf8'))),
    maxAttempts: 6,
    initialBackoffMs: 500,
  });
  const topic = names.name('rawPlayStore');
  return async (range, stopping) => {
    const total = { packages: 0, pages: 0, found: 0, published: 0 };
    let complete = true;
    for (const packageName of config.PLAY_PACKAGE_NAMES) {
      if (stopping()) return { summary: total, complete: false };
      const progress: VoidedProgress = { done: false, pages: 0, found: 0, published: 0 };
      await backfillVoidedPurchases(
        {
          list: (pkg, query) => api.listVoidedPurchases(pkg, query),
          send: async (records) => {
            await Promise.all(records.map((r) => publish({ topic, ...r })));
          },
          onPage: (p, page) =>
            logger.debug(
              { store: 'play-store', packageName, page: p.pages, ...page },
              'voided purchases page',
            ),
          now: Date.now,
          stopping,
        },
        {
          packageName,
          since: range.startDate,
          until: range.endDate,
          pageSize: 1000,
          minIntervalMs: config.PLAY_MIN_INTERVAL_MS,
          progress,
        },
      );
      total.packages += 1;
      total.pages += progress.pages;
      total.found += progress.found;
      total.published += progress.published;
      if (!progress.done) complete = false;
    }
    return { summary: total, complete };
  };
}
