/**
 * Exactly-once consume -> transform -> produce on kafkajs transactions.
 *
 * Each chunk of a fetched batch runs in one Kafka transaction that holds the chunk's output records and the
 * input offsets (sendOffsets), so either both become visible to read_committed consumers or neither does.
 * A crash anywhere before commit leaves the transaction to be aborted (by the next owner's initProducerId,
 * or the broker's transaction timeout) and the input is delivered again.
 *
 * Fencing: one transactional producer per input partition, with a transactional.id derived from the
 * partition (`<prefix>-<topic>-<partition>`). kafkajs' TxnOffsetCommit does not carry the consumer group
 * generation (no KIP-447), so per-partition ids are what fences a stalled former owner of a partition:
 * the new owner's initProducerId bumps the epoch and the zombie's commit fails. A commit the old owner had
 * already sent is finished first instead, so before its first chunk of a partition the new owner reads the
 * group's committed offset again, stably (see notYetCommitted), and skips what that commit covered.
 *
 * Poison input (a non-retriable error from `transform`) goes to the topic's dead-letter topic with the
 * reason, inside the same transaction, and the consumer moves on. Retriable errors abort the transaction
 * and retry the chunk with backoff; after the policy's last attempt the consumer restarts from the last
 * committed offset. A database or registry outage pauses the consumer instead (ConsumerGuard).
 *
 * A failed transaction always discards its producer: after a broker outage an abort can fail and leave
 * kafkajs' transaction state machine in ABORTING for good ("Cannot call beginTransaction in state
 * ABORTING"). The next attempt builds a new producer whose initProducerId bumps the epoch, which fences
 * the old one and aborts whatever it left open, so exactly-once holds across the rebuild.
 */
import {
  Partitioners,
  type Admin,
  type Consumer,
  type Kafka,
  type KafkaMessage,
  type Producer,
} from 'kafkajs';
import { Histogram, type Registry } from 'prom-client';
import { ConsumerGuard, recoveriesCounter, type Readiness } from './consumerGuard';
import {
  PipelineError,
  PoisonMessageError,
  errorMessage,
  isRetriable,
  unavailableDependency,
  type Dependency,
} from '../core/errors';
import { readHeaders } from './kafka';
import { deadLetter } from './dlq';
import { sharedMetric } from './metrics';
import { groupByTopic, type InputRecord, type OutputRecord } from './records';
import type { Logger } from './logger';
import type { RetryPolicy } from '../core/topics';

export type Transform = (record: InputRecord) => Promise<OutputRecord[]> | OutputRecord[];

interface ChunkCommitted {
  topic: string;
  partition: number;
  lastOffset: string;
  inputs: number;
  outputs: number;
  deadLettered: number;
}

export interface TransformerOptions {
  kafka: Kafka;
  logger: Logger;
  groupId: string;
  topics: string[];
  /** Dead-letter topic for records of an input topic. Poison input of a topic without one stops the consumer. */
  dlqFor: (inputTopic: string) => string | undefined;
  transactionalIdPrefix: string;
  transform: Transform;
  /**
   * Per-chunk work done once (one database round trip for the chunk instead of one per record): given the
   * chunk's records, returns the transform to run on each of them. A failure fails the chunk like a transform
   * failure; a record it cannot handle must be left to the returned transform to throw for (dead letter).
   */
  prepareChunk?: (records: InputRecord[]) => Promise<Transform>;
  /** One policy, or each input topic's own (the catalog gives every topic one). */
  retry: RetryPolicy | ((inputTopic: string) => RetryPolicy);
  maxRecordsPerTransaction?: number;
  /**
   * Input partitions processed at once. A transaction is mostly round trips to the broker (add partitions,
   * produce, add offsets, commit), so one partition at a time leaves the process idle most of the time.
   */
  partitionsConcurrently?: number;
  /** Output records buffered before one sendBatch inside the open transaction. */
  maxRecordsPerSend?: number;
  fromBeginning?: boolean;
  /** Consumer group session timeout; a dead member holds its partitions this long. */
  sessionTimeoutMs?: number;
  now?: () => number;
  onCommitted?: (info: ChunkCommitted) => void;
  metrics?: Registry | undefined;
  /** Dependencies the transform uses, probed while the consumer is paused for them. */
  probes?: Partial<Record<Dependency, () => Promise<unknown>>>;
  /** ConsumerGuard tuning (tests shorten these). */
  stallAfterMs?: number;
  exitAfterMs?: number;
  /** See GuardOptions.lingerMs. */
  lingerMs?: number;
}

/** Input partitions a transformer processes at once unless told otherwise (the raw topics have 6). */
export const DEFAULT_CONCURRENT_PARTITIONS = 6;

function backoffMs(policy: RetryPolicy, attempt: number, random: () => number = Math.random): number {
  const exp = Math.min(policy.maxBackoffMs, policy.initialBackoffMs * 2 ** (attempt - 1));
  // Full jitter in the upper half: spreads retries of many instances without collapsing to zero.
  return Math.round(exp / 2 + (random() * exp) / 2);
}

function isFenced(err: unknown): boolean {
  const type = (err as { type?: unknown } | null)?.type;
  return type === 'INVALID_PRODUCER_EPOCH' || type === 'PRODUCER_FENCED' || /fenced/i.test(errorMessage(err));
}

/** A committed-offset read refused while a transactional commit of the partition is pending (KIP-447). */
function isUnstable(err: unknown): boolean {
  return (err as { type?: unknown } | null)?.type === 'UNSTABLE_OFFSET_COMMIT';
}

function toInput(topic: string, partition: number, m: KafkaMessage): InputRecord {
  return {
    topic,
    partition,
    offset: m.offset,
    key: m.key,
    value: m.value,
    headers: readHeaders(m.headers as Record<string, unknown> | undefined),
    timestamp: Number(m.timestamp),
  };
}

/**
 * Begin to commit of each committed transaction. A 300 ms step in it is kafkajs' default retry after
 * CONCURRENT_TRANSACTIONS (see producerFor); operators and bench P2 read it here.
 */
function transactionHistogram(registry: Registry | undefined): Histogram<'component'> {
  return sharedMetric(
    registry,
    'storeline_transaction_seconds',
    (registers) =>
      new Histogram({
        name: 'storeline_transaction_seconds',
        help: 'Kafka transactions of the transform loop, begin to commit (outputs and input offsets)',
        labelNames: ['component'],
        buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1, 2.5],
        registers,
      }),
  );
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** How long a pending transactional offset commit may keep the committed offset unstable (2 × txn timeout). */
const STABLE_OFFSET_TIMEOUT_MS = 120_000;

export class TransactionalTransformer {
  readonly consumer: Consumer;
  private readonly producers = new Map<string, Promise<Producer>>();
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly guard: ConsumerGuard;
  /** Per partition: the offset after the last record this instance committed. */
  private readonly next = new Map<string, bigint>();
  /** Per partition: the batch being processed, so the next one waits for it. */
  private readonly busy = new Map<string, Promise<void>>();
  /** Partitions whose last transaction failed: its commit may have been applied anyway. */
  private readonly uncertain = new Set<string>();
  /** Shared by the partitions' offset reads (they start together after an assignment). */
  private admin: Promise<Admin> | undefined;
  private stopping = false;
  private readonly txnSeconds: Histogram<'component'>;

  constructor(private readonly opts: TransformerOptions) {
    this.log = opts.logger.child({ component: 'transformer', groupId: opts.groupId });
    this.now = opts.now ?? Date.now;
    this.consumer = opts.kafka.consumer({
      groupId: opts.groupId,
      // Transactions in flight must finish or abort before their records are read downstream.
      readUncommitted: false,
      allowAutoTopicCreation: false,
      sessionTimeout: opts.sessionTimeoutMs ?? 30_000,
      // A fetch should carry a whole transaction's worth of a partition: App Store V2 bodies are ~10 KB
      // (three JWS with their x5c chains), so kafkajs' default 1 MB per partition cut a backlog into
      // transactions of ~100 records, and transaction round trips were most of the time (bench P2 ×1.5).
      maxBytesPerPartition: 5 * 1024 * 1024,
      maxBytes: 30 * 1024 * 1024,
    });
    this.txnSeconds = transactionHistogram(opts.metrics);
    this.consumer.on(this.consumer.events.GROUP_JOIN, (e) => {
      void this.releaseRevoked(e.payload.memberAssignment);
    });
    this.guard = new ConsumerGuard({
      kafka: opts.kafka,
      consumer: this.consumer,
      groupId: opts.groupId,
      component: opts.groupId,
      logger: opts.logger,
      metrics: opts.metrics,
      probes: opts.probes,
      stallAfterMs: opts.stallAfterMs,
      exitAfterMs: opts.exitAfterMs,
      lingerMs: opts.lingerMs,
    });
  }

  async start(): Promise<void> {
    const max = this.opts.maxRecordsPerTransaction ?? 500;
    await this.guard.start(
      { topics: this.opts.topics, fromBeginning: this.opts.fromBeginning ?? true },
      {
        autoCommit: false, // offsets are committed inside the transactions
        // Each partition has its own transactional producer, so partitions run their transactions side by
        // side; one partition's batches still run one at a time, in order (kafkajs and `serially`).
        partitionsConsumedConcurrently: this.opts.partitionsConcurrently ?? DEFAULT_CONCURRENT_PARTITIONS,
        eachBatchAutoResolve: false,
        eachBatch: this.guard.wrap(
          // One batch of a partition at a time: after a leader moves, kafkajs can fetch the same records
          // from the new leader while the old leader's batch is still being processed.
          ({ batch, heartbeat, isRunning, isStale, resolveOffset }) =>
            this.serially(`${batch.topic}-${batch.partition}`, async () => {
              for (let i = 0; i < batch.messages.length; i += max) {
                if (!isRunning() || isStale() || this.stopping) return;
                const chunk = batch.messages.slice(i, i + max);
                await this.processWithRetry(batch.topic, batch.partition, chunk);
                resolveOffset((chunk[chunk.length - 1] as KafkaMessage).offset);
                await heartbeat();
              }
            }),
          { resolve: false },
        ),
      },
    );
  }

  readiness(): Promise<Readiness> {
    return this.guard.readiness();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    // consumer.disconnect waits for the batch in flight; its chunk either commits or aborts.
    await this.guard.stop();
    const producers = [...this.producers.values()];
    this.producers.clear();
    await Promise.allSettled(producers.map(async (p) => (await p).disconnect()));
    await (await this.admin?.catch(() => undefined))?.disconnect().catch(() => undefined);
  }

  private producerFor(topic: string, partition: number): Promise<Producer> {
    const key = `${topic}-${partition}`;
    let p = this.producers.get(key);
    if (!p) {
      const producer = this.opts.kafka.producer({
        transactionalId: `${this.opts.transactionalIdPrefix}-${key}`,
        // murmur2 like the Java client: keys land on the same partitions whoever produces them.
        createPartitioner: Partitioners.DefaultPartitioner,
        idempotent: true,
        maxInFlightRequests: 1,
        allowAutoTopicCreation: false,
        transactionTimeout: 60_000,
        // Back-to-back transactions: the first send of the next one (AddPartitionsToTxn) gets
        // CONCURRENT_TRANSACTIONS while the coordinator still writes the previous commit's markers, a few
        // ms. kafkajs' default first retry waits 300 ms, a stall per chunk; 20 ms (doubling) retries soon
        // after the markers land. retries stays unbounded as kafkajs sets it for idempotent producers.
        retry: { retries: Number.MAX_SAFE_INTEGER, initialRetryTime: 20 },
      });
      // connect() runs initProducerId: fences any earlier owner of this partition and aborts its open txn.
      p = producer.connect().then(() => producer);
      p.catch(() => this.producers.delete(key));
      this.producers.set(key, p);
    }
    return p;
  }

  /**
   * Drops records whose transaction has already committed. Records this instance committed are known (`next`).
   * Otherwise the group's committed offset decides, read once the partition's producer is initialised
   * (producerFor runs first): its initProducerId waits until the coordinator has finished any transaction
   * this transactional.id left, committing or aborting it. Two cases need that read:
   * - a partition new to this instance (assigned, or taken over from a crashed or stalled owner): the
   *   consumer's own offset fetch ran before the old owner's last commit was finished, so it may start below
   *   records that commit covered;
   * - after a failed transaction: a commit request that timed out may have been applied.
   */
  private async notYetCommitted(
    topic: string,
    partition: number,
    all: KafkaMessage[],
  ): Promise<KafkaMessage[]> {
    const key = `${topic}-${partition}`;
    const done = this.next.get(key);
    if (done !== undefined && !this.uncertain.has(key)) return all.filter((m) => BigInt(m.offset) >= done);
    const committed = await this.stableOffset(topic, partition);
    this.uncertain.delete(key);
    const from = done !== undefined && done > committed ? done : committed;
    this.next.set(key, from); // what is below it is committed: later chunks need no read
    const rest = all.filter((m) => BigInt(m.offset) >= from);
    if (rest.length < all.length) {
      this.log.warn(
        { topic, partition, committed: String(committed), skipped: all.length - rest.length },
        'records below the committed offset are not processed again',
      );
    }
    return rest;
  }

  /**
   * The group's committed offset for the partition, asked with KIP-447's require_stable (OffsetFetch v7, added
   * to kafkajs by our patch). The transaction coordinator calls a transaction done when its markers are
   * written, but the group coordinator moves the offsets out of "pending" asynchronously; a plain read in that
   * window returns the offset from before a commit that did happen, and the chunk would be processed twice
   * (the likeliest cause of 12 duplicated events in one CI run of the three-broker chaos test, when reads
   * were plain). With require_stable the coordinator answers UNSTABLE_OFFSET_COMMIT until it has, and we ask
   * again.
   */
  private async stableOffset(topic: string, partition: number): Promise<bigint> {
    const deadline = this.now() + STABLE_OFFSET_TIMEOUT_MS;
    for (let wait = 20; ; wait = Math.min(wait * 2, 1000)) {
      try {
        return await this.readCommitted(topic, partition);
      } catch (err) {
        if (!isUnstable(err) || this.now() > deadline) throw err;
        await sleep(wait);
      }
    }
  }

  private async readCommitted(topic: string, partition: number): Promise<bigint> {
    if (!this.admin) {
      const fresh = this.opts.kafka.admin();
      this.admin = fresh.connect().then(() => fresh);
    }
    const admin = this.admin;
    try {
      const offsets = await (
        await admin
      ).fetchOffsets({
        groupId: this.opts.groupId,
        topics: [{ topic, partitions: [partition] }],
        requireStable: true,
      });
      return BigInt(offsets[0]?.partitions.find((p) => p.partition === partition)?.offset ?? '-1');
    } catch (err) {
      if (!isUnstable(err)) {
        // A broker that went away may have taken the admin's connection with it: start afresh next time.
        if (this.admin === admin) this.admin = undefined;
        await (await admin.catch(() => undefined))?.disconnect().catch(() => undefined);
      }
      throw err;
    }
  }

  private async serially(key: string, work: () => Promise<void>): Promise<void> {
    const before = this.busy.get(key) ?? Promise.resolve();
    const mine = before.catch(() => undefined).then(work);
    this.busy.set(key, mine);
    try {
      await mine;
    } finally {
      if (this.busy.get(key) === mine) this.busy.delete(key);
    }
  }

  /** Discards the partition's producer; the next attempt builds a new one (see the header comment). */
  private async dropProducer(topic: string, partition: number): Promise<void> {
    const key = `${topic}-${partition}`;
    const p = this.producers.get(key);
    this.producers.delete(key);
    if (!p) return;
    recoveriesCounter(this.opts.metrics).inc({ component: this.opts.groupId, kind: 'producer_rebuilt' });
    await (await p.catch(() => undefined))?.disconnect().catch(() => undefined);
  }

  private async releaseRevoked(assignment: Record<string, number[]>): Promise<void> {
    const keep = new Set(Object.entries(assignment).flatMap(([t, ps]) => ps.map((p) => `${t}-${p}`)));
    for (const key of new Set([...this.producers.keys(), ...this.next.keys()])) {
      if (keep.has(key)) continue;
      this.next.delete(key); // another instance may own it meanwhile; the committed offset rules again
      const p = this.producers.get(key);
      this.producers.delete(key);
      await (await p?.catch(() => undefined))?.disconnect().catch(() => undefined);
    }
  }

  private async processWithRetry(topic: string, partition: number, chunk: KafkaMessage[]): Promise<void> {
    const { retry } = this.opts;
    const policy = typeof retry === 'function' ? retry(topic) : retry;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.processChunk(topic, partition, chunk);
        return;
      } catch (err) {
        this.uncertain.add(`${topic}-${partition}`);
        await this.dropProducer(topic, partition);
        if (isFenced(err)) {
          throw new PipelineError(`producer for ${topic}-${partition} was fenced; another instance owns it`, {
            retriable: true,
            cause: err,
            context: { topic, partition },
          });
        }
        // An outage of the database or registry is the guard's to wait out (pause and probe).
        if (unavailableDependency(err)) throw err;
        if (!isRetriable(err) || attempt >= policy.maxAttempts || this.stopping) throw err;
        const wait = backoffMs(policy, attempt);
        this.log.warn(
          { err, topic, partition, offset: chunk[0]?.offset, attempt, waitMs: wait },
          'transaction aborted; retrying chunk',
        );
        await sleep(wait);
      }
    }
  }

  private async processChunk(topic: string, partition: number, all: KafkaMessage[]): Promise<void> {
    const producer = await this.producerFor(topic, partition);
    const chunk = await this.notYetCommitted(topic, partition, all);
    if (chunk.length === 0) return;
    const inputs = chunk.map((m) => toInput(topic, partition, m));
    const transform = (await this.opts.prepareChunk?.(inputs)) ?? this.opts.transform;
    const stopTimer = this.txnSeconds.startTimer({ component: this.opts.groupId });
    const txn = await producer.transaction();
    const maxPerSend = this.opts.maxRecordsPerSend ?? 500;
    let pending: OutputRecord[] = [];
    let outputs = 0;
    let deadLettered = 0;
    try {
      for (const input of inputs) {
        let out: OutputRecord[];
        try {
          out = await transform(input);
        } catch (err) {
          if (isRetriable(err)) throw err;
          const dlq = this.opts.dlqFor(topic);
          if (!dlq) throw err;
          this.log.error(
            {
              err,
              topic,
              partition,
              offset: input.offset,
              stage: err instanceof PoisonMessageError ? err.stage : 'transform',
            },
            'dead-lettering record',
          );
          out = [deadLetter(input, dlq, err, this.now())];
          deadLettered++;
        }
        pending.push(...out);
        if (pending.length >= maxPerSend) {
          await txn.sendBatch({ topicMessages: groupByTopic(pending) });
          outputs += pending.length;
          pending = [];
        }
      }
      if (pending.length > 0) {
        await txn.sendBatch({ topicMessages: groupByTopic(pending) });
        outputs += pending.length;
      }
      const last = chunk[chunk.length - 1] as KafkaMessage;
      await txn.sendOffsets({
        consumerGroupId: this.opts.groupId,
        topics: [{ topic, partitions: [{ partition, offset: (BigInt(last.offset) + 1n).toString() }] }],
      });
      await txn.commit();
      stopTimer();
      this.next.set(`${topic}-${partition}`, BigInt(last.offset) + 1n);
      this.opts.onCommitted?.({
        topic,
        partition,
        lastOffset: last.offset,
        inputs: chunk.length,
        outputs,
        deadLettered,
      });
    } catch (err) {
      if (txn.isActive()) await txn.abort().catch((e) => this.log.warn({ err: e }, 'abort failed'));
      throw err;
    }
  }
}
