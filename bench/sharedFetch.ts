/**
 * For bench/cohosted.ts with COHOST_SHARED_FETCH=<group id>: the n CanonicalConsumers created in this
 * process (state-aggregator, churn-triggers, webhook-fanout) become one consumer, one group and one fetch of
 * the union of their topics. Each fetched batch goes to every guest that consumes its topic, at the same time
 * (they write to separate schemas), and its offsets are resolved only after all of them succeeded. Partitions
 * are consumed as concurrently as the most concurrent guest asks (the fan-out: 3); a guest that asks for one
 * partition at a time (churn-triggers, state) still gets its batches one at a time. An experiment for issue 15
 * (what the shared fetch the skeleton measured does to the real services), not a deployable: each guest
 * decodes the batch itself, the first guest's client, DLQ producer and guard settings serve all, and the
 * guests' own kafkajs consumers are created but never connected, so their per-batch metrics stay empty.
 */
import {
  CanonicalConsumer,
  type CanonicalBatch,
  type CanonicalConsumerOptions,
} from '../lib/platform/canonicalConsumer';
import type { Readiness } from '../lib/platform/consumerGuard';

type Guest = { opts: CanonicalConsumerOptions };

/** `handle`, one call at a time when the guest asked for one partition at a time. */
function serialIfAsked(opts: CanonicalConsumerOptions): (batch: CanonicalBatch) => Promise<void> {
  if ((opts.partitionsConsumedConcurrently ?? 1) > 1) return opts.handle;
  let last: Promise<unknown> = Promise.resolve();
  return (batch) => {
    const run = last.then(() => opts.handle(batch));
    last = run.catch(() => undefined);
    return run;
  };
}

export function shareOneFetch(guests: number, groupId: string): void {
  const proto = CanonicalConsumer.prototype;
  const { start, stop, readiness } = proto;
  const waiting: Guest[] = [];
  let shared: CanonicalConsumer | undefined;
  let ready: () => void;
  const allStarted = new Promise<void>((r) => (ready = r));

  proto.start = async function (this: CanonicalConsumer) {
    waiting.push(this as unknown as Guest);
    if (waiting.length === guests) {
      const handlers = waiting.map((g) => ({ topics: g.opts.topics, handle: serialIfAsked(g.opts) }));
      shared = new CanonicalConsumer({
        ...waiting[0]!.opts,
        groupId,
        component: 'shared-fetch',
        topics: [...new Set(waiting.flatMap((g) => g.opts.topics))],
        partitionsConsumedConcurrently: Math.max(
          ...waiting.map((g) => g.opts.partitionsConsumedConcurrently ?? 1),
        ),
        handle: async (batch) => {
          await Promise.all(
            handlers.filter((h) => h.topics.includes(batch.topic)).map((h) => h.handle(batch)),
          );
        },
      });
      await start.call(shared);
      ready();
    }
    await allStarted;
  };
  proto.stop = async function (this: CanonicalConsumer) {
    if (shared) await stop.call(shared);
  };
  proto.readiness = function (this: CanonicalConsumer): Promise<Readiness> {
    return shared
      ? readiness.call(shared)
      : Promise.resolve({ ready: false, reasons: ['shared consumer not started'] });
  };
}
