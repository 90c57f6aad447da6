/**
 * The normalizer process is killed (SIGKILL) in the middle of a backlog and restarted, and two instances
 * share a backlog until one is killed: every canonical event is on the topic exactly once.
 */
import { randomUUID } from 'node:crypto';
import type { Kafka } from 'kafkajs';
import type { TopicNames } from '../../lib/core/topics';
import { notification } from '../kit/builders/appStore';
import { codecFor, createRegistry } from '../../lib/platform/avro';
import type { SubscriptionEvent } from '../../lib/core/generated/avro';

import { createPki, signedBody } from '../kit/appleSigning';
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
import { freePort } from '../support/http';
import { exited, spawnNormalizer } from '../support/processes';

const N = 400;

async function backlog(kafka: Kafka, topic: string, n: number): Promise<string[]> {
  const pki = await createPki();
  // A backlog of distinct notifications across many subscriptions (so across all partitions).
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const ids: string[] = [];
  const messages = Array.from({ length: n }, (_, i) => {
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
      topic,
      acks: -1,
      messages: messages.slice(i, i + 50),
    });
  }
  await producer.disconnect();

  return ids;
}

async function metric(port: number, name: string): Promise<number> {
  const text = await fetch(`http://127.0.0.1:${port}/metrics`).then(
    (r) => r.text(),
    () => '',
  );
  return text
    .split('\n')
    .filter((l) => l.startsWith(name + '{') || l.startsWith(name + ' '))
    .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
}

async function canonicalEventIds(kafka: Kafka, names: TopicNames): Promise<string[]> {
  const records = await drainTopic(kafka, names.name('subscriptionEvents'));
  const codec = codecFor<SubscriptionEvent>(
    createRegistry(stackEnv().registryUrl),
    names,
    'subscriptionEvents',
  );
  return (await Promise.all(records.map((r) => codec.decode(r.message.value!)))).map((e) => e.eventId);
}

describe('normalizer crash in the middle of a batch', () => {
  it('loses and duplicates nothing across a SIGKILL and a restart', async () => {
    const kafka = testKafka();
    const names = await createCatalogTopics(kafka);
    const ids = await backlog(kafka, names.name('rawAppStore'), N);

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

    const eventIds = await canonicalEventIds(kafka, names);
    expect(eventIds).toHaveLength(N);
    expect(new Set(eventIds).size).toBe(N);
    expect(new Set(eventIds)).toEqual(new Set(ids.map((id) => `app_store:${id}:0`)));
  });

  it('two instances share the work; one is killed mid-stream and every event still arrives exactly once', async () => {
    const kafka = testKafka();
    const names = await createCatalogTopics(kafka);
    const env = {
      TOPIC_PREFIX: names.prefix,
      NORMALIZER_GROUP_ID: randomId('norm'),
      NORMALIZER_TRANSACTIONAL_ID: randomId('norm-tx'),
      NORMALIZER_MAX_RECORDS_PER_TXN: '5',
      NORMALIZER_SESSION_TIMEOUT_MS: '6000',
    };
    const [portA, portB] = [await freePort(), await freePort()];
    const a = spawnNormalizer({ ...env, PORT: String(portA) });
    const b = spawnNormalizer({ ...env, PORT: String(portB) });
    const admin = kafka.admin();
    await admin.connect();
    try {
      await waitFor(
        'both instances in the group',
        async () => {
          const [group] = (await admin.describeGroups([env.NORMALIZER_GROUP_ID])).groups;
          return group?.state === 'Stable' && group.members.length === 2;
        },
        90_000,
        200,
      );
      const first = await backlog(kafka, names.name('rawAppStore'), 600);
      // Both instances have processed records (so both own partitions) before one dies.
      await waitFor(
        'both instances consuming',
        async () =>
          (await metric(portA, 'storeline_consumer_records_total')) > 0 &&
          (await metric(portB, 'storeline_consumer_records_total')) > 0,
        90_000,
        100,
      );
      a.kill('SIGKILL');
      expect(await exited(a)).toBe('SIGKILL');
      // Written after the death, across every partition: the survivor must take over the dead one's.
      const second = await backlog(kafka, names.name('rawAppStore'), 200);
      const ids = [...first, ...second];
      const live = await collect(kafka, [names.name('subscriptionEvents')]);
      try {
        await waitFor(
          'the survivor to finish the stream',
          () => {
            const seen = new Set(live.records.map((r) => r.message.headers?.['event-id']?.toString()));
            return ids.every((id) => seen.has(`app_store:${id}:0`)) ? true : undefined;
          },
          110_000,
        );
      } finally {
        await live.stop();
      }
      // The survivor reports lag per partition it read (none left), and is ready.
      expect(await metric(portB, 'storeline_consumer_lag')).toBe(0);
      expect((await fetch(`http://127.0.0.1:${portB}/readyz`)).status).toBe(200);
      b.kill('SIGTERM');
      expect(await exited(b)).toBe(0);
      const eventIds = await canonicalEventIds(kafka, names);
      expect(eventIds).toHaveLength(ids.length);
      expect(new Set(eventIds)).toEqual(new Set(ids.map((id) => `app_store:${id}:0`)));
    } finally {
      await admin.disconnect();
      a.kill('SIGKILL');
      b.kill('SIGKILL');
      await Promise.all([exited(a), exited(b)]);
    }
  });
});
