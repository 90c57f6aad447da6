/**
 * Storeline runs kafkajs 2.2.4 with four upstream gaps fixed by `patches/kafkajs+2.2.4.patch` (applied by
 * patch-package on `npm ci`, and in the Dockerfile):
 * - **Lost records on a leader change** (https://github.com/tulios/kafkajs/issues/1303): a retried send
 *   skipped partitions whose leadership had moved to a broker that had already answered, and resolved as if
 *   they had been written. The receivers would answer 200 for notifications Kafka never had, and the
 *   normalizer would commit input offsets without their events. The patch tracks acknowledgements per
 *   partition (the direction of https://github.com/tulios/kafkajs/pull/1798).
 * - **An idle 1 ms timer loop per connection** (https://github.com/tulios/kafkajs/issues/1556, the fix
 *   proposed in https://github.com/tulios/kafkajs/pull/1667).
 * - **Aborted records delivered to read_committed consumers**: the fetch filter activated one aborted
 *   transaction per message and expected the broker's list ordered by first offset (it is ordered by end).
 *   With interleaved transactions (the normalizer's per-partition producers) a record of an aborted
 *   transaction reached consumers; the patch scans as the Java consumer does. Found by
 *   `test/integration/normalizerCrash.itest.ts` with partitions consumed concurrently: an independent Java
 *   read_committed consumer counted 400 events where kafkajs counted 405.
 * - **No KIP-447 `require_stable` offset reads**: kafkajs stopped at OffsetFetch v4, so a read of a group's
 *   committed offset right after a transaction committed could still return the offset from before it (the
 *   group coordinator applies transactional offsets asynchronously). The normalizer decides on that read
 *   which records a failed or taken-over transaction already covered; a stale answer duplicated events in the
 *   three-broker chaos test. The patch adds OffsetFetch v7 and `admin.fetchOffsets({ requireStable,
 *   topics: [{ topic, partitions }] })`.
 * Losing accepted notifications is not a risk to run with, so a process refuses to create a Kafka client
 * when the installed kafkajs lacks the patch (an install with `--ignore-scripts`, or another version).
 */
import { readFileSync } from 'node:fs';
import { PipelineError } from '../core/errors';

/** A line of the patch in each file it changes that matters for data. */
const MARKERS: Record<string, string> = {
  'kafkajs/src/producer/sendMessages.js': 'Storeline patch (tulios/kafkajs#1303',
  'kafkajs/src/consumer/filterAbortedMessages.js': 'Storeline patch (tulios/kafkajs read_committed leak)',
  'kafkajs/src/protocol/requests/offsetFetch/index.js': 'versions[4](args)',
  'kafkajs/src/admin/index.js': 'Storeline patch: requireStable (KIP-447)',
};

/** Throws when the installed kafkajs does not carry the fixes Storeline's data guarantees depend on. */
export function assertKafkajsPatched(resolve: (id: string) => string = require.resolve): void {
  for (const [id, marker] of Object.entries(MARKERS)) {
    const file = resolve(id);
    if (readFileSync(file, 'utf8').includes(marker)) continue;
    throw new PipelineError(
      `the installed kafkajs lacks patches/kafkajs+2.2.4.patch in ${id} (${file}); unpatched, it can ` +
        'lose records when a partition leader moves, deliver aborted ones and duplicate events after a ' +
        'failed transaction. Install with `npm ci` ' +
        '(which runs patch-package) or run `npx patch-package`',
      { retriable: false },
    );
  }
}
