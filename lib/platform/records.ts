/** Records as the transactional loop and the dead-letter builder see them. */
import type { Headers } from './kafka';

export interface InputRecord {
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Headers;
  /** Broker/producer timestamp, epoch ms. */
  timestamp: number;
}

export interface OutputRecord {
  topic: string;
  key: string | Buffer | null;
  value: Buffer;
  headers?: Headers;
}
