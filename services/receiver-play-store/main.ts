/** receiver-play-store: push authentication and the publisher; the logic is app.ts (the runner does the rest). */
import { receiverStarted, startPublisher } from '../../lib/platform/bootstrap';
import { createKafka } from '../../lib/platform/kafka';
import { runService } from '../../lib/platform/service';
import { TopicNames } from '../../lib/core/topics';
import { remoteJwks, type PushAuth } from '../../lib/adapters/play/pushAuth';
import { createPlayReceiver } from './app';
import { ReceiverPlayStoreConfig } from './config';

const SERVICE = 'receiver-play-store';

runService({
  name: SERVICE,
  config: ReceiverPlayStoreConfig,
  async start({ config, logger, metrics }) {
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
    return receiverStarted(app, publisher, config, {
      port: config.PORT,
      auth: config.PUBSUB_AUTH,
      packages: config.PLAY_PACKAGE_NAMES,
    });
  },
});
