/**
 * Chaos suite: the real pipeline (App Store receiver, normalizer, state aggregator, churn triggers, webhook
 * fan-out, each its own process) on a stack of its own, under steady load from an Apple-like sender that
 * retries every non-200 answer. One fault per scenario, then the same checks:
 *  - every notification answered 200 has its events on the canonical topic (read_committed), and no
 *    eventId appears twice;
 *  - every service is ready again within the stated bound, with no manual step and no process that
 *    died by itself;
 * and at the end the state tables equal a rebuild from the topic.
 * Figures (recovery times, counts, RSS) are printed as `[chaos] …` lines; bounds asserted here are
 * generous correctness bounds, the measured times belong in the README's "Failure behaviour" section.
 */
import type { Kafka } from 'kafkajs';
import { createPki, type Pki } from '../kit/appleSigning';
import { killBroker, startBroker, startRegistry, stopRegistry } from '../support/stack';
import { randomId, waitFor } from '../support/kafka';
import type { TopicNames } from '../../lib/core/topics';
import {
  AppleLikeSender,
  Pipeline,
  canonicalExactness,
  chaosStack,
  createTopics,
  kafkaOf,
  metric,
  purgeChaosStack,
  report,
  sleep,
  stateEqualsRebuild,
  terminateBackends,
  type ServiceName,
  type StackEnv,
} from './harness';

const RATE = Number(process.env.CHAOS_RATE ?? 20); // notifications per second
const BROKER_DOWN_MS = Number(process.env.CHAOS_BROKER_DOWN_MS ?? 90_000);
const REGISTRY_DOWN_MS = Number(process.env.CHAOS_REGISTRY_DOWN_MS ?? 60_000);
/** Correctness bound, not a timing target: every service is ready again this long after a fault ends. */
const RECOVERY_BOUND_MS = 120_000;
const ALL: ServiceName[] = ['receiver-app-store', 'normalizer', 'state', 'triggers', 'webhook-fanout'];
const CONSUMERS: ServiceName[] = ['normalizer', 'state', 'triggers', 'webhook-fanout'];

let env: StackEnv;
let names: TopicNames;
let pki: Pki;
let pipeline: Pipeline;
let sender: AppleLikeSender;

beforeAll(async () => {
  env = await chaosStack({ name: 'chaos1', kafkaPort: 19092, controllerPort: 19093, registryPort: 18081 });
  names = await createTopics(env);
  pki = await createPki();
  pipeline = await Pipeline.create(env, names, pki);
  await pipeline.startAll(ALL);
  sender = new AppleLikeSender(() => pipeline.receiverUrl(), pki);
}, 600_000);

afterAll(async () => {
  sender?.stop();
  await pipeline?.stopAll();
  await purgeChaosStack(env);
}, 300_000);

/** The checks every scenario ends with; returns the figures it printed. */
async function assertSettled(scenario: string, figures: Record<string, unknown>) {
  sender.stop();
  await sender.settle(240_000);
  const ready = await pipeline.waitReady(ALL, RECOVERY_BOUND_MS);
  const exact = await canonicalExactness(env, names, sender.accepted);
  const all = {
    ...figures,
    ...exact,
    readyAfterSettleMs: ready,
    answers: Object.fromEntries(sender.statuses),
    transportErrors: Object.fromEntries(sender.transportErrors),
  };
  report(scenario, all);
  expect(pipeline.unexpectedExits()).toEqual({});
  expect(exact.missingNotifications).toBe(0);
  expect(exact.duplicateEventIds).toBe(0);
  return all;
}

/** Steady load for `ms`, e.g. before a fault so the pipeline is busy when it strikes. */
async function load(ms: number): Promise<void> {
  sender.start(RATE);
  await sleep(ms);
}

describe('chaos: the pipeline rides through faults without an operator', () => {
  it('broker killed for 90 s under load: no loss, no duplicate, receivers not ready meanwhile, RSS flat', async () => {
    await load(10_000);
    const baselineRss = pipeline.rssMb('receiver-app-store');
    const t0 = Date.now();
    await killBroker();
    const receiverNotReadyMs = await pipeline.waitNotReady('receiver-app-store', 30_000);
    const consumerNotReadyMs = await pipeline.waitNotReady('normalizer', 60_000);
    let peakRss = baselineRss;
    while (Date.now() - t0 < BROKER_DOWN_MS) {
      peakRss = Math.max(peakRss, pipeline.rssMb('receiver-app-store'));
      await sleep(1000);
    }
    await startBroker(); // returns once the broker answers again
    const downMs = Date.now() - t0;
    const recoveredMs = await pipeline.waitReady(ALL, RECOVERY_BOUND_MS);
    await assertSettled('broker down', {
      downMs,
      receiverNotReadyAfterMs: receiverNotReadyMs,
      normalizerNotReadyAfterMs: consumerNotReadyMs,
      allReadyAfterBrokerBackMs: recoveredMs,
      receiverRssMb: { baseline: Math.round(baselineRss), peak: Math.round(peakRss) },
      recoveries: await metric(pipeline, 'normalizer', 'storeline_recoveries_total'),
      // Copies of notifications answered 503 but stored anyway, which the normalizer turned into nothing.
      duplicatesAbsorbed: await metric(pipeline, 'normalizer', 'storeline_normalizer_duplicates_total'),
    });
    // A bounded publisher queue: the outage must not grow the receiver by the backlog it refused.
    expect(peakRss - baselineRss).toBeLessThan(150);
  }, 600_000);

  it('database backends terminated (restart / failover) under load: services pause and resume, none dies', async () => {
    await load(5000);
    let terminated = 0;
    for (let i = 0; i < 3; i++) {
      terminated += await terminateBackends(env);
      await sleep(2000);
    }
    const recoveredMs = await pipeline.waitReady(ALL, RECOVERY_BOUND_MS);
    await load(5000);
    await assertSettled('database backends terminated', { terminated, allReadyAfterMs: recoveredMs });
    expect(terminated).toBeGreaterThan(0);
  }, 600_000);

  it('registry down for 60 s: consumers keep or wait, readiness says so, nothing lost', async () => {
    await load(5000);
    const t0 = Date.now();
    await stopRegistry();
    const notReadyMs = await pipeline.waitNotReady('state', 30_000);
    await sleep(Math.max(0, REGISTRY_DOWN_MS - (Date.now() - t0)));
    await startRegistry();
    const recoveredMs = await pipeline.waitReady(ALL, RECOVERY_BOUND_MS);
    await assertSettled('registry down', {
      downMs: REGISTRY_DOWN_MS,
      stateNotReadyAfterMs: notReadyMs,
      allReadyAfterRegistryBackMs: recoveredMs,
    });
  }, 600_000);

  it('unknown-schema-id and non-Avro records on every canonical partition: dead-lettered by each consumer', async () => {
    const kafka = kafkaOf(env);
    const topic = names.name('subscriptionEvents');
    const admin = kafka.admin();
    await admin.connect();
    const partitions = (await admin.fetchTopicMetadata({ topics: [topic] })).topics[0]!.partitions.map(
      (p) => p.partitionId,
    );
    await admin.disconnect();
    const unknownId = Buffer.from([0, 0x7f, 0xff, 0xff, 0x01, 2, 4, 6]); // magic 0, schema id 2147483393
    const producer = kafka.producer();
    await producer.connect();
    sender.start(RATE);
    await producer.send({
      topic,
      acks: -1,
      messages: partitions.flatMap((partition) => [
        { partition, key: 'poison', value: unknownId, headers: { poison: 'unknown-schema-id' } },
        { partition, key: 'poison', value: Buffer.from('not avro at all'), headers: { poison: 'not-avro' } },
      ]),
    });
    await producer.disconnect();
    // Each of the three canonical consumers dead-letters each poison record once, and moves on.
    const dlq = names.dlqOf('subscriptionEvents') as string;
    const reasons = await waitFor(
      'poison dead-lettered by state, triggers and fan-out',
      async () => {
        const seen = await readDlq(kafka, dlq);
        const unknown = seen.filter((r) => r.poison === 'unknown-schema-id');
        const notAvro = seen.filter((r) => r.poison === 'not-avro');
        return unknown.length >= 3 * partitions.length && notAvro.length >= 3 * partitions.length
          ? { unknown, notAvro }
          : undefined;
      },
      120_000,
      2000,
    );
    expect(reasons.unknown.length).toBe(3 * partitions.length);
    expect(reasons.notAvro.length).toBe(3 * partitions.length);
    expect(reasons.unknown.every((r) => /unknown schema id/.test(r.reason))).toBe(true);
    await assertSettled('poison records', {
      partitions: partitions.length,
      deadLettered: reasons.unknown.length + reasons.notAvro.length,
    });
  }, 600_000);

  it('SIGKILL of each consumer under load: each comes back, nothing lost or doubled', async () => {
    const restartMs: Record<string, number> = {};
    sender.start(RATE);
    for (const name of CONSUMERS) {
      await sleep(3000);
      await pipeline.kill(name, 'SIGKILL');
      await pipeline.start(name);
      restartMs[name] = await pipeline.waitReady([name], RECOVERY_BOUND_MS);
    }
    await load(5000);
    await assertSettled('SIGKILL each consumer', { readyAfterRestartMs: restartMs });
  }, 600_000);

  it('a V1 body with a numeric key among 60 concurrent valid ones: the 60 are accepted, it is dead-lettered', async () => {
    const bad = Buffer.from(
      JSON.stringify({
        notification_type: 'DID_RENEW',
        password: pipeline.v1Secret,
        environment: 'Sandbox',
        bid: 'com.example.app',
        unified_receipt: {
          environment: 'Sandbox',
          latest_receipt_info: [
            { original_transaction_id: 700000000001, product_id: 'p', purchase_date_ms: '1' },
          ],
        },
      }),
    );
    const valid = Array.from({ length: 60 }, () => sender.next());
    // A request that got no answer at all (a keep-alive socket the server had just closed) is sent again,
    // as Apple would; what must never happen is an answer other than 200 because of the bad neighbour.
    const send = async (body: Buffer, path?: string) => {
      let status = 0;
      for (let i = 0; i < 3 && status === 0; i++) status = await sender.sendOne(body, path);
      return status;
    };
    const answers = await Promise.all([send(bad, '/app-store/v1'), ...valid.map((v) => send(v.body))]);
    for (const v of valid) sender.accepted.add(v.id);
    const [badAnswer, ...validAnswers] = answers;
    expect(validAnswers.filter((s) => s !== 200)).toEqual([]);
    expect(badAnswer).toBe(200);
    const kafka = kafkaOf(env);
    const dead = await waitFor(
      'the V1 body on the raw DLQ',
      async () =>
        (await readDlq(kafka, names.dlqOf('rawAppStore') as string)).find((r) =>
          /original_transaction_id is a number/.test(r.reason),
        ),
      60_000,
      2000,
    );
    await assertSettled('V1 numeric key', { valid: validAnswers.length, deadLetterReason: dead.reason });
  }, 300_000);

  it('after everything: state equals a rebuild from the canonical topic', async () => {
    const r = await stateEqualsRebuild(pipeline);
    report('state vs rebuild', r);
    expect(r.subscriptions).toBeGreaterThan(0);
    expect(r.equal).toBe(true);
  }, 300_000);
});

async function readDlq(kafka: Kafka, topic: string): Promise<{ poison?: string; reason: string }[]> {
  const consumer = kafka.consumer({ groupId: randomId('dlq-reader') });
  const out: { poison?: string; reason: string }[] = [];
  const admin = kafka.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  const want = ends.reduce((n, p) => n + Number(p.high) - Number(p.low), 0);
  if (want === 0) return out;
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      out.push({
        poison: message.headers?.poison?.toString(),
        reason: message.headers?.['dlq.reason']?.toString() ?? '',
      });
    },
  });
  await waitFor('DLQ read', () => (out.length >= want ? true : undefined), 30_000, 200).catch(
    () => undefined,
  );
  await consumer.disconnect();
  return out;
}
