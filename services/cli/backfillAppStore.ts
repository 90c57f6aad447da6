/**
 * `storeline backfill app-store --since T [--until T] …`: recovers App Store notifications the receiver
 * missed from the App Store Server API's Get Notification History
 * (https://developer.apple.com/documentation/appstoreserverapi/get-notification-history) and publishes them
 * to the raw App Store topic as the receiver would (lib/adapters/app-store/backfill.ts). Progress on stderr.
 * Exit status: 0 done (or stopped by --max-pages), 1 the API, the credentials, Kafka or a signedPayload
 * failed, 2 usage or configuration.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { KeyLike } from 'jose';
import pino from 'pino';
import { z } from 'zod';
import { APPLE_ROOT_CA_G3_DER } from '../../lib/core/app-store/appleRoot';
import { loadCertificates } from '../../lib/core/app-store/certs';
import {
  APP_STORE_API_URLS,
  HISTORY_RETENTION_DAYS,
  type AppStoreApiEnvironment,
} from '../../lib/core/app-store/serverApi';
import { AppleVerifier } from '../../lib/core/app-store/verify';
import { errorMessage } from '../../lib/core/errors';
import { TopicNames } from '../../lib/core/topics';
import { backfillNotificationHistory, type BackfillSummary } from '../../lib/adapters/app-store/backfill';
import { CheckpointFile, type BackfillCheckpoint } from '../../lib/adapters/app-store/checkpoint';
import { countClaimed } from '../../lib/adapters/app-store/seenClaims';
import {
  AppStoreApiError,
  AppStoreServerApi,
  loadApiPrivateKey,
} from '../../lib/adapters/app-store/serverApi';
import { httpUrl, kafkaBrokers, parseConfig, postgresUrl, topicPrefix } from '../../lib/platform/config';
import { createPool } from '../../lib/platform/db';
import { createIdempotentProducer, createKafka } from '../../lib/platform/kafka';
import { KafkaPublisher } from '../../lib/platform/publisher';

const DEFAULT_CHECKPOINT = '.storeline/backfill-app-store.json';

const USAGE = `usage: storeline backfill app-store --since T [--until T] [options]
  Recovers missed notifications from the App Store Server API (Get Notification History), verifies each
  as the receiver does and publishes it to the raw App Store topic; the normalizer drops those it has seen.
  T is an ISO 8601 date or time, epoch milliseconds, or an age such as 36h or 7d.
  --since T            start of the range (Apple keeps 180 days of history in production, 30 in sandbox)
  --until T            end of the range (default: now; a resumed run keeps its checkpoint's)
  --environment ENV    production (default) or sandbox
  --api-url URL        replaces the environment's https://api.storekit[-sandbox].itunes.apple.com
  --issuer-id ID       issuer id from App Store Connect            [APPLE_ISSUER_ID]
  --key-id ID          in-app purchase key id                      [APPLE_KEY_ID]
  --private-key FILE   the in-app purchase key (.p8, PKCS#8 PEM)   [APPLE_PRIVATE_KEY_FILE]
  --bundle-id ID       the app's bundle id                         [APPLE_BUNDLE_ID]
  --apple-root FILE    trusted root for signedPayloads, DER or PEM (repeatable; default: Apple Root CA - G3)
  --checkpoint FILE    progress file (default: ${DEFAULT_CHECKPOINT}); a rerun over the same
                       range resumes after its last completed page; removed when the run completes
  --rate N             requests per second to Apple (default 5)
  --max-pages N        stop after N pages, keeping the checkpoint (rerun to continue)
Environment: KAFKA_BROKERS, TOPIC_PREFIX (default: the embedded local stack); DATABASE_URL and
NORMALIZER_DB_SCHEMA (optional) to count notifications the normalizer has already seen.
Exit status: 0 done, 1 API, credentials, Kafka or verification failure, 2 usage or configuration.
`;

const LOCAL_STACK = { KAFKA_BROKERS: '127.0.0.1:9092' };

const Env = z.object({
  KAFKA_BROKERS: kafkaBrokers,
  TOPIC_PREFIX: topicPrefix,
  DATABASE_URL: postgresUrl.optional(),
  NORMALIZER_DB_SCHEMA: z
    .string()
    .regex(/^[a-z_][a-z0-9_]*$/)
    .default('storeline_play'),
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

export interface BackfillIo {
  err: (line: string) => void;
  now: () => number;
}

const nodeIo: BackfillIo = { err: (l) => process.stderr.write(`${l}\n`), now: Date.now };

/** Ends the command with an exit status; what to say was already said. */
class Exit {
  constructor(readonly status: number) {}
}

interface Plan {
  environment: AppStoreApiEnvironment;
  apiUrl: string;
  since: number;
  until: number | undefined;
  roots: Buffer[];
  checkpoint: string;
  rate: number;
  maxPages: number | undefined;
  env: z.output<typeof Env>;
}

export async function runBackfillAppStore(
  args: string[],
  env: Record<string, string | undefined> = process.env,
  io: BackfillIo = nodeIo,
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

function usageError(io: BackfillIo, message: string): never {
  io.err(`storeline backfill app-store: ${message}\n${USAGE}`);
  throw new Exit(2);
}

function planOf(args: string[], rawEnv: Record<string, string | undefined>, io: BackfillIo): Plan {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        since: { type: 'string' },
        until: { type: 'string' },
        environment: { type: 'string', default: 'production' },
        'api-url': { type: 'string' },
        'issuer-id': { type: 'string' },
        'key-id': { type: 'string' },
        'private-key': { type: 'string' },
        'bundle-id': { type: 'string' },
        'apple-root': { type: 'string', multiple: true },
        checkpoint: { type: 'string', default: DEFAULT_CHECKPOINT },
        rate: { type: 'string', default: '5' },
        'max-pages': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    return usageError(io, errorMessage(err));
  }
  if (values.help) {
    process.stdout.write(USAGE);
    throw new Exit(0);
  }
  const environment = values.environment;
  if (environment !== 'production' && environment !== 'sandbox')
    usageError(io, '--environment must be production or sandbox');
  if (values.since === undefined) usageError(io, '--since is required');
  const now = io.now();
  const since = parseTime(values.since, now) ?? usageError(io, `--since: cannot read "${values.since}"`);
  const until =
    values.until === undefined
      ? undefined
      : (parseTime(values.until, now) ?? usageError(io, `--until: cannot read "${values.until}"`));
  if (since >= (until ?? now)) usageError(io, '--since must be before --until (and before now)');
  const oldest = now - HISTORY_RETENTION_DAYS[environment] * 86_400_000;
  if (since < oldest)
    usageError(
      io,
      `--since is more than ${HISTORY_RETENTION_DAYS[environment]} days ago: Apple keeps no ${environment} history that old`,
    );
  const rate = Number(values.rate);
  if (!(rate > 0)) usageError(io, `--rate must be a positive number, got ${values.rate}`);
  const maxPages = values['max-pages'] === undefined ? undefined : Number(values['max-pages']);
  if (maxPages !== undefined && !(Number.isInteger(maxPages) && maxPages > 0))
    usageError(io, '--max-pages must be a positive integer');
  const apiUrl = values['api-url'];
  if (apiUrl !== undefined && !httpUrl.safeParse(apiUrl).success)
    usageError(io, `--api-url must be an http(s) URL, got ${apiUrl}`);
  const env = configOf(values, rawEnv, io);
  return {
    environment,
    apiUrl: apiUrl ?? APP_STORE_API_URLS[environment],
    since,
    until,
    roots: roots(values['apple-root'], io),
    checkpoint: values.checkpoint,
    rate,
    maxPages,
    env,
  };
}

/** CLI options win over the environment; the embedded stack's broker is the default. */
function configOf(
  values: Record<string, string | boolean | string[] | undefined>,
  rawEnv: Record<string, string | undefined>,
  io: BackfillIo,
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
    `storeline backfill app-store: invalid configuration\n${parsed.problems.map((p) => `  - ${hint(p)}`).join('\n')}`,
  );
  throw new Exit(2);
}

/** ISO 8601, epoch ms, or an age (`90m`, `36h`, `7d`) before `now`. */
function parseTime(text: string, now: number): number | undefined {
  const age = /^(\d+)([mhd])$/.exec(text);
  if (age)
    return now - Number(age[1]) * { m: 60_000, h: 3_600_000, d: 86_400_000 }[age[2] as 'm' | 'h' | 'd'];
  if (/^\d{10,}$/.test(text)) return Number(text);
  const t = Date.parse(text);
  return Number.isNaN(t) ? undefined : t;
}

function roots(files: string[] | undefined, io: BackfillIo): Buffer[] {
  if (!files?.length) return [APPLE_ROOT_CA_G3_DER];
  try {
    return loadCertificates(files.map((f) => ({ name: f, bytes: readFileSync(f) })));
  } catch (err) {
    io.err(`storeline backfill app-store: cannot read --apple-root: ${errorMessage(err)}`);
    throw new Exit(2);
  }
}

async function readKey(file: string, io: BackfillIo): Promise<KeyLike> {
  let pem: string;
  try {
    pem = readFileSync(file, 'utf8');
  } catch (err) {
    io.err(
      `storeline backfill app-store: cannot read the private key file ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`,
    );
    throw new Exit(2);
  }
  try {
    return await loadApiPrivateKey(pem);
  } catch (err) {
    io.err(`storeline backfill app-store: ${file}: ${errorMessage(err)}`);
    throw new Exit(2);
  }
}

/** The saved checkpoint if it is this run's range (same bundle, environment, start, and end when given). */
function resumable(file: CheckpointFile, plan: Plan, io: BackfillIo): BackfillCheckpoint | undefined {
  let saved: BackfillCheckpoint | undefined;
  try {
    saved = file.read();
  } catch (err) {
    io.err(`storeline backfill app-store: ${errorMessage(err)}; remove it or pass another --checkpoint`);
    throw new Exit(2);
  }
  if (!saved) return undefined;
  const same =
    saved.bundleId === plan.env.APPLE_BUNDLE_ID &&
    saved.environment === plan.environment &&
    saved.startDate === plan.since &&
    (plan.until === undefined || saved.endDate === plan.until);
  if (same) return saved;
  io.err(`checkpoint ${file.path} is for another range; starting this range from its first page`);
  return undefined;
}

async function run(plan: Plan, privateKey: KeyLike, io: BackfillIo): Promise<number> {
  const { env } = plan;
  const checkpoint = new CheckpointFile(plan.checkpoint);
  const resume = resumable(checkpoint, plan, io);
  const range = { startDate: plan.since, endDate: resume?.endDate ?? plan.until ?? io.now() };
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
  const logger = pino({ name: 'storeline-backfill-app-store', level: 'error' }, pino.destination(2));
  const kafka = createKafka({ brokers: env.KAFKA_BROKERS, clientId: 'storeline-backfill', logger });
  const publisher = new KafkaPublisher({
    createProducer: () => createIdempotentProducer(kafka),
    timeoutMs: 30_000,
    logger,
  });
  const pool = env.DATABASE_URL
    ? createPool(env.DATABASE_URL, env.NORMALIZER_DB_SCHEMA, 1, logger)
    : undefined;
  io.err(
    `${resume ? `resuming after page ${resume.pages}:` : 'backfilling'} ${new Date(range.startDate).toISOString()} .. ${new Date(range.endDate).toISOString()} (${plan.environment}, ${env.APPLE_BUNDLE_ID}) from ${plan.apiUrl} into ${rawTopic}`,
  );
  try {
    await publisher.start();
    const summary = await backfillNotificationHistory(
      {
        history: (r, token) => api.notificationHistory(r, token),
        verifier: verifierFor(plan),
        publish: publisher.publish,
        rawTopic,
        checkpoint,
        seen: pool ? (ids) => countClaimed(pool, rawTopic, ids) : undefined,
        progress: io.err,
        now: io.now,
      },
      {
        bundleId: env.APPLE_BUNDLE_ID,
        environment: plan.environment,
        range,
        resume,
        maxPages: plan.maxPages,
      },
    );
    return report(summary, checkpoint.path, io);
  } catch (err) {
    io.err(`storeline backfill app-store: ${failure(err)}`);
    if (hasCheckpoint(checkpoint))
      io.err(`progress kept in ${checkpoint.path}: rerun the same command to resume`);
    return 1;
  } finally {
    await publisher.stop();
    await pool?.end();
  }
}

function hasCheckpoint(file: CheckpointFile): boolean {
  try {
    return file.read() !== undefined;
  } catch {
    return false;
  }
}

/** Production history holds Production notifications; sandbox history Sandbox ones. */
function verifierFor(plan: Plan): AppleVerifier {
  return new AppleVerifier({
    trustedRoots: plan.roots,
    bundleIds: [plan.env.APPLE_BUNDLE_ID],
    environments: plan.environment === 'production' ? ['Production'] : ['Sandbox'],
    appAppleIds: [],
    // History reaches 180 days back: a notification is judged by the certificates valid when Apple signed it.
    effectiveDate: 'signed-date',
  });
}

function failure(err: unknown): string {
  if (err instanceof AppStoreApiError) return `App Store Server API: ${err.message}`;
  return errorMessage(err);
}

function report(s: BackfillSummary, checkpointPath: string, io: BackfillIo): number {
  const seen =
    s.alreadySeen === undefined
      ? 'the normalizer drops those it has already seen'
      : `${s.alreadySeen} already seen, ${s.published - s.alreadySeen} new`;
  io.err(
    `${s.complete ? 'done' : `stopped after --max-pages; rerun to continue from ${checkpointPath}`}: ${s.pages} pages, ${s.found} notifications, ${s.published} published (${seen}), ${s.rejected} refused`,
  );
  if (s.rejected > 0) {
    io.err(`${s.rejected} signedPayloads failed verification and were not published (see above)`);
    return 1;
  }
  return 0;
}
