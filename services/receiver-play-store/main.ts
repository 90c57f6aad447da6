/** receiver-play-store: wiring only (config, clients, start, SIGTERM). Logic lives in app.ts and auth.ts. */
import { onShutdownSignal, runMain } from '../../lib/platform/lifecycle';
import { loadConfigOrExit } from '../../lib/platform/config';
import { closeServer, createMetricsRegistry, listen, mountOps } from '../../lib/platform/http';
import { createKafka } from '../../lib/platform/kafka';
import { createLogger } from '../../lib/platform/logger';
import { startPublisher } from '../../lib/platform/bootstrap';
import { TopicNames } from '../../lib/core/topics';
import { createPlayReceiver } from './app';
import { remoteJwks, type PushAuth } from '../../lib/adapters/play/pushAuth';
import { ReceiverPlayStoreConfig } from './config';

const SERVICE = 'receiver-play-store';

async function main(): Promise<void> {
  const config = loadConfigOrExit(SERVICE, ReceiverPlayStoreConfig);
  const logger = createLogger(SERVICE, config.LOG_LEVEL);
  const auth: PushAuth =
    config.PUBSUB_AUTH === 'oidc'
      ? {
          mode: 'oidc',
          jwks: remoteJwks(config.PUBSUB_JWKS_URL),
          audience: config.PUBSUB_AUDIENCE as string,
          serviceAccountEmail: config.PUBSUB_SERVICE_ACCOUNT_EMAIL as string,
        }
      : { mode: 'token', token: config.PUBSUB_TOKEN as string };
  const kafka = createKafka({ brokers: config.KAFKA_BROKERS, clientId: SERVICE, logger });
  const metrics = createMetricsRegistry(SERVICE);
  const publisher = await startPublisher(SERVICE, kafka, config, logger, metrics);
  const names = new TopicNames(config.TOPIC_PREFIX);
  const app = createPlayReceiver({
    auth,
    publish: publisher.publish,
    rawTopic: names.name('rawPlayStore'),
    dlqTopic: names.name('rawPlayStoreDlq'),
    packageNames: config.PLAY_PACKAGE_NAMES,
    logger,
    metrics,
    bodyLimitBytes: config.BODY_LIMIT_BYTES,
  });
  mountOps(app, { metrics, ready: () => publisher.readiness() });
  const server = await listen(app, config.PORT, config.HOST);
  logger.info(
    { port: config.PORT, auth: config.PUBSUB_AUTH, packages: config.PLAY_PACKAGE_NAMES },
    'listening',
  );
  onShutdownSignal(logger, async () => {
    await closeServer(server);
    await publisher.stop();
  });
}

runMain(SERVICE, main);
