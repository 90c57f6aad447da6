/** receiver-play-store: wiring only (config, clients, start, SIGTERM). Logic lives in app.ts and auth.ts. */
import { onShutdownSignal, runMain } from '../shared/lifecycle';
import { loadConfigOrExit } from '../shared/config';
import { closeServer, createMetricsRegistry, listen, mountOps } from '../shared/http';
import { createIdempotentProducer, createKafka } from '../shared/kafka';
import { createLogger } from '../shared/logger';
import { kafkaPublisher } from '../shared/publisher';
import { TopicNames } from '../shared/topics';
import { createPlayReceiver } from './app';
import { remoteJwks, type PushAuth } from './auth';
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
  const producer = createIdempotentProducer(kafka);
  let producerUp = false;
  producer.on(producer.events.CONNECT, () => (producerUp = true));
  producer.on(producer.events.DISCONNECT, () => (producerUp = false));
  await producer.connect();
  const names = new TopicNames(config.TOPIC_PREFIX);
  const metrics = createMetricsRegistry(SERVICE);
  const app = createPlayReceiver({
    auth,
    publish: kafkaPublisher(producer, config.PUBLISH_TIMEOUT_MS),
    rawTopic: names.name('rawPlayStore'),
    dlqTopic: names.name('rawPlayStoreDlq'),
    packageNames: config.PLAY_PACKAGE_NAMES,
    logger,
    metrics,
    bodyLimitBytes: config.BODY_LIMIT_BYTES,
  });
  mountOps(app, { metrics, ready: () => producerUp });
  const server = await listen(app, config.PORT, config.HOST);
  logger.info(
    { port: config.PORT, auth: config.PUBSUB_AUTH, packages: config.PLAY_PACKAGE_NAMES },
    'listening',
  );
  onShutdownSignal(logger, async () => {
    await closeServer(server);
    await producer.disconnect();
  });
}

runMain(SERVICE, main);
