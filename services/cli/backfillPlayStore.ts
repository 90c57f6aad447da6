/**
 * `storeline backfill play-store --since T [--until T]`: refunds and revocations Google may never have sent
 * as RTDN, read from `purchases.voidedpurchases.list` and written to the raw Play topic as voided-purchase
 * notifications, which the normalizer processes like live ones and deduplicates by orderId against them.
 * https://developers.google.com/android-publisher/api-ref/rest/v3/purchases.voidedpurchases/list
 * Progress per page and a summary go to stderr; `--checkpoint FILE` keeps the range, the next page token and
 * the counts after every page so an interrupted run resumes where it stopped.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { Producer } from 'kafkajs';
import pino from 'pino';
import { HttpPlayApi } from '../../lib/adapters/play/api';
import { UsageError, playAccessToken } from './playCredentials';
import { backfillVoidedPurchases, type VoidedProgress } from '../../lib/adapters/play/backfill';
import { errorMessage } from '../../lib/core/errors';
import { TopicNames } from '../../lib/core/topics';
import { createIdempotentProducer, createKafka } from '../../lib/platform/kafka';

const USAGE = `usage: storeline backfill play-store --since T [--until T] [options]
  --since T                  oldest voided time to read (ISO 8601 or epoch ms); Google keeps 30 days
  --until T                  newest voided time (default: now)
  --package NAME             package name (repeatable; default: PLAY_PACKAGE_NAMES, comma-separated)
  --play-api-url URL         root replacing https://androidpublisher.googleapis.com (default: PLAY_API_ROOT_URL)
  --play-api-token TOKEN     static bearer token (default: PLAY_API_TOKEN)
  --play-service-account F   service-account JSON key (default: PLAY_SERVICE_ACCOUNT_KEY_FILE)
  --checkpoint FILE          resume from / record progress in FILE (range, next page token, counts)
  --page-size N              maxResults per page (default 1000, Google's maximum)
  --min-interval-ms N        pause between page requests (default 1000: Google allows 30 per 30 s)
Kafka: KAFKA_BROKERS (default 127.0.0.1:9092), TOPIC_PREFIX. 429/5xx are retried honouring Retry-After.
`;

interface Checkpoint {
  since: number;
  until: number;
  packages: Record<string, VoidedProgress>;
}

interface Options {
  since: number;
  until: number;
  packages: string[];
  api: HttpPlayApi;
  checkpoint?: string;
  pageSize: number;
  minIntervalMs: number;
  brokers: string[];
  prefix: string;
}

function time(name: string, s: string | undefined, fallback?: number): number {
  if (s === undefined) {
    if (fallback === undefined) throw new UsageError(`${name} is required`);
    return fallback;
  }
  const t = /^\d+$/.test(s) ? Number(s) : Date.parse(s);
  if (!Number.isFinite(t)) throw new UsageError(`${name}: not a time: ${s}`);
  return t;
}

function positive(name: string, s: string, min: number): number {
  const n = Number(s);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`${name} must be an integer >= ${min}`);
  return n;
}

function options(args: string[], env: NodeJS.ProcessEnv): Options | 'help' {
  const { values } = parseArgs({
    args,
    options: {
      since: { type: 'string' },
      until: { type: 'string' },
      package: { type: 'string', multiple: true },
      'play-api-url': { type: 'string' },
      'play-api-token': { type: 'string' },
      'play-service-account': { type: 'string' },
      checkpoint: { type: 'string' },
      'page-size': { type: 'string', default: '1000' },
      'min-interval-ms': { type: 'string', default: '1000' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return 'help';
  const since = time('--since', values.since);
  const until = time('--until', values.until, Date.now());
  if (until < since) throw new UsageError('--until is before --since');
  const packages = values.package ?? (env.PLAY_PACKAGE_NAMES ?? '').split(',').filter(Boolean);
  if (packages.length === 0) throw new UsageError('--package or PLAY_PACKAGE_NAMES is required');
  const api = new HttpPlayApi({
    rootUrl: values['play-api-url'] ?? env.PLAY_API_ROOT_URL,
    accessToken: playAccessToken(values, env),
    maxAttempts: 6,
    initialBackoffMs: 500,
  });
  return {
    since,
    until,
    packages,
    api,
    checkpoint: values.checkpoint,
    pageSize: Math.min(positive('--page-size', values['page-size'], 1), 1000),
    minIntervalMs: positive('--min-interval-ms', values['min-interval-ms'], 0),
    brokers: (env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',').map((b) => b.trim()),
    prefix: env.TOPIC_PREFIX ?? '',
  };
}

/** The checkpoint to continue from: the file's when it is for the same range, else a fresh one. */
function loadCheckpoint(opts: Options): Checkpoint {
  const fresh: Checkpoint = { since: opts.since, until: opts.until, packages: {} };
  if (!opts.checkpoint || !existsSync(opts.checkpoint)) return fresh;
  const saved = JSON.parse(readFileSync(opts.checkpoint, 'utf8')) as Checkpoint;
  if (saved.since !== opts.since || saved.until !== opts.until) {
    throw new UsageError(
      `${opts.checkpoint} is for ${new Date(saved.since).toISOString()}..${new Date(saved.until).toISOString()}, not this range; remove it or use another file`,
    );
  }
  return saved;
}

/** Written to a temporary file and renamed: an interrupted write never leaves a torn checkpoint. */
function saveCheckpoint(file: string | undefined, c: Checkpoint): void {
  if (!file) return;
  writeFileSync(`${file}.tmp`, `${JSON.stringify(c, null, 2)}\n`);
  renameSync(`${file}.tmp`, file);
}

const say = (line: string) => process.stderr.write(`${line}\n`);

export async function runBackfillPlayStore(args: string[], env = process.env): Promise<number> {
  let opts: Options | 'help';
  let checkpoint: Checkpoint;
  try {
    opts = options(args, env);
    if (opts === 'help') {
      process.stdout.write(USAGE);
      return 0;
    }
    checkpoint = loadCheckpoint(opts);
  } catch (err) {
    say(`storeline backfill play-store: ${errorMessage(err)}\n${USAGE}`);
    return 2;
  }
  const logger = pino({ name: 'storeline-backfill', level: 'error' }, pino.destination(2));
  const kafka = createKafka({ brokers: opts.brokers, clientId: 'storeline-backfill-play', logger });
  const producer = createIdempotentProducer(kafka);
  await producer.connect();
  try {
    for (const pkg of opts.packages) await backfillPackage(opts, pkg, checkpoint, producer);
  } finally {
    await producer.disconnect();
  }
  const totals = Object.values(checkpoint.packages);
  const sum = (k: 'found' | 'published' | 'pages') => totals.reduce((n, p) => n + p[k], 0);
  say(
    `play-store backfill done: ${sum('pages')} pages, ${sum('found')} voided purchases found, ${sum('published')} published to ${new TopicNames(opts.prefix).name('rawPlayStore')}`,
  );
  return 0;
}

/** One package through the shared loop (lib/adapters/play/backfill.ts), checkpointed after every page. */
async function backfillPackage(
  opts: Options,
  pkg: string,
  checkpoint: Checkpoint,
  producer: Producer,
): Promise<void> {
  const topic = new TopicNames(opts.prefix).name('rawPlayStore');
  const progress = (checkpoint.packages[pkg] ??= { done: false, pages: 0, found: 0, published: 0 });
  if (progress.done) {
    say(`${pkg}: already done in ${opts.checkpoint}`);
    return;
  }
  await backfillVoidedPurchases(
    {
      list: (name, query) => opts.api.listVoidedPurchases(name, query),
      send: async (records) => {
        await producer.send({ topic, acks: -1, messages: records });
      },
      onPage: (p, page) => {
        saveCheckpoint(opts.checkpoint, checkpoint);
        say(
          `${pkg}: page ${p.pages}: found ${page.found}, published ${page.published} (total ${p.found} found, ${p.published} published)`,
        );
      },
      now: Date.now,
    },
    {
      packageName: pkg,
      since: opts.since,
      until: opts.until,
      pageSize: opts.pageSize,
      minIntervalMs: opts.minIntervalMs,
      progress,
    },
  );
}
