/**
 * Typed errors. `retriable` says whether doing the same thing later can succeed (broker down, timeout);
 * the pipeline retries only those and dead-letters or rejects the rest. Programmer errors (TypeError,
 * ReferenceError) are never retriable.
 */
export interface ErrorContext {
  topic?: string;
  partition?: number;
  offset?: string;
  notificationId?: string;
  [key: string]: unknown;
}

export class PipelineError extends Error {
  readonly retriable: boolean;
  readonly context: ErrorContext;

  constructor(message: string, opts: { retriable: boolean; cause?: unknown; context?: ErrorContext }) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = this.constructor.name;
    this.retriable = opts.retriable;
    this.context = opts.context ?? {};
  }
}

/** A dependency (Kafka, registry, database, store API) failed in a way that may pass. */
export class TransientError extends PipelineError {
  constructor(message: string, opts: { cause?: unknown; context?: ErrorContext } = {}) {
    super(message, { ...opts, retriable: true });
  }
}

/** The input itself is wrong: retrying cannot help; dead-letter or reject it. */
export class PoisonMessageError extends PipelineError {
  /** Which step refused the input (decode, verify, map, ...). */
  readonly stage: string;
  constructor(stage: string, message: string, opts: { cause?: unknown; context?: ErrorContext } = {}) {
    super(message, { ...opts, retriable: false });
    this.stage = stage;
  }
}

export function isRetriable(err: unknown): boolean {
  if (err instanceof TypeError || err instanceof ReferenceError || err instanceof SyntaxError) return false;
  if (err instanceof PipelineError) return err.retriable;
  // kafkajs errors carry their own `retriable` flag.
  if (typeof err === 'object' && err !== null && 'retriable' in err) {
    return Boolean((err as { retriable: unknown }).retriable);
  }
  return false;
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Exhaustiveness guard for `switch` over closed unions. */
export function assertNever(value: never, what = 'value'): never {
  throw new TypeError(`unhandled ${what}: ${JSON.stringify(value)}`);
}
