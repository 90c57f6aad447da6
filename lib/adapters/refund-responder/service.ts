/**
 * refund-responder: answers Apple's refund requests (CONSUMPTION_REQUEST → canonical REFUND_REQUESTED)
 * with Send Consumption Information before Apple's 12-hour deadline.
 *
 * The consumer (its own group on the canonical topic) writes each App Store REFUND_REQUESTED to PostgreSQL
 * keyed by its eventId, in the batch, before kafkajs commits the offsets: a re-delivered record inserts
 * nothing, so it is never answered twice. A worker claims due requests with a lease, reads the
 * customer's history, asks the app's hook when one is configured, builds the body (pure, in
 * lib/core/app-store/consumption.ts) and makes ONE attempt; every attempt and the resulting status are
 * recorded, and retriable failures are scheduled again until the deadline. Delivery to Apple is
 * at-least-once only across a crash between Apple's 202 and the database write (the lease expires and the
 * same body is sent again); Apple keeps the latest consumption information for a transaction.
 */
import type { Kafka, Producer } from 'kafkajs';
import type { Pool } from 'pg';
import { Counter, type Registry } from 'prom-client';
import type { AvroCodec } from '../../platform/avro';
import { CanonicalConsumer, type CanonicalBatch } from '../../platform/canonicalConsumer';
import type { GuardTuning } from '../../platform/consumerGuard';
import { inTransaction } from '../../platform/db';
import type { Logger } from '../../platform/logger';
import type { SubscriptionEvent } from '../../core/generated/avro';
import type { TopicNames } from '../../core/topics';
import { errorMessage } from '../../core/errors';
import {
  afterAttempt,
  buildConsumption,
  consumptionPath,
  responseDeadline,
  summarizeHistory,
  type AppAnswer,
  type Backoff,
  type NextStep,
  type ResponderPolicy,
} from '../../core/app-store/consumption';
import { AppStoreApiError } from '../app-store/serverApi';
import { loadCustomerHistory } from './history';
import { askApp, HookError, type HookOptions } from './hook';
import { claimDue, insertRequests, recordStep, type DueRequest, type NewRequest, type Update } from './store';

export interface RefundResponderDeps {
  kafka: Kafka;
  pool: Pool;
  producer: Producer;
  eventCodec: AvroCodec<SubscriptionEvent>;
  names: TopicNames;
  groupId: string;
  logger: Logger;
  metrics?: Registry;
  /** Which Apple environment the credentials are for; requests of the other are recorded as skipped. */
  environment: 'PRODUCTION' | 'SANDBOX';
  /** Sends one Send Consumption Information request (no retries of its own). */
  send: (path: string, body: object) => Promise<void>;
  hook: HookOptions | undefined;
  policy: ResponderPolicy;
  usdPerUnit: Record<string, number>;
  stateSchema: string;
  backoff: Backoff;
  pollIntervalMs: number;
  leaseMs?: number;
  now?: () => number;
  sessionTimeoutMs?: number;
  guard?: GuardTuning;
}

export function createRefundResponder(deps: RefundResponderDeps) {
  const now = deps.now ?? Date.now;
  const registers = deps.metrics ? [deps.metrics] : [];
  const outcomes = new Counter({
    name: 'storeline_refund_responder_requests_total',
    help: 'Refund requests by final outcome (sent, refused, expired, not_consented, skipped)',
    labelNames: ['outcome'],
    registers,
  });
  const attempts = new Counter({
    name: 'storeline_refund_responder_attempts_total',
    help: 'Attempts by target (apple, hook) and result (ok, retry, failed)',
    labelNames: ['target', 'result'],
    registers,
  });
  const dlqTopic = deps.names.dlqOf('subscriptionEvents') as string;

  async function ingest(batch: CanonicalBatch): Promise<void> {
    const { events } = await batch.decode(deps.eventCodec, dlqTopic);
    const at = now();
    const rows = events
      .filter((e) => e.type === 'REFUND_REQUESTED' && e.store === 'APP_STORE')
      .map((e) => intake(e, at));
    if (rows.length === 0) return;
    const fresh = await inTransaction(deps.pool, (c) => insertRequests(c, rows, at));
    for (const status of fresh) if (status !== 'pending') outcomes.inc({ outcome: status });
    if (fresh.length) kick();
  }

  function intake(e: SubscriptionEvent, at: number): NewRequest {
    const deadlineAt = responseDeadline(e.occurredAt);
    const skip = (outcome: string): NewRequest => ({ event: e, deadlineAt, status: 'skipped', outcome });
    if (!e.transactionId) return skip('the event has no transactionId');
    if (e.environment !== deps.environment)
      return skip(`environment ${e.environment}: this responder's credentials are for ${deps.environment}`);
    if (at >= deadlineAt)
      return { event: e, deadlineAt, status: 'expired', outcome: 'arrived after the deadline' };
    return { event: e, deadlineAt, status: 'pending', outcome: null };
  }

  /** One due request: context, consent, at most one attempt, the outcome recorded. */
  async function work(req: DueRequest): Promise<void> {
    const at = now();
    if (at >= req.deadlineAt)
      return finish(req, undefined, { status: 'expired', outcome: 'the deadline passed' });
    const e = req.event;
    const { events, stateAvailable } = await loadCustomerHistory(deps.pool, deps.stateSchema, e);
    const history = summarizeHistory(events, deps.usdPerUnit);
    let answer: AppAnswer | undefined;
    if (deps.hook) {
      try {
        answer = await askApp(deps.hook, e, req.deadlineAt);
      } catch (err) {
        const status = err instanceof HookError ? err.status : undefined;
        const step = afterAttempt(
          { status: undefined },
          req.attempts + 1,
          now(),
          req.deadlineAt,
          deps.backoff,
        );
        const attempt = { target: 'hook' as const, at, httpStatus: status, error: errorMessage(err) };
        return finish(req, attempt, scheduled(step, `app hook: ${errorMessage(err)}`));
      }
    }
    const facts = {
      transactionId: e.transactionId as string,
      appAccountToken: e.appUserId,
      requestedAt: e.occurredAt,
      autoRenewable: e.expiresAt !== null && e.expiresAt !== undefined,
    };
    const context = {
      history: { ...history, stateAvailable, events: events.length },
      answer: answer ?? null,
    };
    const out = buildConsumption(facts, history, answer, deps.policy);
    if (out.kind === 'not-consented')
      return finish(req, undefined, { status: 'not_consented', context, outcome: out.reason });
    await attemptApple(req, out.version, out.body, { ...context, notes: out.notes });
  }

  async function attemptApple(
    req: DueRequest,
    version: 'v1' | 'v2',
    body: object,
    context: object,
  ): Promise<void> {
    const at = now();
    let status: number | undefined = 202;
    let retryAfter: string | null = null;
    let error: string | undefined;
    try {
      await deps.send(consumptionPath(version, req.event.transactionId as string), body);
    } catch (err) {
      if (!(err instanceof AppStoreApiError)) throw err;
      status = err.status;
      retryAfter = err.retryAfter;
      error = err.message;
    }
    const step = afterAttempt({ status, retryAfter }, req.attempts + 1, now(), req.deadlineAt, deps.backoff);
    const base = { apiVersion: version, body, context };
    const update: Update =
      step.kind === 'sent'
        ? { ...base, status: 'sent', outcome: `Apple answered HTTP ${status}` }
        : step.kind === 'refused'
          ? { ...base, status: 'refused', outcome: `refused by Apple: ${error}` }
          : { ...base, ...scheduled(step, `Apple: ${error}`) };
    await finish(req, { target: 'apple', at, httpStatus: status, error }, update);
  }

  function scheduled(step: NextStep, failure: string): Update {
    if (step.kind === 'retry') return { status: 'pending', nextAttemptAt: step.at, outcome: failure };
    return { status: 'expired', outcome: `${failure}; ${step.kind === 'expired' ? step.reason : step.kind}` };
  }

  async function finish(
    req: DueRequest,
    attempt: Parameters<typeof recordStep>[2],
    u: Update,
  ): Promise<void> {
    await recordStep(deps.pool, req, attempt, u, now());
    if (attempt) {
      const result = u.status === 'sent' ? 'ok' : u.status === 'pending' ? 'retry' : 'failed';
      attempts.inc({ target: attempt.target, result });
    }
    if (u.status !== 'pending') outcomes.inc({ outcome: u.status });
    deps.logger.info(
      { eventId: req.eventId, transactionId: req.event.transactionId, status: u.status, outcome: u.outcome },
      'refund request step',
    );
  }

  async function workDue(): Promise<number> {
    const due = await claimDue(deps.pool, now(), deps.leaseMs ?? 120_000, 20);
    for (const req of due) {
      try {
        await work(req);
      } catch (err) {
        // The lease expires and the request is claimed again; nothing was recorded for this try.
        deps.logger.error(
          { eventId: req.eventId, err: errorMessage(err) },
          'refund request failed; retried after its lease',
        );
      }
    }
    return due.length;
  }

  let timer: NodeJS.Timeout | undefined;
  let working: Promise<void> = Promise.resolve();
  let stopped = false;
  let busy = false;
  let again = false;

  function loop(): void {
    if (stopped) return;
    clearTimeout(timer);
    busy = true;
    working = workDue()
      .catch((err) =>
        deps.logger.error({ err: errorMessage(err) }, 'claiming due refund requests failed; retrying'),
      )
      .then(() => {
        busy = false;
        if (stopped) return;
        timer = setTimeout(loop, again ? 0 : deps.pollIntervalMs);
        again = false;
      });
  }

  /** New requests are worked at once, not at the next poll. */
  function kick(): void {
    if (busy) again = true;
    else loop();
  }

  const halt = async () => {
    stopped = true;
    clearTimeout(timer);
    await working;
  };

  const consumerLoop = new CanonicalConsumer({
    ...deps,
    component: 'refund-responder',
    topics: [deps.names.name('subscriptionEvents')],
    now,
    handle: ingest,
  });
  return {
    consumer: consumerLoop.consumer,
    workDue,
    readiness: () => consumerLoop.readiness(),
    async start(): Promise<void> {
      loop();
      try {
        await consumerLoop.start();
      } catch (err) {
        await halt();
        throw err;
      }
    },
    async stop(): Promise<void> {
      await halt();
      await consumerLoop.stop();
    },
  };
}
