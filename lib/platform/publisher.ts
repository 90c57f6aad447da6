/**
 * Durable publish for receivers: a caller resolves only once Kafka acknowledged its record with acks=all on
 * an idempotent producer, and is rejected otherwise, which the receivers turn into a 503 so the store
 * retries.
 *
 * Group commit: the idempotent producer allows one request in flight, so records that arrive while a
 * request is in flight are sent together in the next one (up to `maxBatch`). Nothing waits for a batch to
 * fill: an idle publisher sends at once.
 *
 * What a rejection (503) means, exactly:
 * - queue full (`maxQueueRecords` / `maxQueueBytes`): refused at once, never stored. Memory stays flat
 *   through an outage of any length.
 * - timed out while still queued: taken out of the queue, never stored.
 * - timed out or failed while its request was in flight: it may or may not be stored. The store retries;
 *   the copy is harmless because the normalizer emits one event set per notification id.
 *
 * Self-healing: any failed request discards the producer and builds a new one before the next send. A
 * kafkajs idempotent producer that saw a broker restart can otherwise fail every later send with
 * OUT_OF_ORDER_SEQUENCE_NUMBER or UNKNOWN_PRODUCER_ID until the process restarts; a new producer gets a new
 * producer id. While no producer is connected, or a metadata probe fails, `readiness()` says not ready.
 */
import type { Admin, Producer } from 'kafkajs';
import type { Registry } from 'prom-client';
import { Gauge } from 'prom-client';
import { recoveriesCounter, type Readiness } from './consumerGuard';
import { PipelineError, TransientError, errorMessage } from '../core/errors';
import type { Headers } from './kafka';
import type { Logger } from './logger';
import { groupByTopic } from './records';

interface RawRecord {
  topic: string;
  key: string;
  value: Buffer;
  headers: Headers;
}

export type Publish = (record: RawRecord) => Promise<void>;

/** The queue is full: answered at once, the record was not stored. */
export class PublisherFullError extends TransientError {}

export interface PublisherOptions {
  /** Builds a new (unconnected) idempotent producer; called again after every failed request. */
  createProducer: () => Producer;
  /** For the idle metadata probe behind readiness. */
  createAdmin?: () => Admin;
  /** Topic the probe asks metadata for. */
  probeTopic?: string;
  timeoutMs: number;
  maxBatch?: number;
  maxQueueRecords?: number;
  maxQueueBytes?: number;
  probeIntervalMs?: number;
  logger: Logger;
  metrics?: Registry | undefined;
  component?: string;
}

interface Pending {
  record: RawRecord;
  bytes: number;
  done: (err?: unknown) => void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Everything a record needs, checked per record so one bad record can never fail a shared batch. */
function invalidRecord(r: RawRecord): string | undefined {
  if (typeof r.topic !== 'string' || r.topic === '') return 'topic must be a non-empty string';
  if (typeof r.key !== 'string' || r.key === '') return 'key must be a non-empty string';
  if (!Buffer.isBuffer(r.value)) return 'value must be bytes';
  for (const [k, v] of Object.entries(r.headers)) {
    if (typeof v !== 'string') return `header ${k} must be a string`;
  }
  return undefined;
}

function sizeOf(r: RawRecord): number {
  let n = r.value.length + Buffer.byteLength(r.key) + 64;
  for (const [k, v] of Object.entries(r.headers)) n += k.length + v.length;
  return n;
}

export class KafkaPublisher {
  private queue: Pending[] = [];
  private queuedBytes = 0;
  private sending = false;
  private producer: Promise<Producer> | undefined;
  private probeOk = true;
  private probeTimer: NodeJS.Timeout | undefined;
  private admin: Admin | undefined;
  private lastSuccess = 0;
  private stopped = false;
  private readonly queueGauge: Gauge;

  constructor(private readonly opts: PublisherOptions) {
    const registers = opts.metrics ? [opts.metrics] : [];
    this.queueGauge = new Gauge({
      name: 'storeline_publisher_queue_records',
      help: 'Records waiting for their Kafka request',
      registers,
    });
  }

  /** Connects the first producer (start-up fails loudly if Kafka is not there) and starts the probe. */
  async start(): Promise<void> {
    const producer = this.opts.createProducer();
    await producer.connect();
    this.producer = Promise.resolve(producer);
    this.lastSuccess = Date.now();
    this.probeTimer = setInterval(() => void this.probe(), this.opts.probeIntervalMs ?? 5000);
    this.probeTimer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.probeTimer);
    // Requests still waiting are answered now (503: not stored) rather than at their deadline.
    for (const p of this.queue.splice(0)) p.done(new TransientError('publisher stopped'));
    this.queuedBytes = 0;
    await this.admin?.disconnect().catch(() => undefined);
    const p = this.producer;
    this.producer = undefined;
    await (await p?.catch(() => undefined))?.disconnect().catch(() => undefined);
  }

  readonly publish: Publish = (record) => {
    const invalid = invalidRecord(record);
    if (invalid)
      return Promise.reject(new PipelineError(`record not publishable: ${invalid}`, { retriable: false }));
    const bytes = sizeOf(record);
    if (
      this.queue.length >= (this.opts.maxQueueRecords ?? 10_000) ||
      this.queuedBytes + bytes > (this.opts.maxQueueBytes ?? 64 * 1024 * 1024)
    ) {
      return Promise.reject(new PublisherFullError(`publish queue for ${record.topic} is full`));
    }
    return new Promise<void>((resolve, reject) => {
      const item: Pending = {
        record,
        bytes,
        done: (err) => {
          clearTimeout(timer);
          if (err === undefined) return resolve();
          reject(
            err instanceof PipelineError
              ? err
              : new TransientError(`publish to ${record.topic} failed: ${errorMessage(err)}`, {
                  cause: err,
                  context: { topic: record.topic },
                }),
          );
        },
      };
      const timer = setTimeout(() => {
        // Still queued: take it out, so this 503 means "not stored". In flight: it may still be stored.
        const at = this.queue.indexOf(item);
        if (at >= 0) {
          this.queue.splice(at, 1);
          this.queuedBytes -= item.bytes;
          this.queueGauge.set(this.queue.length);
        }
        item.done(new TransientError(`publish to ${record.topic} timed out after ${this.opts.timeoutMs} ms`));
      }, this.opts.timeoutMs);
      this.queue.push(item);
      this.queuedBytes += bytes;
      this.queueGauge.set(this.queue.length);
      void this.flush();
    });
  };

  readiness(): Readiness {
    const reasons: string[] = [];
    if (!this.producer) reasons.push('no Kafka producer connected (rebuilding)');
    if (!this.probeOk) reasons.push('Kafka metadata probe failed');
    if (this.queue.length >= (this.opts.maxQueueRecords ?? 10_000)) reasons.push('publish queue is full');
    return { ready: reasons.length === 0, reasons };
  }

  private async flush(): Promise<void> {
    if (this.sending || this.queue.length === 0 || this.stopped) return;
    this.sending = true;
    let batch: Pending[] = [];
    try {
      // Records stay queued (and time out as "not stored") while no producer is connected.
      const producer = await this.currentProducer();
      batch = this.queue.splice(0, this.opts.maxBatch ?? 500);
      for (const p of batch) this.queuedBytes -= p.bytes;
      this.queueGauge.set(this.queue.length);
      if (batch.length === 0) return;
      await producer.sendBatch({
        acks: -1,
        timeout: this.opts.timeoutMs,
        topicMessages: groupByTopic(batch.map((p) => p.record)),
      });
      this.lastSuccess = Date.now();
      for (const p of batch) p.done();
    } catch (err) {
      for (const p of batch) p.done(err);
      this.rebuild(err);
    } finally {
      this.sending = false;
      void this.flush();
    }
  }

  /** The producer to send with; waits (bounded by the callers' own timeouts) while one is being built. */
  private async currentProducer(): Promise<Producer> {
    if (!this.producer) this.producer = this.connectWithRetry();
    return this.producer;
  }

  private rebuild(err: unknown): void {
    const old = this.producer;
    this.producer = undefined;
    this.opts.logger.warn({ err: errorMessage(err) }, 'Kafka request failed; rebuilding the producer');
    recoveriesCounter(this.opts.metrics).inc({
      component: this.opts.component ?? 'publisher',
      kind: 'producer_rebuilt',
    });
    void old?.then((p) => p.disconnect()).catch(() => undefined);
  }

  private async connectWithRetry(): Promise<Producer> {
    let wait = 200;
    for (;;) {
      const producer = this.opts.createProducer();
      try {
        await producer.connect();
        return producer;
      } catch (err) {
        await producer.disconnect().catch(() => undefined);
        if (this.stopped) throw err;
        this.opts.logger.debug({ err: errorMessage(err), waitMs: wait }, 'producer connect failed; retrying');
        await sleep(wait);
        wait = Math.min(wait * 2, 5000);
      }
    }
  }

  /** When idle, asks the cluster for metadata so readiness notices a lost broker without traffic. */
  private async probe(): Promise<void> {
    if (!this.opts.createAdmin || Date.now() - this.lastSuccess < (this.opts.probeIntervalMs ?? 5000)) {
      this.probeOk = true;
      return;
    }
    try {
      if (!this.admin) {
        const admin = this.opts.createAdmin();
        await admin.connect();
        this.admin = admin;
      }
      await this.admin.fetchTopicMetadata(
        this.opts.probeTopic ? { topics: [this.opts.probeTopic] } : undefined,
      );
      this.probeOk = true;
      if (!this.producer) void this.currentProducer().catch(() => undefined);
    } catch {
      this.probeOk = false;
      await this.admin?.disconnect().catch(() => undefined);
      this.admin = undefined;
    }
  }
}
