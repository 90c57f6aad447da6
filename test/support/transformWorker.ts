/**
 * A child process running the TransactionalTransformer, so a test can kill it with SIGKILL in the middle
 * of an open transaction. Output: the input value upper-cased. With KILL_AT=<value>, the process kills
 * itself when it reaches that input, after the chunk's earlier outputs were already sent.
 */
import { Kafka, logLevel } from 'kafkajs';
import { createLogger } from '../../lib/platform/logger';
import { TransactionalTransformer } from '../../lib/platform/transactional';

const env = process.env as Record<string, string>;
const kafka = new Kafka({
  clientId: 'transform-worker',
  brokers: env.KAFKA_BROKERS!.split(','),
  logLevel: logLevel.NOTHING,
});
const transformer = new TransactionalTransformer({
  kafka,
  logger: createLogger('worker', 'silent'),
  groupId: env.GROUP!,
  topics: [env.INPUT!],
  dlqFor: () => undefined,
  transactionalIdPrefix: env.TXN_PREFIX!,
  maxRecordsPerTransaction: 10,
  sessionTimeoutMs: 6_000, // the killed run's membership must lapse quickly for the second run to join
  maxRecordsPerSend: 1,
  retry: { maxAttempts: 3, initialBackoffMs: 10, maxBackoffMs: 100 },
  transform: (rec) => {
    const value = rec.value!.toString();
    if (env.KILL_AT && value === env.KILL_AT) process.kill(process.pid, 'SIGKILL');
    return [{ topic: env.OUTPUT!, key: rec.key, value: Buffer.from(value.toUpperCase()) }];
  },
});
transformer.start().catch((err) => {
  process.stderr.write(`worker failed: ${String(err)}\n`);
  process.exit(1);
});
process.on('SIGTERM', () => void transformer.stop().then(() => process.exit(0)));
