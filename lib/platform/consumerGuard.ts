/**
 * Keeps one kafkajs consumer working without an operator, and says truthfully when it is not.
 *
 * - Crash: kafkajs restarts a consumer itself only after retriable errors; a non-retriable crash (a
 *   transaction state error after a long broker outage, an unexpected exception) leaves it stopped for
 *   good while the process lives on. The guard reconnects and runs it again with exponential backoff.
 * - Dependency outage: a batch that fails because the database or the registry does not answer pauses the
 *   consumer's topics (nothing is resolved, so the batch is fetched again), probes the dependency, and
 *   resumes when it answers. The group membership is kept (kafkajs heartbeats while paused), so an outage
 *   costs no rebalance and no crash loop.
 * - Truth: lag is computed on a timer from the broker's high watermarks and the group's committed offsets,
 *   not only after a processed batch, so a stall shows as growing lag; a partition whose committed offset
 *   has not moved for `stallAfterMs` while records wait behind it makes the consumer not ready.
 * - Last resort: a consumer that has not been in its group for `exitAfterMs` exits the process (70) so a
 *   supervisor starts a fresh one, rather than living on idle.
 */
import type { Admin, Consumer, ConsumerRunConfig, EachBatchPayload, Kafka } from 'kafkajs';
import { Counter, Gauge, type Registry } from 'prom-client';
import { errorMessage, unavailableDependency, type Dependency } from '../core/errors';
import type { Logger } from './logger';
import { sharedMetric } from './metrics';

export interface GuardOptions {
  kafka: Kafka;
  consumer: Consumer;
  groupId: string;
  /** Names this consumer in metrics (normalizer, state, triggers, webhooks). */
  component: string;
  logger: Logger;
  metrics?: Registry | undefined;
  /** How to check that a dependency answers again; a dependency without a probe is not paused for. */
  probes?: Partial<Record<Dependency, () => Promise<unknown>>>;
  lagIntervalMs?: number;
  /**
   * Batching across time: after handling a fetch round's first batch of fewer than `LINGER_BELOW_RECORDS`
   * records, wait this long before kafkajs fetches again, so the next batches carry what arrived meanwhile:
   * one database transaction, produce and offset commit per batch instead of per record or two. An idle
   * consumer does not wait (no batch); a consumer behind (big batches) does not either. 0: off.
   */
  lingerMs?: number;
  stallAfterMs?: number;
  exitAfterMs?: number;
  restartInitialMs?: number;
  restartMaxMs?: number;
  /** For tests: what to do instead of process.exit when the consumer cannot come back. */
  onGiveUp?: (reason: string) => void;
}

/** What a service's deps carry through to its guard. */
export type GuardTuning = Pick<GuardOptions, 'probes' | 'stallAfterMs' | 'exitAfterMs' | 'lingerMs'>;

/** A batch this big means the consumer is behind: no linger then. */
export const LINGER_BELOW_RECORDS = 200;

export interface Readiness {
  ready: boolean;
  reasons: string[];
}

export type BatchHandler = (payload: EachBatchPayload) => Promise<void>;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** prom-client throws on a second registration of a name; several guards may share one registry. */
export function recoveriesCounter(registry: Registry | undefined): Counter<'component' | 'kind'> {
  return sharedMetric(
    registry,
    'storeline_recoveries_total',
    (registers) =>
      new Counter({
        name: 'storeline_recoveries_total',
        help: 'Self-recoveries by component and kind (consumer_restart, producer_rebuilt, dependency_resumed)',
        labelNames: ['component', 'kind'],
        registers,
      }),
  );
}

interface PartitionWatch {
  committed: bigint;
  since: number;
  lag: bigint;
}

export class ConsumerGuard {
  private joined = false;
  private stopping = false;
  private runConfig: ConsumerRunConfig | undefined;
  private subscribed: string[] = [];
  private restarting = false;
  private notJoinedSince = Date.now();
  private readonly paused = new Map<Dependency, string>();
  private readonly watches = new Map<string, PartitionWatch>();
  private admin: Admin | undefined;
  private lagTimer: NodeJS.Timeout | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  private readonly recoveries: Counter<'component' | 'kind'>;
  private readonly lag: Gauge<'topic' | 'partition' | 'group'>;
  private readonly log: Logger;
  /** Fetch responses seen, and the one whose round has lingered (see `lingerMs`). */
  private fetchRound = 0;
  private lingeredRound = -1;

  constructor(private readonly opts: GuardOptions) {
    this.log = opts.logger.child({ component: 'consumer-guard', groupId: opts.groupId });
    this.recoveries = recoveriesCounter(opts.metrics);
    this.lag = sharedMetric(
      opts.metrics,
      'storeline_consumer_group_lag',
      (registers) =>
        new Gauge({
          name: 'storeline_consumer_group_lag',
          help: 'High watermark minus the committed offset, per partition, polled from the broker',
          labelNames: ['group', 'topic', 'partition'],
          registers,
        }),
    );
    const c = opts.consumer;
    c.on(c.events.GROUP_JOIN, () => {
      this.joined = true;
    });
    c.on(c.events.STOP, () => this.left());
    c.on(c.events.FETCH, () => {
      this.fetchRound++;
    });
    c.on(c.events.CRASH, (e) => {
      this.left();
      const { error, restart } = e.payload;
      this.log.error({ err: error, restart }, 'consumer crashed');
      if (restart) this.recoveries.inc({ component: opts.component, kind: 'consumer_restart' });
      else void this.restart();
    });
  }

  /** Connects, subscribes and runs; `run.eachBatch` should come from `wrap`. */
  async start(
    subscribe: { topics: string[]; fromBeginning: boolean },
    run: ConsumerRunConfig,
  ): Promise<void> {
    this.runConfig = run;
    this.subscribed = subscribe.topics;
    await this.opts.consumer.connect();
    await this.opts.consumer.subscribe(subscribe);
    await this.opts.consumer.run(run);
    this.lagTimer = setInterval(() => void this.pollLag(), this.opts.lagIntervalMs ?? 5000);
    this.lagTimer.unref();
    this.watchdog = setInterval(() => this.checkWatchdog(), 1000);
    this.watchdog.unref();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.lagTimer);
    clearInterval(this.watchdog);
    await this.opts.consumer.disconnect();
    await this.admin?.disconnect().catch(() => undefined);
  }

  /**
   * The batch handler to give kafkajs: a dependency outage pauses instead of failing the batch. With
   * `resolve`, a batch handled without error has its last offset resolved (run with eachBatchAutoResolve
   * false, so a paused batch is never resolved by kafkajs behind our back).
   */
  wrap(handler: BatchHandler, opts: { resolve: boolean }): BatchHandler {
    return async (payload) => {
      if (payload.batch.isEmpty()) return;
      try {
        await handler(payload);
      } catch (err) {
        const dep = unavailableDependency(err);
        const probe = dep ? this.opts.probes?.[dep] : undefined;
        if (!dep || !probe) throw err;
        this.pauseFor(dep, probe, errorMessage(err));
        return;
      }
      if (opts.resolve) payload.resolveOffset(payload.batch.lastOffset());
      await payload.heartbeat();
      await this.linger(payload.batch.messages.length);
    };
  }

  /** Once per fetch round, after a small batch: see `lingerMs`. */
  private async linger(records: number): Promise<void> {
    const ms = this.opts.lingerMs ?? 0;
    if (ms <= 0 || records >= LINGER_BELOW_RECORDS || this.stopping) return;
    if (this.lingeredRound === this.fetchRound) return;
    this.lingeredRound = this.fetchRound;
    await sleep(ms);
  }

  async readiness(): Promise<Readiness> {
    const reasons: string[] = [];
    if (!this.joined) reasons.push('consumer is not in its group');
    for (const [dep, why] of this.paused) reasons.push(`paused: ${dep} unavailable (${why})`);
    const stallAfter = this.opts.stallAfterMs ?? 60_000;
    const now = Date.now();
    for (const [tp, w] of this.watches) {
      // One record of lag is the commit marker a transactional producer leaves after the last batch.
      if (w.lag > 1n && now - w.since > stallAfter)
        reasons.push(`stalled: ${tp} at ${w.committed} (lag ${w.lag})`);
    }
    return { ready: reasons.length === 0, reasons };
  }

  private left(): void {
    if (this.joined) this.notJoinedSince = Date.now();
    this.joined = false;
  }

  private async restart(): Promise<void> {
    if (this.restarting || this.stopping || !this.runConfig) return;
    this.restarting = true;
    let wait = this.opts.restartInitialMs ?? 1000;
    try {
      while (!this.stopping) {
        await sleep(wait);
        if (this.stopping) return;
        try {
          await this.opts.consumer.connect();
          await this.opts.consumer.run(this.runConfig);
          this.recoveries.inc({ component: this.opts.component, kind: 'consumer_restart' });
          this.log.warn('consumer restarted after a crash');
          return;
        } catch (err) {
          this.log.warn({ err, waitMs: wait }, 'consumer restart failed; retrying');
          await this.opts.consumer.disconnect().catch(() => undefined);
          wait = Math.min(wait * 2, this.opts.restartMaxMs ?? 30_000);
        }
      }
    } finally {
      this.restarting = false;
    }
  }

  private pauseFor(dep: Dependency, probe: () => Promise<unknown>, why: string): void {
    const topics = this.topics();
    this.opts.consumer.pause(topics.map((topic) => ({ topic })));
    if (this.paused.has(dep)) return;
    this.paused.set(dep, why);
    this.log.error({ dependency: dep, reason: why }, 'dependency unavailable; consumer paused');
    void this.probeUntilBack(dep, probe);
  }

  private async probeUntilBack(dep: Dependency, probe: () => Promise<unknown>): Promise<void> {
    let wait = 250;
    while (!this.stopping) {
      await sleep(wait);
      try {
        await probe();
        break;
      } catch {
        wait = Math.min(wait * 2, 5000);
      }
    }
    this.paused.delete(dep);
    if (this.stopping) return;
    if (this.paused.size === 0) this.opts.consumer.resume(this.topics().map((topic) => ({ topic })));
    this.recoveries.inc({ component: this.opts.component, kind: 'dependency_resumed' });
    this.log.warn({ dependency: dep }, 'dependency answers again; consumer resumed');
  }

  private topics(): string[] {
    return this.subscribed;
  }

  private async pollLag(): Promise<void> {
    try {
      if (!this.admin) {
        const admin = this.opts.kafka.admin();
        await admin.connect();
        this.admin = admin;
      }
      const offsets = await this.admin.fetchOffsets({ groupId: this.opts.groupId, topics: this.subscribed });
      const now = Date.now();
      for (const { topic, partitions } of offsets) {
        const high = new Map(
          (await this.admin.fetchTopicOffsets(topic)).map((p) => [p.partition, BigInt(p.high)] as const),
        );
        for (const p of partitions) {
          const hw = high.get(p.partition) ?? 0n;
          const committed = BigInt(p.offset) < 0n ? 0n : BigInt(p.offset);
          const lag = hw > committed ? hw - committed : 0n;
          this.lag.set({ group: this.opts.groupId, topic, partition: String(p.partition) }, Number(lag));
          const key = `${topic}/${p.partition}`;
          const prev = this.watches.get(key);
          const moved = !prev || prev.committed !== committed || lag <= 1n;
          this.watches.set(key, { committed, lag, since: moved ? now : prev.since });
        }
      }
    } catch (err) {
      // The broker being away is the consumer's problem to report (it leaves its group); keep the last figures.
      this.log.debug({ err }, 'lag poll failed');
      await this.admin?.disconnect().catch(() => undefined);
      this.admin = undefined;
    }
  }

  private checkWatchdog(): void {
    const limit = this.opts.exitAfterMs ?? 300_000;
    if (this.joined || this.stopping || this.paused.size > 0 || Date.now() - this.notJoinedSince < limit)
      return;
    const reason = `consumer of group ${this.opts.groupId} has not been in its group for ${limit} ms`;
    this.stopping = true;
    if (this.opts.onGiveUp) return this.opts.onGiveUp(reason);
    this.log.fatal({ reason }, 'giving up; exiting so a supervisor starts a fresh process');
    process.exit(70);
  }
}
