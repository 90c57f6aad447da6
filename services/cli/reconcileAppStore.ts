/**
 * `storeline reconcile app-store (--subscription app_store:<otid> | --all-active [--older-than D]) …`:
 * compares Storeline's view of App Store subscriptions (the state aggregator's tables) with Apple's truth
 * (App Store Server API, Get All Subscription Statuses,
 * https://developer.apple.com/documentation/appstoreserverapi/get-all-subscription-statuses) and, where they
 * differ, publishes one `app-store-status` raw record per subscription for the normalizer to turn into
 * canonical events marked RECONCILIATION (lib/adapters/app-store/reconcile.ts). Results on stdout,
 * progress and failures on stderr. Exit status: 0 done, 1 a subscription could not be compared or
 * published, 2 usage or configuration.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { KeyLike } from 'jose';
import pino from 'pino';
import { z } from 'zod';
import { APPLE_ROOT_CA_G3_DER } from '../../lib/core/app-store/appleRoot';
import { loadCertificates } from '../../lib/core/app-store/certs';
import { APP_STORE_API_URLS, type AppStoreApiEnvironment } from '../../lib/core/app-store/serverApi';
import { AppleVerifier } from '../../lib/core/app-store/verify';
import { errorMessage } from '../../lib/core/errors';
import { TopicNames } from '../../lib/core/topics';
import {
  liveSubscriptionKeys,
  originalTransactionIdOf,
  reconcileSubscription,
  storelineView,
  type ReconcileOutcome,
} from '../../lib/adapters/app-store/reconcile';
import {
  AppStoreApiError,
  AppStoreServerApi,
  loadApiPrivateKey,
} from '../../lib/adapters/app-store/serverApi';
import { httpUrl, kafkaBrokers, parseConfig, postgresUrl, topicPrefix } from '../../lib/platform/config';
import { createPool } from '../../lib/platform/db';
import { createIdempotentProducer, createKafka } from '../../lib/platform/kafka';
import { KafkaPublisher } from '../../lib/platform/publisher';

const USAGE = `usage: storeline reconcile app-store (--subscription KEY | --all-active [--older-than D]) [options]
  Compares Storeline's view of App Store subscriptions (the state tables) with Apple's (App Store Server
  API, Get All Subscription Statuses); where they differ, publishes one record to the raw App Store topic
  from which the normalizer makes the missing events (source.nativeType RECONCILIATION).
  --subscription KEY   app_store:<originalTransactionId> (repeatable)
  --all-active         every active, trial, grace-period or billing-retry App Store subscription
  --older-than D       with --all-active: only those whose last event is older than D (e.g. 36h, 7d; default 0m)
  --environment ENV    production (default) or sandbox
  --api-url URL        replaces the environment's https://api.storekit[-sandbox].itunes.apple.com
  --issuer-id ID       issuer id from App Store Connect            [APPLE_ISSUER_ID]
  --key-id ID          in-app purchase key id                      [APPLE_KEY_ID]
  --private-key FILE   the in-app purchase key (.p8, PKCS#8 PEM)   [APPLE_PRIVATE_KEY_FILE]
  --bundle-id ID       the app's bundle id                         [APPLE_BUNDLE_ID]
  --apple-root FILE    trusted root for Apple's signed infos, DER or PEM (repeatable; default: Apple Root CA - G3)
  --rate N             requests per second to Apple (default 5)
Environment: DATABASE_URL, STATE_DB_SCHEMA (default storeline_state), KAFKA_BROKERS, TOPIC_PREFIX
(default: the embedded local stack).
Output: per subscription "KEY: matches", or each difference "KEY: field: Storeline -> Apple" and
"KEY: published <reconciliation id>".
Exit status: 0 done, 1 a subscription could not be compared or published, 2 usage or configuration.
`;

const LOCAL_STACK = {
  KAFKA_BROKERS: '127.0.0.1:9092',
  DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/storeline',
};

const Env = z.object({
  KAFKA_BROKERS: kafkaBrokers,
  TOPIC_PREFIX: topicPrefix,
  DATABASE_URL: postgresUrl,
  STATE_DB_SCHEMA: z
    .string()
    .regex(/^[a-z_][a-z0-9_]*$/)
    .default('storeline_state'),
  APPLE_ISSUER_ID: z.string().min(1),
  APPLE_KEY_ID: z.string().min(1),
  APPLE_PRIVATE_KEY_FILE: z.string().min(1),
  APPLE_BUNDLE_ID: z.string().min(1),
});

const OPTION_OF: Record<string, string> = {
  APPLE_ISSUER_ID: '--issuer-id',
  APPLE_KEY_ID: '--key-id',
  APPLE_PRIVATE_KEY_FILE: '--private-key',
  APPLE_BUNDLE_ID: '--bundle-id',
};

export interface ReconcileIo {
  out: (line: string) => void;
  err: (line: string) => void;
  now: () => number;
}

const nodeIo: ReconcileIo = {
  out: (l) => process.stdout.write(`${l}\n`),
  err: (l) => process.stderr.write(`${l}\n`),
  now: Date.now,
};

/** Ends the command with an exit status; what to say was already said. */
class Exit {
  constructor(readonly status: number) {}
}

interface Plan {
  keys: string[] | undefined;
  olderThanMs: number;
  environment: AppStoreApiEnvironment;
  apiUrl: string;
  roots: Buffer[];
  rate: number;
  env: z.output<typeof Env>;
}

export async function runReconcileAppStore(
  args: string[],
  env: Record<string, string | undefined> = process.env,
  io: ReconcileIo = nodeIo,
): Promise<number> {
  try {
    const plan = planOf(args, env, io);
    const privateKey = await readKey(plan.env.APPLE_PRIVATE_KEY_FILE, io);
    return await run(plan, privateKey, io);
  } catch (err) {
    if (err instanceof Exit) return err.status;
    throw err;
  }
}

function usageError(io: ReconcileIo, message: string): never {
  io.err(`storeline reconcile app-store: ${message}\n${USAGE}`);
  throw new Exit(2);
}

function planOf(args: string[], rawEnv: Record<string, string | undefined>, io: ReconcileIo): Plan {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        subscription: { type: 'string', multiple: true },
        'all-active': { type: 'boolean' },
        'older-than': { type: 'string' },
        environment: { type: 'string', default: 'production' },
        'api-url': { type: 'string' },
        'issuer-id': { type: 'string' },
        'key-id': { type: 'string' },
        'private-key': { type: 'string' },
        'bundle-id': { type: 'string' },
        'apple-root': { type: 'string', multiple: true },
        rate: { type: 'string', default: '5' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    return usageError(io, errorMessage(err));
  }
  if (values.help) {
    io.out(USAGE.trimEnd());
    throw new Exit(0);
  }
  const keys = values.subscription;
  if ((keys === undefined) === !values['all-active'])
    usageError(io, 'give either --subscription KEY or --all-active');
  for (const k of keys ?? [])
    if (originalTransactionIdOf(k) === undefined)
      usageError(io, `--subscription must be app_store:<originalTransactionId>, got ${k}`);
  if (values['older-than'] !== undefined && !values['all-active'])
    usageError(io, '--older-than goes with --all-active');
  const olderThanMs =
    values['older-than'] === undefined
      ? 0
      : (age(values['older-than']) ?? usageError(io, `--older-than: cannot read "${values['older-than']}"`));
  const environment = values.environment;
  if (environment !== 'production' && environment !== 'sandbox')
    usageError(io, '--environment must be production or sandbox');
  const rate = Number(values.rate);
  if (!(rate > 0)) usageError(io, `--rate must be a positive number, got ${values.rate}`);
  const apiUrl = values['api-url'];
  if (apiUrl !== undefined && !httpUrl.safeParse(apiUrl).success)
    usageError(io, `--api-url must be an http(s) URL, got ${apiUrl}`);
  return {
    keys,
    olderThanMs,
    environment,
    apiUrl: apiUrl ?? APP_STORE_API_URLS[environment],
    roots: roots(values['apple-root'], io),
    rate,
    env: configOf(values, rawEnv, io),
  };
}

/** An age such as 90m, 36h or 7d, in milliseconds. */
function age(text: string): number | undefined {
  const m = /^(\d+)([mhd])$/.exec(text);
  return m ? Number(m[1]) * { m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 'm' | 'h' | 'd'] : undefined;
}

/** CLI options win over the environment; the embedded stack is the default. */
function configOf(
  values: Record<string, string | boolean | string[] | undefined>,
  rawEnv: Record<string, string | undefined>,
  io: ReconcileIo,
): z.output<typeof Env> {
  const fromOptions = {
    APPLE_ISSUER_ID: values['issuer-id'],
    APPLE_KEY_ID: values['key-id'],
    APPLE_PRIVATE_KEY_FILE: values['private-key'],
    APPLE_BUNDLE_ID: values['bundle-id'],
  } as Record<string, string | undefined>;
  const merged: Record<string, string | undefined> = { ...LOCAL_STACK, ...rawEnv };
  for (const [k, v] of Object.entries(fromOptions)) if (v !== undefined) merged[k] = v;
  const parsed = parseConfig(Env, merged);
  if (parsed.ok) return parsed.config;
  const hint = (p: string) => {
    const option = OPTION_OF[p.split(':')[0]!];
    return option ? `${p} (or ${option})` : p;
  };
  io.err(
    `storeline reconcile app-store: invalid configuration\n${parsed.problems.map((p) => `  - ${hint(p)}`).join('\n')}`,
  );
  throw new Exit(2);
}

function roots(files: string[] | undefined, io: ReconcileIo): Buffer[] {
  if (!files?.length) return [APPLE_ROOT_CA_G3_DER];
  try {
    return loadCertificates(files.map((f) => ({ name: f, bytes: readFileSync(f) })));
  } catch (err) {
    io.err(`storeline reconcile app-store: cannot read --apple-root: ${errorMessage(err)}`);
    throw new Exit(2);
  }
}

async function readKey(file: string, io: ReconcileIo): Promise<KeyLike> {
  let pem: string;
  try {
    pem = readFileSync(file, 'utf8');
  } catch (err) {
    io.err(
      `storeline reconcile app-store: cannot read the private key file ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`,
    );
    throw new Exit(2);
  }
  try {
    return await loadApiPrivateKey(pem);
  } catch (err) {
    io.err(`storeline reconcile app-store: ${file}: ${errorMessage(err)}`);
    throw new Exit(2);
  }
}

async function run(plan: Plan, privateKey: KeyLike, io: ReconcileIo): Promise<number> {
  const { env } = plan;
  const rawTopic = new TopicNames(env.TOPIC_PREFIX).name('rawAppStore');
  const api = new AppStoreServerApi({
    baseUrl: plan.apiUrl,
    key: {
      issuerId: env.APPLE_ISSUER_ID,
      keyId: env.APPLE_KEY_ID,
      bundleId: env.APPLE_BUNDLE_ID,
      privateKey,
    },
    ratePerSecond: plan.rate,
    now: io.now,
    onRetry: (n) =>
      io.err(
        `  ${n.status === undefined ? 'network failure' : `HTTP ${n.status}`}; retrying in ${n.waitMs} ms`,
      ),
  });
  const logger = pino({ name: 'storeline-reconcile-app-store', level: 'error' }, pino.destination(2));
  const kafka = createKafka({ brokers: env.KAFKA_BROKERS, clientId: 'storeline-reconcile', logger });
  const publisher = new KafkaPublisher({
    createProducer: () => createIdempotentProducer(kafka),
    timeoutMs: 30_000,
    logger,
  });
  let started: Promise<void> | undefined;
  const pool = createPool(env.DATABASE_URL, env.STATE_DB_SCHEMA, 1, logger);
  const deps = {
    statuses: (id: string) => api.subscriptionStatuses(id),
    verifier: new AppleVerifier({
      trustedRoots: plan.roots,
      bundleIds: [env.APPLE_BUNDLE_ID],
      environments: plan.environment === 'production' ? ['Production'] : ['Sandbox'],
      appAppleIds: [],
      effectiveDate: 'now',
    }),
    bundleId: env.APPLE_BUNDLE_ID,
    environment: plan.environment === 'production' ? 'Production' : 'Sandbox',
    // Kafka only when something differs: a run where everything matches needs no broker.
    publish: async (r: Parameters<KafkaPublisher['publish']>[0]) => {
      started ??= publisher.start();
      await started;
      return publisher.publish(r);
    },
    rawTopic,
    now: io.now,
  };
  let failed = 0;
  let done = 0;
  let total: number | undefined;
  try {
    const keys = plan.keys ?? (await liveSubscriptionKeys(pool, io.now() - plan.olderThanMs));
    total = keys.length;
    io.err(
      `reconciling ${keys.length} App Store subscription(s) (${plan.environment}, ${env.APPLE_BUNDLE_ID}) against ${plan.apiUrl}; differences go to ${rawTopic}`,
    );
    for (const key of keys) {
      const outcome = await reconcileOne(deps, pool, key);
      if (outcome.result === 'failed') failed++;
      report(outcome, io);
      done++;
    }
  } catch (err) {
    // What would fail every other subscription too (credentials, Apple, Kafka, the database) stops the run.
    const what = err instanceof AppStoreApiError ? `App Store Server API: ${err.message}` : errorMessage(err);
    io.err(`storeline reconcile app-store: ${what}`);
    if (total !== undefined) io.err(`stopped: ${total - done} of ${total} subscription(s) not reconciled`);
    return 1;
  } finally {
    if (started) await publisher.stop();
    await pool.end();
  }
  return failed > 0 ? 1 : 0;
}

async function reconcileOne(
  deps: Parameters<typeof reconcileSubscription>[0],
  pool: ReturnType<typeof createPool>,
  key: string,
): Promise<ReconcileOutcome> {
  const view = await storelineView(pool, key);
  if (!view) return { key, result: 'failed', message: 'Storeline has no state for this subscription' };
  return reconcileSubscription(deps, view);
}

function report(o: ReconcileOutcome, io: ReconcileIo): void {
  switch (o.result) {
    case 'matches':
      io.out(`${o.key}: matches`);
      return;
    case 'published':
    case 'unexplained':
      for (const d of o.differences) io.out(`${o.key}: ${d.field}: ${d.storeline} -> ${d.apple}`);
      io.out(
        o.result === 'published'
          ? `${o.key}: published ${o.id}`
          : `${o.key}: differs, but no canonical event expresses it; nothing published`,
      );
      return;
    case 'failed':
      io.err(`${o.key}: not reconciled: ${o.message}`);
      return;
  }
}
