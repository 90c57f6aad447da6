/**
 * Rebuild: replay the canonical topic from the beginning into fresh tables with the same apply code as the
 * live service, and stop once every partition is consumed up to the end offsets seen at the start.
 */
import { randomUUID } from 'node:crypto';
import type { Kafka } from 'kafkajs';
import type { Pool } from 'pg';
import type { AvroCodec } from '../../platform/avro';
import { inTransaction, migrate, quoteIdent } from '../../platform/db';
import { isRetriable } from '../../core/errors';
import type { SubscriptionEvent } from '../../core/generated/avro';
import type { Logger } from '../../platform/logger';
import { STATE_MIGRATIONS } from './migrations';
import { applyEvents } from './store';

export async function rebuildState(opts: {
  kafka: Kafka;
  pool: Pool;
  schema: string;
  topic: string;
  codec: AvroCodec<SubscriptionEvent>;
  logger: Logger;
  now?: () => number;
  timeoutMs?: number;
}): Promise<{ events: number; skipped: number }> {
  const now = opts.now ?? Date.now;
  await opts.pool.query(`DROP SCHEMA IF EXISTS ${quoteIdent(opts.schema)} CASCADE`);
  await migrate(opts.pool, opts.schema, STATE_MIGRATIONS);

  const admin = opts.kafka.admin();
  await admin.connect();
  const groupId = `storeline-state-rebuild-${randomUUID()}`;
  const consumer = opts.kafka.consumer({ groupId });
  let events = 0;
  let skipped = 0;
  try {
    const ends = await admin.fetchTopicOffsets(opts.topic);
    await consumer.connect();
    await consumer.subscribe({ topics: [opts.topic], fromBeginning: true });
    await consumer.run({
      eachBatch: async ({ batch }) => {
        const decoded: SubscriptionEvent[] = [];
        for (const m of batch.messages) {
          try {
            decoded.push(await opts.codec.decode(m.value as Buffer));
          } catch (err) {
            if (isRetriable(err)) throw err;
            skipped++; // the live service dead-letters these; a rebuild skips them the same way
          }
        }
        await inTransaction(opts.pool, (c) => applyEvents(c, decoded, now()));
        events += decoded.length;
      },
    });
    const deadline = Date.now() + (opts.timeoutMs ?? 10 * 60_000);
    for (;;) {
      const [committed] = await admin.fetchOffsets({ groupId, topics: [opts.topic] });
      const done = ends.every((end) => {
        const c = committed?.partitions.find((p) => p.partition === end.partition);
        const at = c && Number(c.offset) >= 0 ? Number(c.offset) : Number(end.low);
        return at >= Number(end.high);
      });
      if (done) break;
      if (Date.now() > deadline) throw new Error('rebuild did not reach the end offsets in time');
      await new Promise((r) => setTimeout(r, 200));
    }
  } finally {
    await consumer.disconnect();
    await admin.deleteGroups([groupId]).catch(() => undefined);
    await admin.disconnect();
  }
  opts.logger.info({ events, skipped, schema: opts.schema }, 'rebuild complete');
  return { events, skipped };
}
