/**
 * The Play path on the real stack for operator-tool tests: fresh catalog topics, the fake Play API, the
 * receiver and a normalizer with snapshots in a fresh PostgreSQL schema; `push` posts one RTDN and waits
 * until the normalizer has committed it, `events` reads the canonical topic decoded.
 */
import { HttpPlayApi, staticToken } from '../../lib/adapters/play/api';
import { createNormalizer } from '../../lib/adapters/normalizer/normalizer';
import { PgPlayRepo, PLAY_MIGRATIONS } from '../../lib/adapters/play/repo';
import type { SubscriptionEvent } from '../../lib/core/generated/avro';
import type { DeveloperNotification } from '../../lib/core/play/model';
import type { diffPlay } from '../../lib/core/play/diff';
import { createPlayProcessor } from '../../lib/core/play/processor';
import { createPool, migrate } from '../../lib/platform/db';
import { stackEnv } from '../support/env';
import { post } from '../support/http';
import { createCatalogTopics, drainTopic, randomId, testKafka, testLogger } from '../support/kafka';
import { PLAY_TOKEN, PUSH_TOKEN, startFakePlay, startPlayReceiver } from '../support/play';
import { codecs, randomSchema } from '../support/state';
import { envelope } from './builders/play';
import { waitProcessed } from './normalizerProgress';

export async function startPlayPipeline(opts: { diff?: typeof diffPlay } = {}) {
  const kafka = testKafka();
  const names = await createCatalogTopics(kafka);
  const { eventCodec } = await codecs(names);
  const fake = await startFakePlay();
  const schema = randomSchema();
  const pool = createPool(stackEnv().databaseUrl, schema);
  await migrate(pool, schema, PLAY_MIGRATIONS);
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
      diff: opts.diff,
    }),
  });
  await normalizer.start();
  const receiver = await startPlayReceiver(kafka, names, { mode: 'token', token: PUSH_TOKEN });
  const rawTopic = names.name('rawPlayStore');
  return {
    kafka,
    names,
    fake,
    eventCodec,
    /** The normalizer's schema (snapshots, outcomes) and consumer group. */
    pool,
    groupId,
    /** Posts `n` to the receiver; resolves once the normalizer has committed it. */
    async push(n: DeveloperNotification, messageId: string): Promise<number> {
      const r = await post(
        `${receiver.url}/play-store/pubsub?token=${PUSH_TOKEN}`,
        JSON.stringify(envelope(n, messageId)),
      );
      await waitProcessed(kafka, groupId, rawTopic);
      return r.status;
    },
    /** Resolves once the normalizer has committed everything on the raw Play topic. */
    settled: () => waitProcessed(kafka, groupId, rawTopic),
    async events(): Promise<SubscriptionEvent[]> {
      const records = await drainTopic(kafka, names.name('subscriptionEvents'));
      return Promise.all(records.map((r) => eventCodec.decode(r.message.value!)));
    },
    async stop(): Promise<void> {
      await receiver.close();
      await normalizer.stop();
      await fake.close();
      await pool.end();
    },
  };
}

/** Event types per subscriptionKey, in topic order per key. */
export function typesByKey(events: SubscriptionEvent[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const e of events) (out[e.subscriptionKey] ??= []).push(e.type);
  return out;
}
