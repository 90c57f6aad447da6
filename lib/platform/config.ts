/**
 * Configuration: each service owns one zod schema (its `config.ts`), parsed once at start-up from the
 * environment. Nothing else reads process.env. Every problem is printed, then the process exits non-zero.
 * The pieces below are shared by those schemas.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';

export const kafkaBrokers = z
  .string({ error: 'is required (comma-separated host:port list)' })
  .transform((s) =>
    s
      .split(',')
      .map((b) => b.trim())
      .filter(Boolean),
  )
  .pipe(
    z
      .array(z.string().regex(/^[^\s:]+:\d{1,5}$/, 'each broker must be host:port'))
      .min(1, 'needs at least one broker'),
  );

export const httpUrl = z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' });
export const postgresUrl = z.url({ protocol: /^postgres(ql)?$/, error: 'must be a postgres:// URL' });
export const port = z.coerce.number().int().min(0).max(65535);
export const logLevel = z
  .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
  .default('info');
export const topicPrefix = z
  .string()
  .regex(/^[A-Za-z0-9._-]*$/, 'may hold letters, digits, dot, underscore and dash only')
  .default('');
export const csv = z.string().transform((s) =>
  s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean),
);
export const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

export type ParseResult<T> = { ok: true; config: T } | { ok: false; problems: string[] };

/** Parses `env` with `schema`, naming the variable behind each problem. */
export function parseConfig<S extends z.ZodType>(
  schema: S,
  env: Record<string, string | undefined>,
): ParseResult<z.output<S>> {
  // Empty strings count as unset, so `FOO= cmd` falls back to the default instead of failing oddly.
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const result = schema.safeParse(cleaned);
  if (result.success) return { ok: true, config: result.data };
  return {
    ok: false,
    problems: result.error.issues.map((i) => {
      const name = i.path.length ? i.path.join('.') : '(config)';
      const msg = i.code === 'invalid_type' && i.input === undefined ? 'is required' : i.message;
      return `${name}: ${msg}`;
    }),
  };
}

/** For main.ts: parse or print every problem and exit 2. */
export function loadConfigOrExit<S extends z.ZodType>(
  service: string,
  schema: S,
  env: Record<string, string | undefined> = process.env,
): z.output<S> {
  const parsed = parseConfig(schema, env);
  if (parsed.ok) return parsed.config;
  return exitWithProblems(service, 'invalid configuration', parsed.problems);
}

/**
 * For main.ts: a service's own file (trigger rules, seed endpoints), read and parsed; an invalid one exits 2
 * naming every problem, as invalid configuration does.
 */
export function loadFileOrExit<T>(
  service: string,
  file: string,
  parse: (text: string) => { ok: true; value: T } | { ok: false; problems: string[] },
): T {
  const parsed = parse(readFileSync(file, 'utf8'));
  if (parsed.ok) return parsed.value;
  return exitWithProblems(service, `invalid ${file}`, parsed.problems);
}

function exitWithProblems(service: string, what: string, problems: string[]): never {
  process.stderr.write(`${service}: ${what}\n${problems.map((p) => `  - ${p}\n`).join('')}`);
  process.exit(2);
}

/** Variables every Kafka service reads. */
export const kafkaEnv = {
  KAFKA_BROKERS: kafkaBrokers,
  SCHEMA_REGISTRY_URL: httpUrl,
  TOPIC_PREFIX: topicPrefix,
  KAFKA_CLIENT_ID: z.string().min(1).optional(),
  LOG_LEVEL: logLevel,
};

/** Variables every consumer service reads for its ConsumerGuard (readiness and last-resort exit). */
export const consumerGuardEnv = {
  /** A partition whose committed offset has not moved this long while records wait makes it not ready. */
  CONSUMER_STALL_AFTER_MS: z.coerce.number().int().min(1000).default(60_000),
  /** A consumer out of its group this long exits the process (code 70) for its supervisor to restart. */
  CONSUMER_EXIT_AFTER_MS: z.coerce.number().int().min(10_000).default(300_000),
  /**
   * After a small batch, wait this long before the next fetch so the next batch carries what arrived
   * meanwhile (fewer transactions, produces and offset commits per record). Adds up to this much latency
   * per consumer on the way; 0 turns it off.
   */
  CONSUMER_LINGER_MS: z.coerce.number().int().min(0).max(1000).default(20),
};

/** Variables both receivers read for their publisher (see publisher.ts for what a 503 means). */
export const publisherEnv = {
  /** How long a request waits for Kafka's acknowledgement before answering 503. */
  PUBLISH_TIMEOUT_MS: z.coerce.number().int().positive().default(5000),
  /** Records waiting for Kafka at most; beyond it requests get 503 at once and memory stays flat. */
  PUBLISH_QUEUE_MAX_RECORDS: z.coerce.number().int().min(1).default(5000),
  /** Bytes waiting for Kafka at most (bodies plus headers). */
  PUBLISH_QUEUE_MAX_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .default(32 * 1024 * 1024),
};
