/**
 * The fan-out's dispatcher: claims due deliveries per endpoint, up to the endpoint's concurrency and the
 * process's limit, attempts them over HTTP with Standard Webhooks signatures, and records each outcome
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
import type { FanoutMetrics } from './metrics';
import { recordOutcome, type Disabled, type OutcomeDeps } from './outcome';
import type { SendResult, WebhookSender } from './sender';
import { claim, type ClaimedDelivery } from './store/deliveries';
import { endpointsWithDueWork, signingSecrets, type Endpoint } from './store/endpoints';

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
}

/** Attempts in flight are counted per endpoint and in total; the counts bound each dispatch round. */
export class Dispatcher {
  private readonly m: FanoutMetrics;
  private readonly outcomes: OutcomeDeps;
  private readonly inFlight = new Map<string, number>();
  private readonly attempts = new Set<Promise<void>>();
  private total = 0;
  private stopped = false;
  private ticking = false;
  private again = false;
  private poll: NodeJS.Timeout | undefined;

  constructor(private readonly deps: DispatcherDeps) {
    this.m = deps.metrics;
    this.outcomes = {
      pool: deps.pool,
      producer: deps.producer,
      dlqTopic: deps.dlqTopic,
      disableAfterMs: deps.disableAfterMs,
      onDeadLettered: (outcome) => this.m.dlq.inc({ outcome }),
    };
  }

  /** Runs a dispatch round now, or right after the current one. Bound: it is passed around as a callback. */
  readonly wake = (): void => {
    if (this.stopped) return;
    if (this.ticking) {
      this.again = true;
      return;
    }
    this.ticking = true;
    this.dispatch()
      .catch((err) => this.deps.logger.error({ err }, 'dispatch round failed; retrying on the next tick'))
      .finally(() => {
        this.ticking = false;
        if (this.again) {
          this.again = false;
          setImmediate(this.wake);
        }
      });
  };

  /** Polls for due work (retries come due without a new record to wake the dispatcher). */
  startPolling(): void {
    this.poll = setInterval(this.wake, this.deps.pollIntervalMs);
    this.wake();
  }

  /** No new rounds or attempts from now on. */
  halt(): void {
    this.stopped = true;
    clearInterval(this.poll);
  }

  /** Waits for attempts in flight, at most `graceMs`; any left keep their lease. */
  async drain(graceMs: number): Promise<void> {
    const grace = new Promise((r) => setTimeout(r, graceMs).unref());
    await Promise.race([Promise.allSettled([...this.attempts]), grace]);
  }

  private async dispatch(): Promise<void> {
    const { deps } = this;
    const at = deps.now();
    for (const endpoint of await endpointsWithDueWork(deps.pool, at)) {
      if (this.stopped) return;
      const free = Math.min(
        endpoint.maxConcurrency - (this.inFlight.get(endpoint.id) ?? 0),
        deps.maxInFlight - this.total,
      );
      if (free <= 0) continue;
      const claimed = await claim(
        deps.pool,
        endpoint.id,
        at,
        free,
        at + endpoint.timeoutMs + deps.leaseMarginMs,
      );
      for (const d of claimed) this.start(endpoint, d);
    }
  }

  private start(endpoint: Endpoint, d: ClaimedDelivery): void {
    this.count(endpoint.id, +1);
    const p = this.attempt(endpoint, d)
      .catch((err) =>
        // The lease stays: the delivery is attempted again when it runs out. Nothing is lost.
        this.deps.logger.error(
          { err, endpointId: endpoint.id, deliveryId: d.id },
          'recording an attempt failed',
        ),
      )
      .finally(() => {
        this.count(endpoint.id, -1);
        this.attempts.delete(p);
        this.wake();
      });
    this.attempts.add(p);
  }

  private count(endpointId: string, delta: 1 | -1): void {
    this.inFlight.set(endpointId, (this.inFlight.get(endpointId) ?? (delta > 0 ? 0 : 1)) + delta);
    this.total += delta;
    this.m.inFlight.set(this.total);
  }

  private async attempt(endpoint: Endpoint, d: ClaimedDelivery): Promise<void> {
    const { deps } = this;
    const startedAt = deps.now();
    const id = webhookId(d.messageId);
    const timestamp = Math.floor(startedAt / 1000);
    const headers = {
      'webhook-id': id,
      'webhook-timestamp': String(timestamp),
      'webhook-signature': signatureHeader(signingSecrets(endpoint, startedAt), id, timestamp, d.body),
    };
    const sent = await deps.sender.send(endpoint.url, d.body, headers, endpoint.timeoutMs);
    const at = deps.now();
    const next = nextStep(sent.result, d.attempt, deps.policy, at, deps.random);
    const disabled = await recordOutcome(this.outcomes, { endpoint, delivery: d, sent, next, startedAt, at });
    this.report(endpoint, d, sent, next, at, disabled);
  }

  /** Metrics and the log line of one recorded attempt. */
  private report(
    endpoint: Endpoint,
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
