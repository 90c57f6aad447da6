/**
 * `storeline renormalize --store app-store|play-store --since T [--until T] [--dry-run]`: after a mapping fix,
 * runs the current mapping over the raw records of a range and shows (dry run) or publishes the corrections to
 * what the canonical topic holds. Everything it publishes carries a revision > 0 and supersedes the eventId's
 * earlier revisions (lib/adapters/normalizer/renormalize.ts; docs/toolkit.md#re-normalize-after-a-mapping-fix).
 */
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import pino from 'pino';
import {
  renormalize,
  type RenormalizeReport,
  type RenormalizeStore,
} from '../../lib/adapters/normalizer/renormalize';
import { errorMessage } from '../../lib/core/errors';
import type { SubscriptionEvent } from '../../lib/core/generated/avro';
import type { Correction } from '../../lib/core/ingest/corrections';
import { TopicNames } from '../../lib/core/topics';
import { codecFor, createRegistry } from '../../lib/platform/avro';
import { createPool } from '../../lib/platform/db';
import { createKafka } from '../../lib/platform/kafka';

const USAGE = `usage: storeline renormalize --store app-store|play-store --since T [--until T] [--dry-run]
  --since T, --until T   the raw records' range (ISO 8601 or epoch ms; --until defaults to now)
  --dry-run              print the corrections, publish nothing
One line per correction (changed / added / retracted, eventId, new revision, the fields that differ), then a
summary. Raw records the normalizer has not committed yet are left to it; duplicates yield nothing; Play
records normalized before their diff inputs were stored are counted and skipped.
Env: DATABASE_URL (required), NORMALIZER_DB_SCHEMA (default storeline_play), NORMALIZER_GROUP_ID (default
storeline-normalizer), KAFKA_BROKERS (default 127.0.0.1:9092), SCHEMA_REGISTRY_URL (default the local stack),
TOPIC_PREFIX.
Exit: 0 done (also when there was nothing to correct), 1 Kafka / registry / database failure, 2 usage.
`;

class UsageError extends Error {}

interface Options {
  store: RenormalizeStore;
  since: number;
  until: number;
  dryRun: boolean;
}

function time(name: string, s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  const t = /^\d+$/.test(s) ? Number(s) : Date.parse(s);
  if (!Number.isFinite(t)) throw new UsageError(`${name}: not a time: ${s}`);
  return t;
}

function options(args: string[], now: number): Options | 'help' {
  const { values } = parseArgs({
    args,
    options: {
      store: { type: 'string' },
      since: { type: 'string' },
      until: { type: 'string' },
      'dry-run': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return 'help';
  if (values.store !== 'app-store' && values.store !== 'play-store')
    throw new UsageError('--store must be app-store or play-store');
  const since = time('--since', values.since);
  if (since === undefined) throw new UsageError('--since is required');
  const until = time('--until', values.until) ?? now;
  if (until <= since) throw new UsageError('--until must be after --since');
  return { store: values.store, since, until, dryRun: values['dry-run'] };
}

/** One line per correction: what changed and from what. */
function correctionLine(c: Correction): string {
  const e = c.event;
  const what =
    c.kind === 'changed'
      ? c.fields.map((f) => `${f}: ${show(c.previous, f)} -> ${show(e, f)}`).join(', ')
      : `${e.type} ${e.subscriptionKey}`;
  return `${c.kind.padEnd(9)} ${e.eventId} r${e.revision}  ${what}`;
}

function show(e: SubscriptionEvent | undefined, field: string): string {
  const v = e ? (e as unknown as Record<string, unknown>)[field] : undefined;
  return JSON.stringify(v) ?? 'undefined';
}

function summaryLine(r: RenormalizeReport, dryRun: boolean): string {
  const count = (k: Correction['kind']) => r.corrections.filter((c) => c.kind === k).length;
  const s = r.skipped;
  return (
    `${r.rawRecords} raw records: ${r.unchanged} events unchanged, ${count('changed')} changed, ` +
    `${count('added')} added, ${count('retracted')} retracted` +
    ` (skipped: ${s.duplicate} duplicates, ${s.poison} dead-lettered, ${s.noInputs} without stored inputs, ` +
    `${s.noOutcome} without an outcome; ${s.notNormalized} not normalized yet)` +
    (r.corrections.length === 0
      ? '; nothing to correct'
      : dryRun
        ? '; dry run, nothing published'
        : '; published')
  );
}

export async function runRenormalize(args: string[], env = process.env): Promise<number> {
  let opts: Options | 'help';
  try {
    opts = options(args, Date.now());
    if (opts === 'help') {
      process.stdout.write(USAGE);
      return 0;
    }
    if (!env.DATABASE_URL) throw new UsageError('DATABASE_URL is required (claims and Play outcomes)');
  } catch (err) {
    process.stderr.write(`storeline renormalize: ${errorMessage(err)}\n${USAGE}`);
    return 2;
  }
  const logger = pino({ name: 'storeline-renormalize', level: 'error' }, pino.destination(2));
  const kafka = createKafka({
    brokers: (env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',').map((b) => b.trim()),
    clientId: 'storeline-renormalize',
    logger,
  });
  const names = new TopicNames(env.TOPIC_PREFIX ?? '');
  const registry = createRegistry(env.SCHEMA_REGISTRY_URL ?? 'http://127.0.0.1:8081/apis/ccompat/v7');
  const pool = createPool(env.DATABASE_URL as string, env.NORMALIZER_DB_SCHEMA ?? 'storeline_play', 2);
  try {
    const report = await renormalize({
      kafka,
      pool,
      names,
      codec: codecFor<SubscriptionEvent>(registry, names, 'subscriptionEvents'),
      store: opts.store,
      since: opts.since,
      until: opts.until,
      dryRun: opts.dryRun,
      normalizerGroupId: env.NORMALIZER_GROUP_ID ?? 'storeline-normalizer',
      runId: randomUUID(),
      progress: (line) => process.stderr.write(`${line}\n`),
    });
    for (const c of report.corrections) process.stdout.write(`${correctionLine(c)}\n`);
    process.stdout.write(`${summaryLine(report, opts.dryRun)}\n`);
    return 0;
  } catch (err) {
    process.stderr.write(`storeline renormalize: ${errorMessage(err)}\n`);
    return 1;
  } finally {
    await pool.end();
  }
}
