/**
 * P2: normalizer throughput (raw App Store V2 -> canonical Avro events, Kafka transactions with the input
 * offsets), next to a bare kafkajs consume -> produce passthrough of the same raw records, in the same run.
 * Each runs as its own process on a prefilled raw topic; the rate is measured on the output topic between
 * 5 % and 100 % of the records (so start-up and group join are not counted).
 * Usage: npm run bench:p2 [-- <records>]
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import type { Kafka } from 'kafkajs';
import { notification } from '../test/kit/builders/appStore';
import { createPki, signedBody } from '../test/kit/appleSigning';
import { freePort } from '../test/support/http';
import { ROOT, freshTopics, kafkaClient, machine, stack, untilExit } from './common';

async function outputCount(kafka: Kafka, topic: string): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return (await admin.fetchTopicOffsets(topic)).reduce((n, p) => n + Number(p.high), 0);
  } finally {
    await admin.disconnect();
  }
}

/** Polls the output until it holds `n` records; returns records/s between 5 % and 100 %. */
async function rate(kafka: Kafka, topic: string, n: number): Promise<number> {
  const start = Math.floor(n * 0.05);
  const end = n;
  let t0: number | undefined;
  const deadline = Date.now() + 600_000;
  for (;;) {
    const count = await outputCount(kafka, topic);
    if (t0 === undefined && count >= start) t0 = performance.now();
    if (count >= end) return Math.round((n - Math.floor(n * 0.05)) / ((performance.now() - t0!) / 1000));
    if (Date.now() > deadline) throw new Error(`${topic}: ${count} of ${end} after 10 minutes`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function main(): Promise<void> {
  const n = Number(process.argv[2] ?? 20_000);
  const { brokers, registryUrl } = stack();
  const kafka = kafkaClient(brokers);
  const names = await freshTopics(kafka);
  const raw = names.name('rawAppStore');
  const pki = await createPki();
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  // 200 per send: a partition's share of one send is one record batch, and the broker refuses batches over
  // 1 MB; at 500 (~10 KB each) an unlucky spread of keys went over it (MESSAGE_TOO_LARGE at 40,000).
  const perSend = 200;
  for (let i = 0; i < n; i += perSend) {
    await producer.send({
      topic: raw,
      acks: -1,
      messages: Array.from({ length: Math.min(perSend, n - i) }, (_, j) => {
        const nt = notification('DID_RENEW', undefined, { tx: { originalTransactionId: `5000${i + j}` } });
        nt.payload.notificationUUID = randomUUID();
        return {
          key: nt.transaction!.originalTransactionId!,
          value: signedBody(nt, pki),
          headers: { format: 'app-store-v2', 'received-at': String(Date.now()) },
        };
      }),
    });
  }
  await producer.disconnect();

  // Baseline first, into a scratch topic (the canonical topic's partitions and settings).
  const scratch = names.name('subscriptionEventsDlq').replace('.dlq', '.passthrough');
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: scratch, numPartitions: 6 }], waitForLeaders: true });
  await admin.disconnect();
  const pass = spawn(
    process.execPath,
    [
      '--require',
      'tsx/cjs',
      resolve(ROOT, 'bench/passthrough.ts'),
      brokers.join(','),
      raw,
      scratch,
      `bench-pass-${randomBytes(4).toString('hex')}`,
    ],
    { stdio: 'inherit' },
  );
  const passRate = await untilExit([['passthrough', pass]], rate(kafka, scratch, n));
  pass.kill('SIGTERM');

  const normGroup = `bench-norm-${randomBytes(4).toString('hex')}`;
  const normPort = await freePort();
  const norm = spawn(
    process.execPath,
    [
      // BENCH_NODE_ARGS (e.g. --cpu-prof --cpu-prof-dir=…) profiles the normalizer, as in the other benches.
      ...(process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean),
      '--require',
      'tsx/cjs',
      resolve(ROOT, 'services/normalizer/main.ts'),
    ],
    {
      env: {
        ...process.env,
        KAFKA_BROKERS: brokers.join(','),
        SCHEMA_REGISTRY_URL: registryUrl,
        TOPIC_PREFIX: names.prefix,
        NORMALIZER_GROUP_ID: normGroup,
        NORMALIZER_TRANSACTIONAL_ID: `bench-norm-${randomBytes(4).toString('hex')}`,
        PORT: String(normPort),
        LOG_LEVEL: 'warn',
      },
      stdio: 'inherit',
    },
  );
  // The canonical topic's offsets also count transaction markers, so progress is read from the consumer
  // side instead: the group's committed offsets on the raw topic (one event per raw record here).
  const normRate = await untilExit([['normalizer', norm]], committedRate(kafka, raw, n, normGroup));
  const transactions = await transactionTimes(normPort);
  norm.kill('SIGTERM');
  console.log(
    JSON.stringify(
      {
        bench: 'P2',
        machine: machine(),
        records: n,
        normalizerEventsPerSecond: normRate,
        passthroughRecordsPerSecond: passRate,
        ratioToPassthrough: Number((normRate / passRate).toFixed(2)),
        transactions,
      },
      null,
      2,
    ),
  );
}

/**
 * The normalizer's committed transactions (its storeline_transaction_seconds histogram): how many, and how
 * many took over 200 ms (kafkajs' default CONCURRENT_TRANSACTIONS retry alone is a 300 ms step).
 */
async function transactionTimes(port: number): Promise<{ count: number; over200ms: number }> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const sum = (re: RegExp) => [...text.matchAll(re)].reduce((n, m) => n + Number(m[1]), 0);
  const count = sum(/^storeline_transaction_seconds_count\{[^}]*\} (\d+)$/gm);
  const within200 = sum(/^storeline_transaction_seconds_bucket\{[^}]*le="0\.2"[^}]*\} (\d+)$/gm);
  return { count, over200ms: count - within200 };
}

/** records/s of a group's committed progress on `topic` between 5 % and 100 %. */
async function committedRate(kafka: Kafka, topic: string, n: number, groupId: string): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    let t0: number | undefined;
    const start = Math.floor(n * 0.05);
    const deadline = Date.now() + 600_000;
    for (;;) {
      const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic] });
      const done = (offsets?.partitions ?? []).reduce((s, p) => s + Math.max(0, Number(p.offset)), 0);
      if (t0 === undefined && done >= start) t0 = performance.now();
      if (done >= n) return Math.round((n - start) / ((performance.now() - t0!) / 1000));
      if (Date.now() > deadline) throw new Error(`normalizer: ${done} of ${n} after 10 minutes`);
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    await admin.disconnect();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
