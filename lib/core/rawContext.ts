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
