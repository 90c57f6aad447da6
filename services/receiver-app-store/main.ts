/** receiver-app-store: the verifier and the publisher; the logic is app.ts (the runner does the rest). */
import { readFileSync } from 'node:fs';
import { receiverStarted, startPublisher } from '../../lib/platform/bootstrap';
import { createKafka } from '../../lib/platform/kafka';
import { runService } from '../../lib/platform/service';
import { APPLE_ROOT_CA_G3_DER } from '../../lib/core/app-store/appleRoot';
import { loadCertificates } from '../../lib/core/app-store/certs';
import { AppleVerifier } from '../../lib/core/app-store/verify';
import { TopicNames } from '../../lib/core/topics';
import { createAppStoreReceiver } from './app';
import { ReceiverAppStoreConfig } from './config';

const SERVICE = 'receiver-app-store';

runService({
  name: SERVICE,
  config: ReceiverAppStoreConfig,
  async start({ config, logger, metrics }) {
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
    return receiverStarted(app, publisher, config, {
      port: config.PORT,
      bundleIds: config.APPLE_BUNDLE_IDS,
      environments: config.APPLE_ENVIRONMENTS,
      v1: Boolean(config.APPLE_V1_SHARED_SECRET),
    });
  },
});
