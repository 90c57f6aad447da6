/**
 * The behaviour `patches/kafkajs+2.2.4.patch` gives kafkajs' send path, driven with a scripted cluster:
 * kafkajs' own sendMessages, retrier and partition grouping, and brokers that answer as a real one would.
 */
import { createRequire } from 'node:module';
import { assertKafkajsPatched } from './kafkajsPatches';

const load = createRequire(__filename);
type SendMessages = (
  deps: object,
) => (args: object) => Promise<Array<{ topicName: string; partition: number }>>;
const createSendMessages = load('kafkajs/src/producer/sendMessages') as SendMessages;
const createRetry = load('kafkajs/src/retry') as (o: object) => unknown;
const { createErrorFromCode } = load('kafkajs/src/protocol/error') as {
  createErrorFromCode: (code: number) => Error;
};
const NOT_LEADER_FOR_PARTITION = 6;

interface Request {
  broker: number;
  partitions: number[];
}

/** Two brokers; `leaders` maps partition to broker, and `onRefresh` can move leadership. */
function scriptedCluster(opts: {
  leaders: Record<number, number>;
  fail: (broker: number, attempt: number) => boolean;
  onRefresh?: (leaders: Record<number, number>) => void;
}) {
  const requests: Request[] = [];
  const attempts = new Map<number, number>();
  const broker = (nodeId: number) => ({
    nodeId,
    produce: async ({
      topicData,
    }: {
      topicData: Array<{ topic: string; partitions: Array<{ partition: number }> }>;
    }) => {
      const n = (attempts.get(nodeId) ?? 0) + 1;
      attempts.set(nodeId, n);
      const partitions = topicData.flatMap((t) => t.partitions.map((p) => Number(p.partition)));
      requests.push({ broker: nodeId, partitions });
      if (opts.fail(nodeId, n)) throw createErrorFromCode(NOT_LEADER_FOR_PARTITION);
      return {
        topics: topicData.map((t) => ({
          topicName: t.topic,
          partitions: t.partitions.map((p) => ({
            partition: Number(p.partition),
            errorCode: 0,
            baseOffset: '0',
          })),
        })),
      };
    },
  });
  const brokers = new Map([1, 2].map((id) => [id, broker(id)]));
  const cluster = {
    targetTopics: new Set<string>(),
    refreshMetadataIfNecessary: async () => undefined,
    refreshMetadata: async () => opts.onRefresh?.(opts.leaders),
    addMultipleTargetTopics: async () => undefined,
    isConnected: () => true,
    removeBroker: () => undefined,
    connect: async () => undefined,
    findTopicPartitionMetadata: () =>
      Object.entries(opts.leaders).map(([p, leader]) => ({ partitionId: Number(p), leader })),
    findLeaderForPartitions: (_topic: string, partitions: string[]) => {
      const out: Record<number, number[]> = {};
      for (const p of partitions.map(Number)) {
        const leader = opts.leaders[p];
        if (leader !== undefined) (out[leader] ??= []).push(p);
      }
      return out;
    },
    findBroker: async ({ nodeId }: { nodeId: string | number }) => brokers.get(Number(nodeId)),
  };
  return { cluster, requests };
}

function sender(cluster: object) {
  const eosManager = {
    acquireBrokerLock: async () => undefined,
    releaseBrokerLock: async () => undefined,
    isTransactional: () => false,
    getSequence: () => 0,
    updateSequence: () => undefined,
    getProducerId: () => -1,
    getProducerEpoch: () => 0,
  };
  const logger = { debug: () => undefined, error: () => undefined };
  const retrier = createRetry({ retries: 3, initialRetryTime: 1, maxRetryTime: 5 });
  const partitioner = ({ message }: { message: { partition: number } }) => message.partition;
  return createSendMessages({ logger, cluster, partitioner, eosManager, retrier });
}

const messages = (partitions: number[]) =>
  partitions.map((partition) => ({ partition, value: `to-${partition}` }));

describe('kafkajs send path (patched)', () => {
  it('re-sends a failed partition whose leadership moved to a broker that already answered', async () => {
    // Partition 0 on broker 1, partition 1 on broker 2. Broker 1 fails (it lost leadership); the refreshed
    // metadata puts partition 0 on broker 2, which had answered for partition 1 in the first attempt.
    const { cluster, requests } = scriptedCluster({
      leaders: { 0: 1, 1: 2 },
      fail: (broker) => broker === 1,
      onRefresh: (leaders) => (leaders[0] = 2),
    });
    const acks = await sender(cluster)({
      acks: -1,
      topicMessages: [{ topic: 't', messages: messages([0, 1]) }],
    });
    expect(requests).toEqual([
      { broker: 1, partitions: [0] },
      { broker: 2, partitions: [1] },
      { broker: 2, partitions: [0] }, // unpatched kafkajs never sends this, yet resolves
    ]);
    expect(acks.map((a) => a.partition).sort()).toEqual([0, 1]);
  });

  it('does not send an acknowledged partition again when another one is retried', async () => {
    const { cluster, requests } = scriptedCluster({
      leaders: { 0: 1, 1: 2 },
      fail: (broker, attempt) => broker === 1 && attempt === 1,
    });
    await sender(cluster)({ acks: -1, topicMessages: [{ topic: 't', messages: messages([0, 1]) }] });
    expect(requests.filter((r) => r.partitions.includes(1))).toHaveLength(1);
    expect(requests.filter((r) => r.partitions.includes(0))).toHaveLength(2);
  });

  it('never reports a partition without a known leader as sent', async () => {
    const { cluster } = scriptedCluster({ leaders: { 1: 2 }, fail: () => false });
    const send = sender({
      ...cluster,
      // Metadata lists partition 0, but no leader is found for it.
      findTopicPartitionMetadata: () => [
        { partitionId: 0, leader: 1 },
        { partitionId: 1, leader: 2 },
      ],
    });
    await expect(
      send({ acks: -1, topicMessages: [{ topic: 't', messages: messages([0, 1]) }] }),
    ).rejects.toThrow(/No leader known/);
  });

  it('keeps the order of messages within a partition', () => {
    const group = load('kafkajs/src/producer/groupMessagesPerPartition') as (
      o: object,
    ) => Record<number, unknown[]>;
    const ms = [0, 1, 0, 0, 1].map((partition, i) => ({ partition, value: String(i) }));
    const grouped = group({
      topic: 't',
      partitionMetadata: [{ partitionId: 0 }, { partitionId: 1 }],
      messages: ms,
      partitioner: ({ message }: { message: { partition: number } }) => message.partition,
    });
    expect(grouped[0]).toEqual([ms[0], ms[2], ms[3]]);
    expect(grouped[1]).toEqual([ms[1], ms[4]]);
  });
});

type Batch = new (
  topic: string,
  fetchedOffset: string,
  partitionData: object,
) => { messages: Array<{ offset: string }> };
const Batch = load('kafkajs/src/consumer/batch') as Batch;

/**
 * What a read_committed consumer gets from one fetch starting at `first`. `log` holds one producer id per
 * record at consecutive offsets (`2!` is producer 2's abort marker, a control record keyed 0,0,0,0);
 * `aborted` is the broker's list of aborted transactions, `producer@firstOffset`, in the broker's order.
 */
function readCommitted(first: number, log: string[], aborted: string[]): number[] {
  const messages = log.map((entry, i) => {
    const marker = entry.endsWith('!');
    return {
      offset: String(first + i),
      key: marker ? Buffer.from([0, 0, 0, 0]) : Buffer.from('k'),
      value: Buffer.from('v'),
      isControlRecord: marker,
      batchContext: { producerId: entry.replace('!', ''), inTransaction: true },
    };
  });
  const abortedTransactions = aborted.map((a) => {
    const [producerId, firstOffset] = a.split('@');
    return { producerId, firstOffset };
  });
  const batch = new Batch('t', String(first), {
    partition: 0,
    highWatermark: '100',
    abortedTransactions,
    messages,
  });
  return batch.messages.map((m) => Number(m.offset));
}

describe('kafkajs read_committed filter (patched)', () => {
  it('drops every aborted transaction that began before the fetch, whichever record comes first', () => {
    // Producers 1 and 2 began transactions at 3 and 5 (both later aborted); the fetch starts at 10, where
    // producer 2's record comes first. Producer 3 committed (offset 12).
    expect(readCommitted(10, ['2', '1', '3', '1!', '2!'], ['1@3', '2@5'])).toEqual([12]);
  });

  it('takes the broker list in any order (it is ordered by where transactions ended)', () => {
    expect(readCommitted(3, ['1', '2', '1', '2!', '1!', '3'], ['2@4', '1@3'])).toEqual([8]);
  });

  it("delivers a producer's later committed transaction after its aborted one", () => {
    expect(readCommitted(3, ['1', '1!', '1'], ['1@3'])).toEqual([5]);
  });
});

describe('kafkajs OffsetFetch versions (patched)', () => {
  // kafkajs' own version choice: the highest it implements that the broker's ApiVersions answer allows.
  const { requests, lookup } = load('kafkajs/src/protocol/requests') as {
    requests: { OffsetFetch: object };
    lookup: (
      versions: object,
    ) => (apiKey: number, d: object) => (args: object) => { request: { apiVersion: number } };
  };
  const OFFSET_FETCH = 9;
  const chosen = (brokerMax: number) =>
    lookup({ [OFFSET_FETCH]: { minVersion: 0, maxVersion: brokerMax } })(OFFSET_FETCH, requests.OffsetFetch)({
      groupId: 'g',
      topics: [],
      requireStable: true,
    }).request.apiVersion;

  it('asks a broker that has KIP-447 with v7 (require_stable)', () => {
    expect(chosen(9)).toBe(7);
  });

  // The v7 body after the request header's empty tag buffer: group_id, topics, require_stable, tag buffer.
  const v7Body = async (topics: object[]) => {
    const request = load('kafkajs/src/protocol/requests/offsetFetch/v7/request') as (args: object) => {
      encode: () => Promise<{ buffer: Buffer }>;
    };
    return [...(await request({ groupId: 'g', topics, requireStable: true }).encode()).buffer];
  };

  it('encodes v7 with compact fields; no topics asks for all of the group (as kafkajs means [])', async () => {
    // 0 (header tags), 2 'g' (compact string), 0 (null array), 1 (require_stable), 0 (tags)
    expect(await v7Body([])).toEqual([0, 2, 0x67, 0, 1, 0]);
    // ... 2 (one topic), 2 't', 2 (one partition), int32 3, 0 (topic tags), 1, 0
    expect(await v7Body([{ topic: 't', partitions: [{ partition: 3 }] }])).toEqual([
      0, 2, 0x67, 2, 2, 0x74, 2, 0, 0, 0, 3, 0, 1, 0,
    ]);
  });

  it('falls back to v4 on a broker that stops at v5 or v6', () => {
    expect([chosen(5), chosen(6), chosen(4)]).toEqual([4, 4, 4]);
  });
});

describe('assertKafkajsPatched', () => {
  it('passes on the installed kafkajs', () => {
    expect(() => assertKafkajsPatched()).not.toThrow();
  });

  it('refuses a kafkajs without the patch', () => {
    const unpatched = load.resolve('kafkajs/src/producer/messageProducer.js');
    expect(() => assertKafkajsPatched(() => unpatched)).toThrow(/lacks patches\/kafkajs\+2\.2\.4\.patch/);
    // Either fix missing is refused: the send path patched but not the read_committed filter.
    const onlySend = (id: string) => (id.endsWith('filterAbortedMessages.js') ? unpatched : load.resolve(id));
    expect(() => assertKafkajsPatched(onlySend)).toThrow(/filterAbortedMessages/);
  });
});
