/**
 * One attempt's outcome, recorded: a delivery failed for good goes to the webhooks DLQ first; then a
 * success joins the next group of successes, written in one statement (the hot path: attempts logged,
 * deliveries completed, endpoints healthy), and a failure is one transaction (attempt logged, delivery
 * rescheduled or completed, endpoint health updated and the endpoint disabled when gone or failing too
 * long). Returns why the endpoint was disabled, if it was.
 */
import type { Producer } from 'kafkajs';
import type { Pool } from 'pg';
import { inTransaction } from '../../platform/db';
import { cutReason, dlqHeaders } from '../../platform/dlq';
import { describe as describeResult, endpointHealth, type Next } from '../../core/webhooks/policy';
import { webhookId } from '../../core/webhooks/signing';
import type { SendResult } from './sender';
import { recordAttempt, recordSuccesses, type AttemptRecord } from './store/attempts';
import { completeDelivery, type ClaimedDelivery } from './store/deliveries';
import { disableEndpoint, markEndpointFailing, type Endpoint } from './store/endpoints';

export interface OutcomeDeps {
  pool: Pool;
  successes: SuccessRecorder;
  producer: Producer;
  dlqTopic: string;
  disableAfterMs: number;
  onDeadLettered: (outcome: string) => void;
}

export interface Attempted {
  endpoint: Pick<Endpoint, 'id'>;
  delivery: ClaimedDelivery;
  sent: SendResult;
  next: Next;
  startedAt: number;
  /** When the attempt ended. */
  at: number;
}

export type Disabled = 'gone' | 'failing' | undefined;

export async function recordOutcome(deps: OutcomeDeps, a: Attempted): Promise<Disabled> {
  const { next } = a;
  if (next.delivery === 'failed') await deadLetter(deps, a, next);
  if (next.delivery !== 'succeeded') return recordFailure(deps, a, next);
  await deps.successes.record(
    {
      deliveryId: a.delivery.id,
      attempt: a.delivery.attempt,
      at: a.startedAt,
      latencyMs: a.sent.latencyMs,
      statusCode: statusOf(a.sent),
      outcome: 'success',
      error: null,
      response: a.sent.responseExcerpt ?? null,
    },
    a.endpoint.id,
  );
  return undefined;
}

/** Most successes one statement records. */
const MAX_GROUP = 500;

/**
 * Group commit of successes: one statement in flight at a time, and the successes that end meanwhile are
 * written together by the next one, so the number of statements follows the database's pace, not the
 * delivery rate; an idle recorder writes at once. Each caller resolves once its own success is stored
 * (until then its delivery keeps its lease, so a crash before that means one more attempt, never none).
 */
export class SuccessRecorder {
  private queue: { attempt: AttemptRecord; endpointId: string; done: (err?: unknown) => void }[] = [];
  private writing = false;

  constructor(private readonly pool: Pool) {}

  record(attempt: AttemptRecord, endpointId: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ attempt, endpointId, done: (err) => (err === undefined ? resolve() : reject(err)) });
      this.write();
    });
  }

  private write(): void {
    if (this.writing || this.queue.length === 0) return;
    this.writing = true;
    const group = this.queue.splice(0, MAX_GROUP);
    recordSuccesses(this.pool, group)
      .then(
        () => group.forEach((s) => s.done()),
        (err: unknown) => group.forEach((s) => s.done(err ?? new Error('recording successes failed'))),
      )
      .finally(() => {
        this.writing = false;
        this.write();
      });
  }
}

const statusOf = (sent: SendResult): number | null =>
  sent.result.kind === 'response' ? sent.result.status : null;

function recordFailure(
  deps: OutcomeDeps,
  { endpoint, delivery: d, sent, startedAt, at }: Attempted,
  next: Exclude<Next, { delivery: 'succeeded' }>,
): Promise<Disabled> {
  return inTransaction(deps.pool, async (c) => {
    await recordAttempt(c, {
      deliveryId: d.id,
      attempt: d.attempt,
      at: startedAt,
      latencyMs: sent.latencyMs,
      statusCode: statusOf(sent),
      outcome: next.outcome,
      error: next.delivery === 'failed' ? next.reason : describeResult(sent.result),
      response: sent.responseExcerpt ?? null,
    });
    await completeDelivery(
      c,
      d.id,
      next.delivery === 'retry'
        ? { status: 'pending', nextAttemptAt: next.at }
        : { status: next.delivery, at },
      { statusCode: statusOf(sent), error: describeResult(sent.result) },
    );
    if (next.outcome === 'gone') {
      return (await disableEndpoint(c, endpoint.id, 'gone: answered 410', at)) ? 'gone' : undefined;
    }
    const state = await markEndpointFailing(c, endpoint.id, at);
    if (!state?.enabled) return undefined;
    const health = endpointHealth(state.failingSince, false, at, deps.disableAfterMs);
    if (!health.disable) return undefined;
    const reason = `failing: no successful delivery since ${new Date(state.failingSince).toISOString()}`;
    return (await disableEndpoint(c, endpoint.id, reason, at)) ? 'failing' : undefined;
  });
}

async function deadLetter(
  deps: OutcomeDeps,
  { endpoint, delivery: d, sent }: Attempted,
  next: Extract<Next, { delivery: 'failed' }>,
): Promise<void> {
  const own = {
    'webhook-id': webhookId(d.messageId),
    'webhook-type': d.type,
    'endpoint-id': endpoint.id,
    'delivery-id': d.id,
    attempts: String(d.attempt),
    outcome: next.outcome,
    ...(sent.result.kind === 'response' ? { 'last-status': String(sent.result.status) } : {}),
  };
  const cause = {
    stage: 'webhook-delivery',
    reason: cutReason(next.reason),
    retriable: false,
    firstSeen: new Date(d.createdAt).toISOString(),
  };
  await deps.producer.send({
    topic: deps.dlqTopic,
    acks: -1,
    messages: [{ key: d.subscriptionKey, value: d.body, headers: dlqHeaders(own, cause) }],
  });
  deps.onDeadLettered(next.outcome);
}
