/**
 * Storeline runs kafkajs 2.2.4 with two upstream bugs fixed by `patches/kafkajs+2.2.4.patch` (applied by
 * patch-package on `npm ci`, and in the Dockerfile):
 * - **Lost records on a leader change** (https://github.com/tulios/kafkajs/issues/1303): a retried send
 *   skipped partitions whose leadership had moved to a broker that had already answered, and resolved as if
 *   they had been written. The receivers would answer 200 for notifications Kafka never had, and the
 *   normalizer would commit input offsets without their events. The patch tracks acknowledgements per
 *   partition (the direction of https://github.com/tulios/kafkajs/pull/1798).
 * - **An idle 1 ms timer loop per connection** (https://github.com/tulios/kafkajs/issues/1556, the fix
 *   proposed in https://github.com/tulios/kafkajs/pull/1667).
 * Losing accepted notifications is not a risk to run with, so a process refuses to create a Kafka client
 * when the installed kafkajs lacks the patch (an install with `--ignore-scripts`, or another version).
 */
import { readFileSync } from 'node:fs';
import { PipelineError } from '../core/errors';

const MARKER = 'Storeline patch (tulios/kafkajs#1303';

/** Throws when the installed kafkajs does not carry the lost-records fix. */
export function assertKafkajsPatched(resolve: (id: string) => string = require.resolve): void {
  const file = resolve('kafkajs/src/producer/sendMessages.js');
  if (readFileSync(file, 'utf8').includes(MARKER)) return;
  throw new PipelineError(
    `kafkajs at ${file} lacks patches/kafkajs+2.2.4.patch (it can lose records when a partition leader ` +
      'moves); install with `npm ci` (which runs patch-package) or run `npx patch-package`',
    { retriable: false },
  );
}
