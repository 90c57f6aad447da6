/** Waits for a normalizer (or any consumer group) to have committed everything on a topic. */
import type { Kafka } from 'kafkajs';
import { waitFor } from '../support/kafka';

export async function waitProcessed(kafka: Kafka, groupId: string, topic: string): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await waitFor(`${groupId} caught up on ${topic}`, async () => {
      const high = (await admin.fetchTopicOffsets(topic)).reduce((n, p) => n + Number(p.high), 0);
      const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
      const done = (committed?.partitions ?? []).reduce((n, p) => n + Math.max(0, Number(p.offset)), 0);
      return done === high ? true : undefined;
    });
  } finally {
    await admin.disconnect();
  }
}
