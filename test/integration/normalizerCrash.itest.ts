/**
 * The normalizer process is killed (SIGKILL) in the middle of a backlog and restarted: every canonical
 * event is on the topic exactly once.
 */
import { randomUUID } from 'node:crypto';
import { notification } from '../../services/app-store/testing';
import { codecFor, createRegistry } from '../../services/shared/avro';
import type { SubscriptionEvent } from '../../services/shared/generated/avro';

import { createPki, signedBody } from '../support/appleSigning';
import { stackEnv } from '../support/env';
import {
  collect,
  createCatalogTopics,
  drainTopic,
  randomId,
  testKafka,
  waitFor,
  waitForRecords,
} from '../support/kafka';
import { exited, spawnNormalizer } from '../support/processes';

const N = 400;

describe('normalizer crash in the middle of a batch', () => {
  it('loses and duplicates nothing across a SIGKILL and a restart', async () => {
    const kafka = testKafka();
    const names = await createCatalogTopics(kafka);
    const pki = await createPki();
    // A backlog of distinct notifications across many subscriptions (so across all partitions).
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const ids: string[] = [];
    const messages = Array.from({ length: N }, (_, i) => {
      const n = notification('DID_RENEW', undefined, {
        tx: { originalTransactionId: `30000000000${String(i % 40).padStart(4, '0')}` },
      });
      n.payload.notificationUUID = randomUUID();
      ids.push(n.payload.notificationUUID);
      return {
        key: n.transaction!.originalTransactionId!,
        value: signedBody(n, pki),
        headers: { format: 'app-store-v2', 'received-at': String(Date.now()) },
      };
    });
    for (let i = 0; i < messages.length; i += 50) {
      await producer.send({
        topic: names.name('rawAppStore'),
        acks: -1,
        messages: messages.slice(i, i + 50),
      });
    }
    await producer.disconnect();

    const env = {
      TOPIC_PREFIX: names.prefix,
      NORMALIZER_GROUP_ID: randomId('norm'),
      NORMALIZER_TRANSACTIONAL_ID: randomId('norm-tx'),
      NORMALIZER_MAX_RECORDS_PER_TXN: '7',
      NORMALIZER_SESSION_TIMEOUT_MS: '6000',
    };
    const live = await collect(kafka, [names.name('subscriptionEvents')]);
    const first = spawnNormalizer(env);
    // Kill it once it has committed some transactions but not all.
    await waitForRecords(live.records, 20, undefined, 90_000);
    first.kill('SIGKILL');
    expect(await exited(first)).toBe('SIGKILL');
    expect(live.records.length).toBeLessThan(N);

    const second = spawnNormalizer(env);
    await waitFor(
      'all notifications normalized',
      () => {
        const seen = new Set(live.records.map((r) => r.message.headers?.['event-id']?.toString()));
        return ids.every((id) => seen.has(`app_store:${id}:0`)) ? true : undefined;
      },
      110_000,
    );
    await live.stop();
    second.kill('SIGTERM');
    expect(await exited(second)).toBe(0);

    const records = await drainTopic(kafka, names.name('subscriptionEvents'));
    const codec = codecFor<SubscriptionEvent>(
      createRegistry(stackEnv().registryUrl),
      names,
      'subscriptionEvents',
    );
    const eventIds = (await Promise.all(records.map((r) => codec.decode(r.message.value!)))).map(
      (e) => e.eventId,
    );
    expect(eventIds).toHaveLength(N);
    expect(new Set(eventIds).size).toBe(N);
    expect(new Set(eventIds)).toEqual(new Set(ids.map((id) => `app_store:${id}:0`)));
  });
});
