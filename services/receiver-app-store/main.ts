/** receiver-app-store: wiring only (config, clients, start, SIGTERM). Logic lives in app.ts. */
import { onShutdownSignal, runMain } from '../../lib/platform/lifecycle';
import { readFileSync } from 'node:fs';
import { APPLE_ROOT_CA_G3_DER } from '../../lib/core/app-store/appleRoot';
import { loadCertificates } from '../../lib/core/app-store/certs';
import { AppleVerifier } from '../../lib/core/app-store/verify';
import { loadConfigOrExit } from '../../lib/platform/config';
import { closeServer, createMetricsRegistry, listen, mountOps } from '../../lib/platform/http';
import { createKafka } from '../../lib/platform/kafka';
import { createLogger } from '../../lib/platform/logger';
import { startPublisher } from '../../lib/platform/bootstrap';
import { TopicNames } from '../../lib/core/topics';
import { createAppStoreReceiver } from './app';
import { ReceiverAppStoreConfig } from './config';

const SERVICE = 'receiver-app-store';

async function main(): Promise<void> {
  const config = loadConfigOrExit(SERVICE, ReceiverAppStoreConfig);
  const logger = createLogger(SERVICE, config.LOG_LEVEL);
  const roots = [
    ...(config.APPLE_ROOT_DEFAULT ? [APPLE_ROOT_CA_G3_DER] : []),
    ...loadCertificates(config.APPLE_ROOT_CERTS.map((f) => ({ name: f, bytes: readFileSync(f) }))),
  ];
  const verifier = new AppleVerifier({
    trustedRoots: roots,
    bundleIds: config.APPLE_BUNDLE_IDS,
    environments: config.APPLE_ENVIRONMENTS,
    appAppleIds: config.APPLE_APP_APPLE_IDS,
    effectiveDate: config.APPLE_VERIFY_AT,
  });
  const kafka = createKafka({ brokers: config.KAFKA_BROKERS, clientId: SERVICE, logger });
  const metrics = createMetricsRegistry(SERVICE);
  const publisher = await startPublisher(SERVICE, kafka, config, logger, metrics);

  const app = createAppStoreReceiver({
    verifier,
    publish: publisher.publish,
    rawTopic: new TopicNames(config.TOPIC_PREFIX).name('rawAppStore'),
    logger,
    metrics,
    v1SharedSecret: config.APPLE_V1_SHARED_SECRET,
    bodyLimitBytes: config.BODY_LIMIT_BYTES,
  });
  mountOps(app, { metrics, ready: () => publisher.readiness() });
  const server = await listen(app, config.PORT, config.HOST);
  logger.info(
    {
      port: config.PORT,
      bundleIds: config.APPLE_BUNDLE_IDS,
      environments: config.APPLE_ENVIRONMENTS,
      v1: Boolean(config.APPLE_V1_SHARED_SECRET),
    },
    'listening',
  );

  onShutdownSignal(logger, async () => {
    await closeServer(server);
    await publisher.stop();
  });
}

runMain(SERVICE, main);
