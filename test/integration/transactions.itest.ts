/**
 * Transactional consume -> transform -> produce on the real broker: an aborted transaction leaves nothing
 * visible to read_committed consumers, and a process killed before commit has its input delivered again,
 * with every output visible exactly once.
 */
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import type { Kafka } from 'kafkajs';
import { Registry } from 'prom-client';
import { TransientError } from '../../lib/core/errors';
import { TransactionalTransformer } from '../../lib/platform/transactional';
import { stackEnv } from '../support/env';
import {
  collect,
  createTopic,
  randomId,
  testKafka,
  testLogger,
  waitFor,
  waitForRecords,
} from '../support/kafka';

const values = (n: number) => Array.from({ length: n }, (_, i) => `msg-${i}`);

async function produceInputs(topic: string, vals: string[]): Promise<void> {
  const producer = testKafka().producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  await producer.send({ topic, acks: -1, messages: vals.map((v) => ({ key: 'k', value: v })) });
  await producer.disconnect();
}

/** A client and a fresh input and output topic for one test. */
async function inputAndOutput(): Promise<{ kafka: Kafka; input: string; output: string }> {
  const kafka = testKafka();
  const input = randomId('in');
  const output = randomId('out');
  await createTopic(kafka, input);
  await createTopic(kafka, output);
  return { kafka, input, output };
}

const outValues = (recs: { message: { value: Buffer | null } }[]) =>
  recs.map((r) => r.message.value!.toString());

describe('transactional consume-transform-produce (real Kafka)', () => {
  it('an aborted transaction is invisible to read_committed; the retried chunk commits each output once', async () => {
    const { kafka, input, output } = await inputAndOutput();
    await produceInputs(input, [...values(10), 'END']);

    let failedOnce = false;
    let commits = 0;
    const metrics = new Registry();
    const transformer = new TransactionalTransformer({
      kafka,
      logger: testLogger,
      metrics,
      onCommitted: () => void commits++,
      groupId: randomId('g'),
      topics: [input],
      dlqFor: () => undefined,
      transactionalIdPrefix: randomId('tx'),
      maxRecordsPerTransaction: 100,
      maxRecordsPerSend: 1, // msg-0..msg-5 are sent inside the transaction before it fails
      retry: { maxAttempts: 5, initialBackoffMs: 10, maxBackoffMs: 50 },
      transform: (rec) => {
        const v = rec.value!.toString();
        if (v === 'msg-6' && !failedOnce) {
          failedOnce = true;
          throw new TransientError('simulated broker hiccup');
        }
        return [{ topic: output, key: rec.key, value: Buffer.from(v.toUpperCase()) }];
      },
    });
    await transformer.start();

    const committed = await collect(kafka, [output]);
    const uncommitted = await collect(kafka, [output], { readUncommitted: true });
    try {
      await waitForRecords(committed.records, 1, (r) => r.message.value?.toString() === 'END');
      // The aborted attempt's records are in the log (read_uncommitted sees them) ...
      await waitForRecords(uncommitted.records, 1, (r) => r.message.value?.toString() === 'END');
      expect(outValues(uncommitted.records).filter((v) => v === 'MSG-0')).toHaveLength(2);
      // ... but read_committed sees every output exactly once, in order.
      expect(outValues(committed.records)).toEqual([...values(10).map((v) => v.toUpperCase()), 'END']);
      expect(failedOnce).toBe(true);
      // Every committed transaction is timed, and only those (not the aborted attempt).
      const text = await metrics.metrics();
      const timed = /^storeline_transaction_seconds_count\{[^}]*\} (\d+)$/m.exec(text)?.[1];
      expect(commits).toBeGreaterThan(0);
      expect(Number(timed)).toBe(commits);
    } finally {
      await Promise.all([committed.stop(), uncommitted.stop(), transformer.stop()]);
    }
  });

  it('a crash before commit re-delivers the input; outputs appear exactly once', async () => {
    const { kafka, input, output } = await inputAndOutput();
    await produceInputs(input, [...values(25), 'END']);

    const env = {
      ...process.env,
      KAFKA_BROKERS: stackEnv().brokers.join(','),
      INPUT: input,
      OUTPUT: output,
      GROUP: randomId('g'),
      TXN_PREFIX: randomId('tx'),
    };
    const worker = resolve(__dirname, '../support/transformWorker.ts');
    const run = (extra: Record<string, string>) =>
      spawn(process.execPath, ['--require', 'tsx/cjs', worker], {
        env: { ...env, ...extra },
        stdio: 'inherit',
      });

    const uncommitted = await collect(kafka, [output], { readUncommitted: true });
    const committed = await collect(kafka, [output]);
    try {
      // First run: chunk msg-10..msg-19 is open when msg-17 kills the process (SIGKILL, no cleanup).
      const first = run({ KILL_AT: 'msg-17' });
      const signal = await new Promise<NodeJS.Signals | null>((res) => first.on('exit', (_c, s) => res(s)));
      expect(signal).toBe('SIGKILL');
      // It did send msg-10..msg-16 inside the open transaction before dying.
      await waitForRecords(uncommitted.records, 1, (r) => r.message.value?.toString() === 'MSG-16');

      // Second run picks up from the last committed offset (msg-10) and finishes.
      const second = run({});
      await waitForRecords(committed.records, 1, (r) => r.message.value?.toString() === 'END', 90_000);
      second.kill('SIGTERM');
      await new Promise((res) => second.on('exit', res));

      expect(outValues(committed.records)).toEqual([...values(25).map((v) => v.toUpperCase()), 'END']);
      // The killed transaction's records exist in the log but were aborted.
      await waitFor('aborted + committed copies', () =>
        outValues(uncommitted.records).filter((v) => v === 'MSG-10').length === 2 ? true : undefined,
      );
    } finally {
      await Promise.all([committed.stop(), uncommitted.stop()]);
    }
  });

  it("a new owner skips what the previous owner's last commit covered, though its consumer read the offset before it", async () => {
    const { kafka, input, output } = await inputAndOutput();
    const groupId = randomId('g');
    const transactionalIdPrefix = randomId('tx');
    const transformer = new TransactionalTransformer({
      kafka,
      logger: testLogger,
      groupId,
      topics: [input],
      dlqFor: () => undefined,
      transactionalIdPrefix,
      retry: { maxAttempts: 5, initialBackoffMs: 10, maxBackoffMs: 50 },
      transform: (rec) => [
        { topic: output, key: rec.key, value: Buffer.from(rec.value!.toString().toUpperCase()) },
      ],
    });
    const joined = new Promise((res) => transformer.consumer.on(transformer.consumer.events.FETCH, res));
    await transformer.start();
    await joined; // it has read the group's offset (none yet: from the beginning) and fetches

    // The previous owner of partition 0 (same transactional.id) commits msg-0..msg-4 with their outputs now,
    // after the new owner's consumer read the offset: the order a takeover produces when the old owner's
    // commit was decided just before it was fenced.
    const previous = kafka.producer({
      transactionalId: `${transactionalIdPrefix}-${input}-0`,
      idempotent: true,
      maxInFlightRequests: 1,
    });
    await previous.connect();
    const txn = await previous.transaction();
    await txn.send({ topic: output, messages: values(5).map((v) => ({ key: 'k', value: v.toUpperCase() })) });
    await txn.sendOffsets({
      consumerGroupId: groupId,
      topics: [{ topic: input, partitions: [{ partition: 0, offset: '5' }] }],
    });
    await txn.commit();
    await previous.disconnect();

    await produceInputs(input, [...values(10), 'END']);
    const committed = await collect(kafka, [output]);
    try {
      await waitForRecords(committed.records, 1, (r) => r.message.value?.toString() === 'END');
      expect(outValues(committed.records)).toEqual([...values(10).map((v) => v.toUpperCase()), 'END']);
    } finally {
      await Promise.all([committed.stop(), transformer.stop()]);
    }
  });

  it('a committed offset is reported unstable while a transaction holding it is open (KIP-447, patched kafkajs)', async () => {
    const kafka = testKafka();
    const input = randomId('in');
    await createTopic(kafka, input);
    const groupId = randomId('g');
    const admin = kafka.admin();
    await admin.connect();
    const producer = kafka.producer({
      transactionalId: randomId('tx'),
      idempotent: true,
      maxInFlightRequests: 1,
    });
    await producer.connect();
    const offsetOf = async (requireStable: boolean) =>
      (await admin.fetchOffsets({ groupId, topics: [{ topic: input, partitions: [0] }], requireStable }))[0]
        ?.partitions[0]?.offset;
    try {
      const txn = await producer.transaction();
      await txn.sendOffsets({
        consumerGroupId: groupId,
        topics: [{ topic: input, partitions: [{ partition: 0, offset: '7' }] }],
      });
      expect(await offsetOf(false)).toBe('-1'); // the plain read answers with the offset before the transaction
      await expect(offsetOf(true)).rejects.toMatchObject({ type: 'UNSTABLE_OFFSET_COMMIT' });
      await txn.commit();
      expect(await waitFor('the stable offset', () => offsetOf(true).catch(() => undefined))).toBe('7');
    } finally {
      await Promise.all([producer.disconnect(), admin.disconnect()]);
    }
  });
});
