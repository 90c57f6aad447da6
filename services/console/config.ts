import { z } from 'zod';
import { bool, csv, kafkaEnv, port, postgresUrl } from '../../lib/platform/config';
import { allowedCidrsEnv } from '../../lib/adapters/webhooks/ssrf';

const schemaName = (fallback: string) =>
  z
    .string()
    .regex(/^[a-z_][a-z0-9_]*$/, 'must be a lower-case identifier')
    .default(fallback);

const Operator = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9._@-]{1,64}$/, 'letters, digits, . _ @ - (at most 64)'),
  key: z.string().min(16, 'each operator key needs at least 16 characters'),
  role: z.enum(['admin', 'read-only']),
});

/**
 * `[{"name": "alice", "key": "…", "role": "admin"}, …]`, or the same as `name:role:key` entries separated by
 * commas (for places where braces are awkward, like a compose `${VAR:-default}`). Problems name the
 * operator by index, never the key: a JSON parse error would quote the text, so its message is replaced.
 */
const Operators = z
  .string()
  .transform((s, ctx) => {
    if (!s.trim().startsWith('[')) {
      return s
        .split(',')
        .filter((e) => e.trim())
        .map((e) => {
          const [name, role, ...key] = e.trim().split(':');
          return { name, role, key: key.join(':') };
        });
    }
    try {
      return JSON.parse(s) as unknown;
    } catch {
      ctx.addIssue({
        code: 'custom',
        message: 'must be a JSON list of {name, key, role} or name:role:key,…',
      });
      return z.NEVER;
    }
  })
  .pipe(
    z
      .array(Operator)
      .min(1, 'needs at least one operator')
      .refine((ops) => new Set(ops.map((o) => o.key)).size === ops.length, 'operator keys must differ')
      .refine((ops) => new Set(ops.map((o) => o.name)).size === ops.length, 'operator names must differ'),
  );

export const ConsoleConfig = z.object({
  ...kafkaEnv,
  DATABASE_URL: postgresUrl,
  /** Operators who may sign in, with their keys and roles (JSON list; see docs/console.md). */
  CONSOLE_OPERATORS: Operators,
  /** How long a session lasts without signing in again. */
  CONSOLE_SESSION_TTL_MS: z.coerce
    .number()
    .int()
    .min(60_000)
    .default(8 * 3_600_000),
  /** Mark the session cookie Secure (set it when the console is served over HTTPS, as it should be). */
  CONSOLE_SECURE_COOKIES: bool.default(false),
  /** Consumer groups whose lag the overview charts. */
  CONSOLE_LAG_GROUPS: csv.default([
    'storeline-normalizer',
    'storeline-state-aggregator',
    'storeline-churn-triggers',
    'storeline-webhook-fanout',
  ]),
  /** Prefix of the live stream's own consumer group (a random suffix per process; it never commits). */
  CONSOLE_GROUP_PREFIX: z.string().min(1).default('storeline-console'),
  /** How often the dead-letter counts (overview, `storeline_dlq_records`) are re-read. */
  CONSOLE_DLQ_REFRESH_MS: z.coerce.number().int().min(1000).default(60_000),
  STATE_DB_SCHEMA: schemaName('storeline_state'),
  TRIGGERS_DB_SCHEMA: schemaName('storeline_triggers'),
  WEBHOOK_DB_SCHEMA: schemaName('storeline_webhooks'),
  /** The normalizer's Play outcomes: the Play Developer API answer shown beside a Play notification. */
  NORMALIZER_DB_SCHEMA: schemaName('storeline_play'),
  /** CIDRs an endpoint created here may point at although private or loopback (as the fan-out's own). */
  WEBHOOK_ALLOWED_CIDRS: allowedCidrsEnv,
  HOST: z.string().min(1).default('0.0.0.0'),
  PORT: port.default(8096),
});
export type ConsoleConfig = z.output<typeof ConsoleConfig>;
