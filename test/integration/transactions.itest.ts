/**
 * Transactional consume -> transform -> produce on the real broker: an aborted transaction leaves nothing
 * visible to read_committed consumers, and a process killed before commit has its input delivered again,
 * with every output visible exactly once.
 */
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
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

const outValues = (recs: { message: { value: Buffer | null } }[]) =>
  recs.map((r) => r.message.value!.toString());

describe('transactional consume-transform-produce (real Kafka)', () => {
  it('an aborted transaction is invisible to read_committed; the retried chunk commits each output once', async () => {
    const kafka = testKafka();
    const input = randomId('in');
    const output = randomId('out');
    await createTopic(kafka, input);
    await createTopic(kafka, output);
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
    const kafka = testKafka();
    const input = randomId('in');
    const output = randomId('out');
    await createTopic(kafka, input);
    await createTopic(kafka, output);
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
});
