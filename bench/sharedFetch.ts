/**
 * For bench/cohosted.ts with COHOST_SHARED_FETCH=<n>: the n CanonicalConsumers created in this process
 * (state-aggregator, churn-triggers, webhook-fanout) become one consumer, one group and one fetch of the
 * union of their topics; each fetched batch goes to every guest that consumes its topic, one after another,
 * and its offsets are resolved only after all of them succeeded. An experiment for issue 15 (what the shared
 * fetch the skeleton measured does to the real services), not a deployable: partitions are handled one at a
 * time (churn-triggers' need), each guest decodes the batch itself, and the guests' own kafkajs consumers
 * are created but never connected, so their per-batch metrics stay empty.
 */
import { CanonicalConsumer, type CanonicalConsumerOptions } from '../lib/platform/canonicalConsumer';
import type { Readiness } from '../lib/platform/consumerGuard';

type Guest = { opts: CanonicalConsumerOptions };

export function shareOneFetch(guests: number, groupId: string): void {
  const proto = CanonicalConsumer.prototype;
  const { start, stop, readiness } = proto;
  const waiting: Guest[] = [];
  let shared: CanonicalConsumer | undefined;
  let ready: () => void;
  const allStarted = new Promise<void>((r) => (ready = r));

  proto.start = async function (this: CanonicalConsumer) {
    if (this === shared) return start.call(this);
    waiting.push(this as unknown as Guest);
    if (waiting.length === guests) {
      const first = waiting[0]!.opts;
      const topics = [...new Set(waiting.flatMap((g) => g.opts.topics))];
      shared = new CanonicalConsumer({
        ...first,
        groupId,
        component: 'shared-fetch',
        topics,
        partitionsConsumedConcurrently: 1,
        handle: async (batch) => {
          for (const g of waiting) if (g.opts.topics.includes(batch.topic)) await g.opts.handle(batch);
        },
      });
      await start.call(shared);
      ready();
    }
    await allStarted;
  };
  proto.stop = async function (this: CanonicalConsumer) {
    if (shared && this !== shared) return stop.call(shared);
    if (this === shared) return stop.call(this);
  };
  proto.readiness = function (this: CanonicalConsumer): Promise<Readiness> {
    return shared && this !== shared
      ? readiness.call(shared)
      : Promise.resolve({ ready: false, reasons: ['shared consumer not started'] });
  };
}
