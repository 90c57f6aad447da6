/**
 * How loud a kafkajs log line is in our logs. kafkajs logs every error response at ERROR, including the
 * retriable ones a healthy cluster answers while it starts or moves leaders (GROUP_COORDINATOR_NOT_AVAILABLE
 * to an InitProducerId or a group join, LEADER_NOT_AVAILABLE, NOT_COORDINATOR …) and each retry it
 * schedules. Those are WARN here: kafkajs retries them itself, and when it finally gives up the caller
 * gets the error and logs it at ERROR. Anything else stays as kafkajs rated it.
 */
import { logLevel } from 'kafkajs';
// kafkajs does not export its error table from the package root; the path is stable across 2.x.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { errorCodes } = require('kafkajs/src/protocol/error') as {
  errorCodes: { message: string; retriable: boolean }[];
};

export type PinoLevel = 'error' | 'warn' | 'info' | 'debug';

const RETRIABLE_MESSAGES = new Set(errorCodes.filter((e) => e.retriable).map((e) => e.message));

function isTransient(message: string, entry: Record<string, unknown>): boolean {
  if (typeof entry.error === 'string' && RETRIABLE_MESSAGES.has(entry.error)) return true;
  if (RETRIABLE_MESSAGES.has(message)) return true;
  // A retry kafkajs has already scheduled ("Restarting the consumer in …ms", "reconnecting").
  return typeof entry.retryTime === 'number';
}

export function kafkajsLevel(level: logLevel, message: string, entry: Record<string, unknown>): PinoLevel {
  switch (level) {
    case logLevel.ERROR:
    case logLevel.NOTHING:
      return isTransient(message, entry) ? 'warn' : 'error';
    case logLevel.WARN:
      return 'warn';
    case logLevel.INFO:
      return 'info';
    default:
      return 'debug';
  }
}
