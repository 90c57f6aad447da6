/**
 * The fan-out's dispatcher: claims due deliveries of all endpoints in one statement per round, each
 * endpoint up to its adaptive concurrency (core/webhooks/concurrency.ts, capped by its maxConcurrency) and
 * the process's limit, attempts them over HTTP with Standard Webhooks signatures, and records each outcome
 * (outcome.ts: the pure policy decides retry, completion, dead letter or disabling).
 */
import type { Producer } from 'kafkajs';
import type { Pool } from 'pg';
import type { Logger } from '../../platform/logger';
import {
  describe as describeResult,
  nextStep,
  type Next,
  type RetryPolicy,
} from '../../core/webhooks/policy';
import { signatureHeader, webhookId } from '../../core/webhooks/signing';
import {
  allowance,
  DEFAULT_CONCURRENCY,
  newLimiter,
  observe,
  signalOf,
  type ConcurrencyTuning,
  type Limiter,
} from '../../core/webhooks/concurrency';
import type { FanoutMetrics } from './metrics';
import { recordOutcome, SuccessRecorder, type Disabled, type OutcomeDeps } from './outcome';
import type { SendResult, WebhookSender } from './sender';
import { claimDue, type ClaimedDelivery, type Target } from './store/deliveries';
import { signingSecrets } from './store/endpoints';

export interface DispatcherDeps {
  pool: Pool;
  producer: Producer;
  dlqTopic: string;
  sender: WebhookSender;
  logger: Logger;
  policy: RetryPolicy;
  disableAfterMs: number;
  maxInFlight: number;
  leaseMarginMs: number;
  pollIntervalMs: number;
  metrics: FanoutMetrics;
  now: () => number;
  random?: (() => number) | undefined;
  /** Per-endpoint adaptive concurrency (core/webhooks/concurrency.ts); defaults: DEFAULT_CONCURRENCY. */
  concurrency?: ConcurrencyTuning | undefined;
  /** A round asked for by ending attempts waits this long, so the attempts ending meanwhile share it. */
  coalesceMs?: number | undefined;
}

/** Default of `coalesceMs`: at most ~200 rounds/s from ending attempts, whatever the delivery rate. */
const COALESCE_MS = 5;
/** A limiter unused this long is forgotten (the endpoint starts again from the initial limit). */
const FORGET_AFTER_MS = 10 * 60_000;

interface EndpointState {
  limiter: Limiter;
  /** The endpoint's max_concurrency, as last claimed. */
  ceiling: number;
  inFlight: number;
  /** The last round got all it asked for this endpoint: it may have more due work. */
  backlog: boolean;
  seenAt: number;
}

/**
 * Dispatch rounds claim due deliveries of every endpoint in one statement, each endpoint up to its free
 * slots under its adaptive limit, the process up to maxInFlight. A round runs when deliveries are created
 * (wake), on the poll interval (retries coming due), and shortly after attempts end while an endpoint (or
 * the process) was left with due work; attempts ending close together share one round.
 */
export class Dispatcher {
  private readonly m: FanoutMetrics;
  private readonly outcomes: OutcomeDeps;
  private readonly tuning: ConcurrencyTuning;
  private readonly states = new Map<string, EndpointState>();
  private readonly attempts = new Set<Promise<void>>();
  private total = 0;
  /** The last round filled the process's free slots: it may have left due work behind. */
  private saturated = false;
  private stopped = false;
  private ticking = false;
  private queued: 'now' | 'soon' | undefined;
  private timer: NodeJS.Timeout | undefined;
  private poll: NodeJS.Timeout | undefined;

  constructor(private readonly deps: DispatcherDeps) {
    this.m = deps.metrics;
    this.tuning = deps.concurrency ?? DEFAULT_CONCURRENCY;
    this.outcomes = {
      pool: deps.pool,
      successes: new SuccessRecorder(deps.pool),
      producer: deps.producer,
      dlqTopic: deps.dlqTopic,
      disableAfterMs: deps.disableAfterMs,
      onDeadLettered: (outcome) => this.m.dlq.inc({ outcome }),
    };
  }

  /** Runs a dispatch round now, or right after the current one. Bound: it is passed around as a callback. */
  readonly wake = (): void => this.request('now');

  /** Polls for due work (retries come due without a new record to wake the dispatcher). */
  startPolling(): void {
    this.poll = setInterval(this.wake, this.deps.pollIntervalMs);
    this.wake();
  }

  /** No new rounds or attempts from now on. */
  halt(): void {
    this.stopped = true;
    clearInterval(this.poll);
    clearTimeout(this.timer);
  }

  /** Waits for attempts in flight, at most `graceMs`; any left keep their lease. */
  async drain(graceMs: number): Promise<void> {
    const grace = new Promise((r) => setTimeout(r, graceMs).unref());
    await Promise.race([Promise.allSettled([...this.attempts]), grace]);
  }

  /** 'now': as soon as no round runs; 'soon': within coalesceMs, sharing the round with others asking. */
  private request(when: 'now' | 'soon'): void {
    if (this.stopped) return;
    if (this.ticking) {
      if (this.queued !== 'now') this.queued = when;
      return;
    }
    if (when === 'now') this.run();
    else this.timer ??= setTimeout(this.run, this.deps.coalesceMs ?? COALESCE_MS);
  }

  private readonly run = (): void => {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.stopped) return;
    this.ticking = true;
    this.dispatch()
      .catch((err) => this.deps.logger.error({ err }, 'dispatch round failed; retrying on the next tick'))
      .finally(() => {
        this.ticking = false;
        const queued = this.queued;
        this.queued = undefined;
        if (queued === 'now') setImmediate(this.wake);
        else if (queued === 'soon') this.request('soon');
      });
  };

  private async dispatch(): Promise<void> {
    const { deps } = this;
    const at = deps.now();
    this.m.rounds.inc();
    const budget = deps.maxInFlight - this.total;
    this.saturated = budget <= 0;
    if (this.saturated) return;
    const free = new Map<string, number>();
    for (const [id, s] of this.states) {
      if (s.inFlight === 0 && at - s.seenAt > FORGET_AFTER_MS) {
        this.states.delete(id);
        this.m.concurrency.remove({ endpoint: id });
      } else free.set(id, Math.max(0, allowance(s.limiter, s.ceiling) - s.inFlight));
    }
    const claimed = await claimDue(deps.pool, {
      now: at,
      free,
      otherwise: this.tuning.initial,
      total: budget,
      leaseMarginMs: deps.leaseMarginMs,
    });
    this.saturated = claimed.length >= budget;
    const got = new Map<string, number>();
    for (const d of claimed) got.set(d.endpointId, (got.get(d.endpointId) ?? 0) + 1);
    for (const [id, asked] of free) {
      const s = this.states.get(id);
      if (s) s.backlog = (got.get(id) ?? 0) >= asked;
    }
    for (const d of claimed) this.start(this.stateOf(d.endpoint, at, got.get(d.endpointId) ?? 0), d);
  }

  /** The endpoint's state, created with the initial limit when it is new; its ceiling as just claimed. */
  private stateOf(t: Target, at: number, got: number): EndpointState {
    let s = this.states.get(t.id);
    if (!s) {
      const limiter = newLimiter(t.maxConcurrency, this.tuning);
      s = {
        limiter,
        ceiling: t.maxConcurrency,
        inFlight: 0,
        backlog: got >= allowance(limiter, t.maxConcurrency),
        seenAt: at,
      };
      this.states.set(t.id, s);
    }
    s.ceiling = t.maxConcurrency;
    s.seenAt = at;
    return s;
  }

  private start(s: EndpointState, d: ClaimedDelivery): void {
    s.inFlight += 1;
    this.total += 1;
    this.m.inFlight.set(this.total);
    let released = false;
    // The endpoint's slot is free once it has answered; the process's once the outcome is recorded.
    const release = (sent?: SendResult, startedAt?: number) => {
      if (released) return;
      released = true;
      if (sent && startedAt !== undefined) this.adapt(s, d.endpointId, sent, startedAt);
      s.inFlight -= 1;
      if (s.backlog) this.request('soon');
    };
    const p = this.attempt(d, release)
      .catch((err) =>
        // The lease stays: the delivery is attempted again when it runs out. Nothing is lost.
        this.deps.logger.error(
          { err, endpointId: d.endpointId, deliveryId: d.id },
          'recording an attempt failed',
        ),
      )
      .finally(() => {
        release();
        this.total -= 1;
        this.m.inFlight.set(this.total);
        this.attempts.delete(p);
        if (this.saturated) this.request('soon');
      });
    this.attempts.add(p);
  }

  /** The endpoint's limit after one of its attempts ended. */
  private adapt(s: EndpointState, endpointId: string, sent: SendResult, startedAt: number): void {
    const observation = {
      signal: signalOf(sent.result),
      latencyMs: sent.latencyMs,
      startedAt,
      at: startedAt + sent.latencyMs,
      inFlight: s.inFlight,
    };
    s.limiter = observe(s.limiter, observation, s.ceiling, this.tuning);
    this.m.concurrency.set({ endpoint: endpointId }, allowance(s.limiter, s.ceiling));
  }

  private async attempt(
    d: ClaimedDelivery,
    answered: (sent: SendResult, startedAt: number) => void,
  ): Promise<void> {
    const { deps } = this;
    const { endpoint } = d;
    const startedAt = deps.now();
    const id = webhookId(d.messageId);
    const timestamp = Math.floor(startedAt / 1000);
    const headers = {
      'webhook-id': id,
      'webhook-timestamp': String(timestamp),
      'webhook-signature': signatureHeader(signingSecrets(endpoint, startedAt), id, timestamp, d.body),
    };
    const sent = await deps.sender.send(endpoint.url, d.body, headers, endpoint.timeoutMs);
    answered(sent, startedAt);
    const at = deps.now();
    const next = nextStep(sent.result, d.attempt, deps.policy, at, deps.random);
    const disabled = await recordOutcome(this.outcomes, { endpoint, delivery: d, sent, next, startedAt, at });
    this.report(endpoint, d, sent, next, at, disabled);
  }

  /** Metrics and the log line of one recorded attempt. */
  private report(
    endpoint: Target,
    d: ClaimedDelivery,
    sent: SendResult,
    next: Next,
    at: number,
    disabled: Disabled,
  ): void {
    const { m, deps } = this;
    m.attempts.inc({ outcome: next.outcome });
    m.latency.observe({ outcome: next.outcome }, sent.latencyMs / 1000);
    const log = {
      endpointId: endpoint.id,
      deliveryId: d.id,
      webhookId: webhookId(d.messageId),
      type: d.type,
      attempt: d.attempt,
    };
    if (next.delivery === 'succeeded') {
      m.deliveryLag.observe((at - d.createdAt) / 1000);
      deps.logger.info({ ...log, latencyMs: sent.latencyMs }, 'webhook delivered');
    } else {
      deps.logger.warn(
        {
          ...log,
          outcome: next.outcome,
          result: describeResult(sent.result),
          ...(next.delivery === 'retry' ? { nextAttemptAt: new Date(next.at).toISOString() } : {}),
        },
        next.delivery === 'retry' ? 'webhook attempt failed; will retry' : 'webhook delivery failed for good',
      );
    }
    if (disabled) {
      m.disabled.inc({ reason: disabled });
      deps.logger.warn({ endpointId: endpoint.id, reason: disabled }, 'endpoint disabled');
    }
  }
}
