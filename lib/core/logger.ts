/**
 * The logging the pure core does, as a structural type: pino's Logger (lib/platform/logger.ts) satisfies it,
 * and the core never imports pino.
 */
export interface Logger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}
