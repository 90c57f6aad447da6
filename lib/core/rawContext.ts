import { RAW_HEADERS } from './rawHeaders';

/**
 * Store-neutral: where a raw notification came from and when a receiver accepted it. Both stores' mappings
 * stamp it on the events they make, so it lives with neither.
 */
export interface RawContext {
  receivedAt: number;
  rawTopic: string;
  rawPartition: number;
  rawOffset: number;
}

/** Lineage and receive time of a raw record: the receiver's `received-at` header, else the record time. */
export function rawContext(rec: {
  headers: Record<string, string>;
  timestamp: number;
  topic: string;
  partition: number;
  offset: string;
}): RawContext {
  const receivedAt = Number(rec.headers[RAW_HEADERS.receivedAt] ?? rec.timestamp);
  return {
    receivedAt: Number.isFinite(receivedAt) ? receivedAt : rec.timestamp,
    rawTopic: rec.topic,
    rawPartition: rec.partition,
    rawOffset: Number(rec.offset),
  };
}
