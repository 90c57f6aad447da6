/**
 * The one dead-letter record builder. Every dead letter (a raw push at receipt, a record the transactional
 * loop could not transform, an undecodable canonical record, a webhook delivery given up on) is the record's
 * own headers, then why it failed (stage, reason, retriable, first seen), then, for a consumed record,
 * where it came from.
 */
import { PoisonMessageError, isRetriable } from '../core/errors';
import type { Headers } from './kafka';
import type { InputRecord, OutputRecord } from './records';

export const DLQ_HEADERS = {
  stage: 'dlq.stage',
  reason: 'dlq.reason',
  retriable: 'dlq.retriable',
  firstSeen: 'dlq.first-seen',
  sourceTopic: 'dlq.source-topic',
  sourcePartition: 'dlq.source-partition',
  sourceOffset: 'dlq.source-offset',
} as const;

/** Longer reasons are cut: a header is not the place for a stack of causes. */
const MAX_REASON_CHARS = 2000;

export interface DeadLetterCause {
  stage: string;
  reason: string;
  retriable: boolean;
  /** ISO time the record first failed; kept when a dead letter is dead-lettered again. */
  firstSeen: string;
}

export const cutReason = (reason: string): string => reason.slice(0, MAX_REASON_CHARS);

/** The headers of a dead letter: the record's own, why it failed, and where it was consumed from if it was. */
export function dlqHeaders(
  own: Headers,
  cause: DeadLetterCause,
  source?: { topic: string; partition: number; offset: string },
): Headers {
  return {
    ...own,
    [DLQ_HEADERS.stage]: cause.stage,
    [DLQ_HEADERS.reason]: cause.reason,
    [DLQ_HEADERS.retriable]: String(cause.retriable),
    [DLQ_HEADERS.firstSeen]: cause.firstSeen,
    ...(source && {
      [DLQ_HEADERS.sourceTopic]: source.topic,
      [DLQ_HEADERS.sourcePartition]: String(source.partition),
      [DLQ_HEADERS.sourceOffset]: source.offset,
    }),
  };
}

/** The dead-letter record for a consumed `input`: its exact bytes and headers plus why it failed. */
export function deadLetter(input: InputRecord, dlqTopic: string, err: unknown, now: number): OutputRecord {
  const reason = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  const cause = {
    stage: err instanceof PoisonMessageError ? err.stage : 'transform',
    reason: cutReason(reason),
    retriable: isRetriable(err),
    firstSeen: input.headers[DLQ_HEADERS.firstSeen] ?? new Date(now).toISOString(),
  };
  return {
    topic: dlqTopic,
    key: input.key,
    value: input.value ?? Buffer.alloc(0),
    headers: dlqHeaders(input.headers, cause, input),
  };
}
