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

/** What a consumer waits for when it pauses: the database or the schema registry. */
export type Dependency = 'database' | 'registry';

/**
 * A dependency the service cannot work without did not answer (connection refused or reset, backend
 * terminated, timeout). Retriable; consumers pause their partitions and probe the dependency instead of
 * retrying batch after batch.
 */
export class DependencyError extends TransientError {
  readonly dependency: Dependency;
  constructor(
    dependency: Dependency,
    message: string,
    opts: { cause?: unknown; context?: ErrorContext } = {},
  ) {
    super(message, opts);
    this.dependency = dependency;
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
  // A database that went away (pg errors carry a SQLSTATE, not a retriable flag) is not the record's fault:
  // never dead-letter a record for it.
  if (unavailableDependency(err)) return true;
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

/**
 * SQLSTATE classes and node socket codes that mean "the database is not reachable now" (restart,
 * failover, pgbouncer or idle_session_timeout closing the backend), as opposed to a statement error.
 * https://www.postgresql.org/docs/current/errcodes-appendix.html: 08 connection exception, 57P01-57P05
 * operator intervention (admin shutdown, crash shutdown, cannot connect now, idle session timeout), 53300
 * too many connections.
 */
const PG_UNAVAILABLE_STATES = /^(08...|57P0[1-5]|53300)$/;
const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN']);
const PG_CLIENT_MESSAGES =
  /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error|Connection closed/i;

/** Which dependency an error says is unavailable, if any. */
export function unavailableDependency(err: unknown): Dependency | undefined {
  if (err instanceof DependencyError) return err.dependency;
  // kafkajs errors (and our own PipelineErrors) carry a `retriable` flag and may carry the same socket
  // codes (a broker refusing connections): they are Kafka's, never the database's.
  if (typeof (err as { retriable?: unknown } | null)?.retriable === 'boolean') return undefined;
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && (PG_UNAVAILABLE_STATES.test(code) || SOCKET_CODES.has(code)))
    return 'database';
  if (err instanceof Error && PG_CLIENT_MESSAGES.test(err.message)) return 'database';
  return undefined;
}
