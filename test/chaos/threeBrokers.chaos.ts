/**
 * Chaos on a three-broker cluster (replication factor 3, min.insync.replicas 2): the leaders of a raw and
 * of a canonical partition are killed under load, one after the other, and brought back. The receiver keeps
 * answering 200 (leadership moves; no outage), with no gap without a 200 longer than the stated bound, and
 * every accepted notification is on the canonical topic exactly once.
 */
import { createPki } from '../kit/appleSigning';
import { killBroker, startBroker } from '../support/stack';
import { waitFor } from '../support/kafka';
import {
  AppleLikeSender,
  Pipeline,
  canonicalExactness,
  chaosStack,
  createTopics,
  kafkaOf,
  purgeChaosStack,
  report,
  sleep,
  type StackEnv,
} from './harness';

/** Correctness bound on the longest time without a 200 while the load runs (leader election plus retries). */
const GAP_BOUND_MS = 30_000;

let env: StackEnv;
let pipeline: Pipeline;

afterAll(async () => {
  await pipeline?.stopAll();
  await purgeChaosStack(env);
}, 300_000);

/** The partition's leader; retried, since a broker that just (re)joined can answer before it has metadata. */
async function leaderOf(topic: string, partition: number): Promise<number> {
  const admin = kafkaOf(env).admin();
  await admin.connect();
  try {
    return await waitFor(
      `a leader for ${topic}-${partition}`,
      async () => {
        const meta = await admin.fetchTopicMetadata({ topics: [topic] }).catch(() => undefined);
        const p = meta?.topics[0]?.partitions.find((x) => x.partitionId === partition);
        return p && p.leader >= 0 ? p.leader : undefined;
      },
      60_000,
      500,
    );
  } finally {
    await admin.disconnect();
  }
}

describe('chaos: three brokers', () => {
  it('killing the leader of a raw and of a canonical partition under load loses nothing and keeps answering 200', async () => {
    env = await chaosStack({
      name: 'chaos3',
      kafkaPort: 29092,
      controllerPort: 29093,
      registryPort: 28081,
      brokers: 3,
    });
    const names = await createTopics(env);
    const pki = await createPki();
    pipeline = await Pipeline.create(env, names, pki);
    await pipeline.startAll(['receiver-app-store', 'normalizer']);
    const sender = new AppleLikeSender(() => pipeline.receiverUrl(), pki);
    sender.start(20);
    await sleep(5000);
    sender.resetGap();

    const killed: Record<string, number> = {};
    for (const topic of [names.name('rawAppStore'), names.name('subscriptionEvents')]) {
      const leader = await leaderOf(topic, 0);
      killed[topic] = leader;
      await killBroker(leader);
      await sleep(15_000);
      await startBroker(leader);
      await sleep(5000);
    }
    const gap = sender.longestGapMs;
    sender.stop();
    await sender.settle(180_000);
    const exact = await canonicalExactness(env, names, sender.accepted);
    report('three brokers, leaders killed', {
      killedLeaders: killed,
      longestGapWithout200Ms: gap,
      ...exact,
      answers: Object.fromEntries(sender.statuses),
      transportErrors: Object.fromEntries(sender.transportErrors),
    });
    expect(pipeline.unexpectedExits()).toEqual({});
    expect(gap).toBeLessThan(GAP_BOUND_MS);
    expect(exact.missingNotifications).toBe(0);
    expect(exact.duplicateEventIds).toBe(0);
  }, 900_000);
});
