/**
 * `storeline reconcile play-store`: compares Storeline's snapshot of a Google Play subscription with Google's
 * `purchases.subscriptionsv2.get` and, where they differ, writes one synthetic subscription notification of
 * the reconciliation type (RECONCILIATION_TYPE, lib/core/play/model.ts) to the raw Play topic. The normalizer
 * then fetches, diffs and stores it like any notification and emits the missing canonical events with
 * source.nativeType RECONCILIATION. The comparison here is the same pure rule, so "matches" publishes nothing.
 * https://developers.google.com/android-publisher/api-ref/rest/v3/purchases.subscriptionsv2/get
 * Exit status: 0 done, 1 Play API / Kafka / database failure, 2 usage.
 */
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import type { Kafka, Producer } from 'kafkajs';
import pino from 'pino';
import { HttpPlayApi } from '../../lib/adapters/play/api';
import { UsageError, playAccessToken } from './playCredentials';
import { PgPlayRepo } from '../../lib/adapters/play/repo';
import { errorMessage } from '../../lib/core/errors';
import type { SubscriptionEvent } from '../../lib/core/generated/avro';
import type { PlaySnapshot, SubscriptionPurchaseV2 } from '../../lib/core/play/model';
import { differences, reconcileDrafts, reconcileRecord } from '../../lib/core/play/reconcile';
import { TopicNames } from '../../lib/core/topics';
import { codecFor, createRegistry } from '../../lib/platform/avro';
import { createPool } from '../../lib/platform/db';
import { createIdempotentProducer, createKafka } from '../../lib/platform/kafka';

const USAGE = `usage: storeline reconcile play-store (--subscription play_store:ROOT | --token T | --all-active [--older-than D]) [options]
  --subscription KEY         a subscription by its key, play_store:<root purchase token> (repeatable)
  --token T                  a subscription by one of its purchase tokens (repeatable)
  --all-active               every Play subscription Storeline holds as active, trial, grace, billing retry or paused
  --older-than D             with --all-active: only those whose last event is older than D (30d, 12h, 45m, 90s, ms)
  --package NAME             package name (repeatable; default: PLAY_PACKAGE_NAMES, comma-separated)
  --play-api-url URL         root replacing https://androidpublisher.googleapis.com (default: PLAY_API_ROOT_URL)
  --play-api-token TOKEN     static bearer token (default: PLAY_API_TOKEN)
  --play-service-account F   service-account JSON key (default: PLAY_SERVICE_ACCOUNT_KEY_FILE)
  --wait                     wait for the normalizer's events of each published record and print them
  --wait-timeout-ms N        how long --wait waits (default 30000)
One line per subscription: key, token asked about, then "matches" or the differences and "published <messageId>".
Env: DATABASE_URL (required), NORMALIZER_DB_SCHEMA (snapshots, default storeline_play), STATE_DB_SCHEMA
(--all-active, default storeline_state), KAFKA_BROKERS (default 127.0.0.1:9092), TOPIC_PREFIX,
SCHEMA_REGISTRY_URL (--wait, default http://127.0.0.1:8081/apis/ccompat/v7).
Exit: 0 done, 1 Play API / Kafka / database failure, 2 usage.
`;

/** Storeline statuses in which a subscription still has, or may regain, access. */
const LIVE_STATUSES = ['ACTIVE', 'TRIAL', 'GRACE_PERIOD', 'BILLING_RETRY', 'PAUSED'];
const KEY_PREFIX = 'play_store:';

interface Options {
  keys: string[];
  tokens: string[];
  allActive: boolean;
  olderThanMs: number;
  packages: string[];
  api: HttpPlayApi;
  wait: boolean;
  waitTimeoutMs: number;
  databaseUrl: string;
  playSchema: string;
  stateSchema: string;
  brokers: string[];
  prefix: string;
  registryUrl: string;
}

/** `30d`, `12h`, `45m`, `90s`, `500ms` or plain milliseconds. */
function duration(s: string): number {
  const m = /^(\d+)(ms|s|m|h|d)?$/.exec(s.trim());
  if (!m) throw new UsageError(`--older-than: not a duration: ${s}`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] ?? 'ms'] as number;
  return Number(m[1]) * unit;
}

function options(args: string[], env: NodeJS.ProcessEnv): Options | 'help' {
  const { values } = parseArgs({
    args,
    options: {
      subscription: { type: 'string', multiple: true },
      token: { type: 'string', multiple: true },
      'all-active': { type: 'boolean', default: false },
      'older-than': { type: 'string' },
      package: { type: 'string', multiple: true },
      'play-api-url': { type: 'string' },
      'play-api-token': { type: 'string' },
      'play-service-account': { type: 'string' },
      wait: { type: 'boolean', default: false },
      'wait-timeout-ms': { type: 'string', default: '30000' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return 'help';
  const keys = values.subscription ?? [];
  const tokens = values.token ?? [];
  const allActive = values['all-active'];
  if ((keys.length > 0 || tokens.length > 0) === allActive)
    throw new UsageError('give --subscription/--token or --all-active (one of them)');
  if (values['older-than'] !== undefined && !allActive)
    throw new UsageError('--older-than goes with --all-active');
  const bad = keys.find((k) => !k.startsWith(KEY_PREFIX) || k.length === KEY_PREFIX.length);
  if (bad) throw new UsageError(`--subscription: not a Play subscription key (play_store:<token>): ${bad}`);
  const packages = values.package ?? (env.PLAY_PACKAGE_NAMES ?? '').split(',').filter(Boolean);
  if (packages.length === 0) throw new UsageError('--package or PLAY_PACKAGE_NAMES is required');
  if (!env.DATABASE_URL) throw new UsageError('DATABASE_URL is required (snapshots and state)');
  const waitTimeoutMs = Number(values['wait-timeout-ms']);
  if (!Number.isInteger(waitTimeoutMs) || waitTimeoutMs < 0)
    throw new UsageError('--wait-timeout-ms must be an integer >= 0');
  return {
    keys,
    tokens,
    allActive,
    olderThanMs: values['older-than'] === undefined ? 0 : duration(values['older-than']),
    packages,
    api: new HttpPlayApi({
      rootUrl: values['play-api-url'] ?? env.PLAY_API_ROOT_URL,
      accessToken: playAccessToken(values, env),
      maxAttempts: 4,
      initialBackoffMs: 500,
    }),
    wait: values.wait,
    waitTimeoutMs,
    databaseUrl: env.DATABASE_URL,
    playSchema: env.NORMALIZER_DB_SCHEMA ?? 'storeline_play',
    stateSchema: env.STATE_DB_SCHEMA ?? 'storeline_state',
    brokers: (env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',').map((b) => b.trim()),
    prefix: env.TOPIC_PREFIX ?? '',
    registryUrl: env.SCHEMA_REGISTRY_URL ?? 'http://127.0.0.1:8081/apis/ccompat/v7',
  };
}

const out = (line: string) => process.stdout.write(`${line}\n`);
const say = (line: string) => process.stderr.write(`${line}\n`);

/** Play subscriptions whose Storeline state is live and whose last event is older than `olderThanMs`. */
async function liveKeys(opts: Options, now: number): Promise<string[]> {
  const pool = createPool(opts.databaseUrl, opts.stateSchema, 2);
  try {
    const r = await pool.query<{ subscription_key: string }>(
      `SELECT subscription_key FROM subscription_state
       WHERE subscription_key LIKE 'play\\_store:%' AND fold->'state'->>'status' = ANY($1)
         AND (fold->'state'->>'lastEventAt')::bigint < $2
       ORDER BY subscription_key`,
      [LIVE_STATUSES, now - opts.olderThanMs],
    );
    return r.rows.map((x) => x.subscription_key);
  } finally {
    await pool.end();
  }
}

/** The newest snapshot of the chain `token` belongs to (following replacedBy), if Storeline knows it. */
async function latestSnapshot(repo: PgPlayRepo, token: string): Promise<PlaySnapshot | undefined> {
  let s = await repo.snapshot(token);
  for (let hops = 0; s?.replacedBy && hops < 100; hops++) {
    const next = await repo.snapshot(s.replacedBy);
    if (!next) return s;
    s = next;
  }
  return s;
}

/** Google's resource for `token` under the first configured package that knows it. */
async function fetchResource(
  opts: Options,
  token: string,
): Promise<{ pkg: string; cur: SubscriptionPurchaseV2 } | undefined> {
  for (const pkg of opts.packages) {
    const cur = await opts.api.getSubscriptionV2(pkg, token);
    if (cur) return { pkg, cur };
  }
  return undefined;
}

interface Published {
  messageId: string;
  expected: number;
}

/** Reconciles one subscription (by one of its tokens); prints its line; what was published, if anything. */
async function reconcileOne(
  opts: Options,
  repo: PgPlayRepo,
  producer: Producer,
  start: string,
): Promise<Published | undefined> {
  const prev = await latestSnapshot(repo, start);
  const token = prev?.token ?? start;
  const key = `${KEY_PREFIX}${prev?.rootToken ?? start}`;
  const found = await fetchResource(opts, token);
  if (!found) {
    out(`${key} ${token} unknown to Google (404/410 in ${opts.packages.join(', ')}): nothing published`);
    return undefined;
  }
  const linked = found.cur.linkedPurchaseToken
    ? await repo.snapshot(found.cur.linkedPurchaseToken)
    : undefined;
  const drafts = reconcileDrafts(prev, found.cur, linked);
  if (drafts.length === 0) {
    out(`${key} ${token} matches`);
    return undefined;
  }
  const topic = new TopicNames(opts.prefix).name('rawPlayStore');
  const record = reconcileRecord(token, found.pkg, {
    now: Date.now(),
    requestId: `reconcile-${randomUUID()}`,
  });
  await producer.send({
    topic,
    acks: -1,
    messages: [{ key: record.key, value: record.value, headers: record.headers }],
  });
  const diff = differences(prev?.resource, found.cur);
  out(
    `${key} ${token} ${diff.length ? diff.join(', ') : 'differs'} (${drafts.map((d) => d.type).join(', ')}): published ${record.messageId}`,
  );
  return { messageId: record.messageId, expected: drafts.length };
}

export async function runReconcilePlayStore(args: string[], env = process.env): Promise<number> {
  let opts: Options | 'help';
  try {
    opts = options(args, env);
    if (opts === 'help') {
      process.stdout.write(USAGE);
      return 0;
    }
  } catch (err) {
    say(`storeline reconcile play-store: ${errorMessage(err)}\n${USAGE}`);
    return 2;
  }
  const logger = pino({ name: 'storeline-reconcile', level: 'error' }, pino.destination(2));
  const kafka = createKafka({ brokers: opts.brokers, clientId: 'storeline-reconcile-play', logger });
  const pool = createPool(opts.databaseUrl, opts.playSchema, 2);
  const producer = createIdempotentProducer(kafka);
  let failed = false;
  const published: Published[] = [];
  try {
    const keys = opts.allActive ? await liveKeys(opts, Date.now()) : opts.keys;
    const starts = [...keys.map((k) => k.slice(KEY_PREFIX.length)), ...opts.tokens];
    if (opts.allActive) say(`${starts.length} live Play subscriptions selected`);
    await producer.connect();
    const from = opts.wait ? await endOffsets(kafka, opts) : [];
    const repo = new PgPlayRepo(pool);
    for (const start of starts) {
      try {
        const p = await reconcileOne(opts, repo, producer, start);
        if (p) published.push(p);
      } catch (err) {
        failed = true;
        out(`${KEY_PREFIX}${start} failed: ${errorMessage(err)}`);
      }
    }
    if (opts.wait && published.length > 0) await waitForEvents(kafka, opts, published, from);
  } catch (err) {
    say(`storeline reconcile play-store: ${errorMessage(err)}`);
    failed = true;
  } finally {
    await producer.disconnect().catch(() => undefined);
    await pool.end();
  }
  return failed ? 1 : 0;
}

type Offsets = { partition: number; offset: string }[];

/** Where the canonical topic ends now: events of what is published next can only come after. */
async function endOffsets(kafka: Kafka, opts: Options): Promise<Offsets> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const topic = new TopicNames(opts.prefix).name('subscriptionEvents');
    return (await admin.fetchTopicOffsets(topic)).map((p) => ({ partition: p.partition, offset: p.high }));
  } finally {
    await admin.disconnect();
  }
}

/**
 * Reads the canonical topic (committed records, from where it ended before publishing: a throwaway group that
 * never commits) until every published record's events are there or the timeout passes; prints them as JSON.
 */
async function waitForEvents(
  kafka: Kafka,
  opts: Options,
  published: Published[],
  from: Offsets,
): Promise<void> {
  const names = new TopicNames(opts.prefix);
  const codec = codecFor<SubscriptionEvent>(createRegistry(opts.registryUrl), names, 'subscriptionEvents');
  const wanted = new Map(published.map((p) => [p.messageId, p.expected]));
  const consumer = kafka.consumer({ groupId: `storeline-reconcile-${randomUUID()}`, readUncommitted: false });
  let timer: NodeJS.Timeout | undefined;
  try {
    await consumer.connect();
    const topic = names.name('subscriptionEvents');
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      timer = setTimeout(() => {
        say(`--wait: timed out; still waiting for ${[...wanted.keys()].join(', ')}`);
        resolve();
      }, opts.waitTimeoutMs);
      consumer
        .run({
          autoCommit: false,
          eachMessage: async ({ message }) => {
            if (!message.value || wanted.size === 0) return;
            // Anything that is not a canonical event (not Avro wire format) is none of ours.
            const e = await codec.decode(message.value).catch(() => undefined);
            if (!e) return;
            const left = wanted.get(e.source.notificationId);
            if (left === undefined) return;
            out(JSON.stringify(e));
            if (left <= 1) wanted.delete(e.source.notificationId);
            else wanted.set(e.source.notificationId, left - 1);
            if (wanted.size === 0) resolve();
          },
        })
        .then(() => {
          for (const o of from) consumer.seek({ topic, partition: o.partition, offset: o.offset });
        })
        .catch(reject);
    });
  } finally {
    clearTimeout(timer);
    await consumer.disconnect();
  }
}
