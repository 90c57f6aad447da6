/**
 * For `storeline reconcile play-store` tests: the Play path of test/kit/playPipeline.ts (catalog topics, fake
 * Play API, receiver, normalizer with snapshots in a fresh schema) with that schema exposed, so the CLI reads
 * the snapshots the normalizer wrote; and a state schema seeded by the aggregator's own store (applyEvents).
 */
import { applyEvents } from '../../lib/adapters/state/store';
import type { SubscriptionEvent } from '../../lib/core/generated/avro';
import { HttpPlayApi, staticToken } from '../../lib/adapters/play/api';
import { createNormalizer } from '../../lib/adapters/normalizer/normalizer';
import { PgPlayRepo, PLAY_MIGRATIONS } from '../../lib/adapters/play/repo';
import type { DeveloperNotification } from '../../lib/core/play/model';
import { createPlayProcessor } from '../../lib/core/play/processor';
import { createPool, inTransaction, migrate } from '../../lib/platform/db';
import { stackEnv } from '../support/env';
import { post } from '../support/http';
import { createCatalogTopics, drainTopic, randomId, testKafka, testLogger } from '../support/kafka';
import { PLAY_TOKEN, PUSH_TOKEN, startFakePlay, startPlayReceiver } from '../support/play';
import { codecs, migratedPool, randomSchema } from '../support/state';
import { envelope } from './builders/play';
import { waitProcessed } from './normalizerProgress';

export async function startReconcilePipeline() {
  const kafka = testKafka();
  const names = await createCatalogTopics(kafka);
  const { eventCodec } = await codecs(names);
  const fake = await startFakePlay();
  const playSchema = randomSchema();
  const pool = createPool(stackEnv().databaseUrl, playSchema);
  await migrate(pool, playSchema, PLAY_MIGRATIONS);
  const groupId = randomId('norm');
  const normalizer = createNormalizer({
    kafka,
    logger: testLogger,
    names,
    codec: eventCodec,
    groupId,
    transactionalIdPrefix: randomId('tx'),
    play: createPlayProcessor({
      api: new HttpPlayApi({ rootUrl: fake.url, accessToken: staticToken(PLAY_TOKEN) }),
      repo: new PgPlayRepo(pool),
      logger: testLogger,
      acknowledge: false,
    }),
  });
  await normalizer.start();
  const receiver = await startPlayReceiver(kafka, names, { mode: 'token', token: PUSH_TOKEN });
  const rawTopic = names.name('rawPlayStore');
  const state = await migratedPool();
  return {
    kafka,
    names,
    fake,
    playSchema,
    stateSchema: state.schema,
    async push(n: DeveloperNotification, messageId: string): Promise<number> {
      const r = await post(
        `${receiver.url}/play-store/pubsub?token=${PUSH_TOKEN}`,
        JSON.stringify(envelope(n, messageId)),
      );
      await waitProcessed(kafka, groupId, rawTopic);
      return r.status;
    },
    settled: () => waitProcessed(kafka, groupId, rawTopic),
    async events(): Promise<SubscriptionEvent[]> {
      const records = await drainTopic(kafka, names.name('subscriptionEvents'));
      return Promise.all(records.map((r) => eventCodec.decode(r.message.value!)));
    },
    /** Folds `events` into the state schema as the state aggregator does. */
    applyToState: (events: SubscriptionEvent[]) =>
      inTransaction(state.pool, (c) => applyEvents(c, events, Date.now())),
    async stop(): Promise<void> {
      await receiver.close();
      await normalizer.stop();
      await fake.close();
      await pool.end();
      await state.pool.end();
    },
  };
}
