/**
 * The chaos suite's harness: a stack of its own (so killing its broker or registry cannot disturb the
 * integration tests), the real service processes, an Apple-like sender, and the checks every scenario
 * ends with. Nothing here is faked but Apple itself: notifications are signed by a test PKI whose root
 * the receiver is configured to trust, exactly as with Apple's root.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { Pool } from 'pg';
import { notification } from '../kit/builders/appStore';
import { codecFor, createRegistry } from '../../lib/platform/avro';
import type { SubscriptionEvent } from '../../lib/core/generated/avro';
import { ensureTopics } from '../../lib/platform/kafka';
import { createPool } from '../../lib/platform/db';
import { allStates } from '../../lib/adapters/state/store';
import { TopicNames } from '../../lib/core/topics';
import { signedBody, type Pki } from '../kit/appleSigning';
import { freePort } from '../support/http';
import { TEST_RETRY, drainTopic, randomId, waitFor, type Collected } from '../support/kafka';
import { setStackEnv, stackScript } from '../support/stack';

const ROOT = resolve(__dirname, '..', '..');
const LOG_DIR = join(ROOT, '.stack', 'chaos-logs');

export interface ChaosStackOptions {
  /** Stack folder under .stack/, database name and ports: distinct per stack so stacks can coexist. */
  name: string;
  kafkaPort: number;
  controllerPort: number;
  registryPort: number;
  brokers?: 1 | 3;
}

export interface StackEnv {
  brokers: string[];
  registryUrl: string;
  databaseUrl: string;
}

/** Brings up a stack of its own with stack.sh and points the fault helpers (test/support/stack.ts) at it. */
export async function chaosStack(o: ChaosStackOptions): Promise<StackEnv> {
  setStackEnv({
    STORELINE_STACK_DIR: join(ROOT, '.stack', o.name),
    STORELINE_KAFKA_PORT: String(o.kafkaPort),
    STORELINE_CONTROLLER_PORT: String(o.controllerPort),
    STORELINE_REGISTRY_PORT: String(o.registryPort),
    STORELINE_DB: o.name.replace(/[^a-z0-9_]/g, '_'),
    STORELINE_BROKERS: String(o.brokers ?? 1),
  });
  const out = await stackScript(['up'], 600_000);
  const get = (k: string) => {
    const m = new RegExp(`^${k}=(.*)$`, 'm').exec(out);
    if (!m) throw new Error(`stack.sh up did not print ${k}:\n${out}`);
    return m[1] as string;
  };
  return {
    brokers: get('KAFKA_BROKERS').split(','),
    registryUrl: get('SCHEMA_REGISTRY_URL'),
    databaseUrl: get('DATABASE_URL'),
  };
}

/** Stops the stack and deletes its data and its database, so every run starts from nothing. */
export async function purgeChaosStack(env: StackEnv | undefined): Promise<void> {
  if (process.env.CHAOS_KEEP_STACK) return; // keep topics and tables for a post-mortem
  await stackScript(['purge'], 300_000).catch((err) =>
    process.stderr.write(`purge failed: ${String(err)}\n`),
  );
  if (!env) return;
  const url = new URL(env.databaseUrl);
  const db = url.pathname.slice(1);
  url.pathname = '/postgres';
  const pool = new Pool({ connectionString: url.toString(), max: 1 });
  await pool
    .query(`DROP DATABASE IF EXISTS "${db.replace(/"/g, '')}" WITH (FORCE)`)
    .catch((err) => process.stderr.write(`drop database ${db} failed: ${String(err)}\n`))
    .finally(() => pool.end());
}

export const kafkaOf = (env: StackEnv) =>
  new Kafka({
    clientId: randomId('chaos'),
    brokers: env.brokers,
    logLevel: logLevel.NOTHING,
    retry: TEST_RETRY,
  });

export async function createTopics(env: StackEnv, replicationFactor = -1): Promise<TopicNames> {
  const names = new TopicNames(`${randomId('chaos')}.`);
  const admin = kafkaOf(env).admin();
  await admin.connect();
  try {
    await ensureTopics(admin, names, { replicationFactor });
  } finally {
    await admin.disconnect();
  }
  return names;
}

// ------------------------------------------------------------------------------------------ services

export type ServiceName = 'receiver-app-store' | 'normalizer' | 'state' | 'triggers' | 'webhook-fanout';

const ENTRY: Record<ServiceName, string> = {
  'receiver-app-store': 'services/receiver-app-store/main.ts',
  normalizer: 'services/normalizer/main.ts',
  state: 'services/state/main.ts',
  triggers: 'services/triggers/main.ts',
  'webhook-fanout': 'services/webhook-fanout/main.ts',
};

export interface Service {
  name: ServiceName;
  port: number;
  child: ChildProcess;
  /** Exits the test did not cause (a service dying by itself is a finding). */
  unexpectedExits: (number | string | null)[];
}

/**
 * Runs the pipeline's services as processes on `env`. The harness is their supervisor only when a test
 * kills one on purpose; an exit it did not cause is recorded and fails the scenario's checks.
 */
export class Pipeline {
  readonly services = new Map<ServiceName, Service>();
  readonly v1Secret = 'chaos-v1-shared-secret';
  readonly stateSchema = `chaos_state_${randomId('s').slice(2)}`.replace(/-/g, '_');
  private readonly killing = new Set<ChildProcess>();

  constructor(
    readonly env: StackEnv,
    readonly names: TopicNames,
    private readonly rootCertFile: string,
    private readonly extraEnv: Partial<Record<ServiceName, Record<string, string>>> = {},
  ) {}

  static async create(env: StackEnv, names: TopicNames, pki: Pki, extraEnv = {}): Promise<Pipeline> {
    const file = join(tmpdir(), `${randomId('chaos-root')}.der`);
    writeFileSync(file, pki.rootDer);
    return new Pipeline(env, names, file, extraEnv);
  }

  private envFor(name: ServiceName, port: number): Record<string, string> {
    const id = this.names.prefix.replace(/\W/g, '_');
    const common = {
      KAFKA_BROKERS: this.env.brokers.join(','),
      SCHEMA_REGISTRY_URL: this.env.registryUrl,
      DATABASE_URL: this.env.databaseUrl,
      TOPIC_PREFIX: this.names.prefix,
      PORT: String(port),
      LOG_LEVEL: 'warn',
      CONSUMER_STALL_AFTER_MS: '20000',
    };
    const own: Record<ServiceName, Record<string, string>> = {
      'receiver-app-store': {
        HOST: '127.0.0.1',
        APPLE_ROOT_CERTS: this.rootCertFile,
        APPLE_ROOT_DEFAULT: 'false',
        APPLE_BUNDLE_IDS: 'com.example.app',
        APPLE_ENVIRONMENTS: 'Sandbox,Production',
        APPLE_APP_APPLE_IDS: '1234567890',
        APPLE_V1_SHARED_SECRET: this.v1Secret,
        PUBLISH_TIMEOUT_MS: '3000',
        PUBLISH_QUEUE_MAX_RECORDS: '2000',
      },
      normalizer: {
        NORMALIZER_GROUP_ID: `${id}norm`,
        NORMALIZER_TRANSACTIONAL_ID: `${id}norm-tx`,
        NORMALIZER_DB_SCHEMA: `${id}normalizer`.toLowerCase(),
        NORMALIZER_SESSION_TIMEOUT_MS: '10000',
      },
      state: {
        STATE_GROUP_ID: `${id}state`,
        STATE_DB_SCHEMA: this.stateSchema,
        STATE_API_KEYS: 'chaos-state-api-key-0123456789',
        STATE_SESSION_TIMEOUT_MS: '10000',
      },
      triggers: { TRIGGERS_GROUP_ID: `${id}triggers`, TRIGGERS_DB_SCHEMA: `${id}triggers`.toLowerCase() },
      'webhook-fanout': {
        WEBHOOK_GROUP_ID: `${id}webhooks`,
        WEBHOOK_DB_SCHEMA: `${id}webhooks`.toLowerCase(),
        WEBHOOK_API_KEYS: 'chaos-admin-api-key-0123456789',
      },
    };
    return { ...common, ...own[name], ...this.extraEnv[name] };
  }

  async start(name: ServiceName): Promise<Service> {
    const port = this.services.get(name)?.port ?? (await freePort());
    // Each service's JSON log (pino writes stdout) and stderr, appended across restarts, for the post-mortem.
    mkdirSync(LOG_DIR, { recursive: true });
    const log = openSync(join(LOG_DIR, `${this.names.prefix}${name}.log`), 'a');
    const child = spawn(process.execPath, ['--require', 'tsx/cjs', resolve(ROOT, ENTRY[name])], {
      env: { ...process.env, ...this.envFor(name, port) },
      stdio: ['ignore', log, log],
    });
    closeSync(log);
    const svc: Service = {
      name,
      port,
      child,
      unexpectedExits: this.services.get(name)?.unexpectedExits ?? [],
    };
    child.on('exit', (code, signal) => {
      if (!this.killing.has(child)) svc.unexpectedExits.push(signal ?? code);
    });
    this.services.set(name, svc);
    return svc;
  }

  async startAll(names: ServiceName[]): Promise<void> {
    for (const n of names) await this.start(n);
    await this.waitReady(names, 180_000);
  }

  /** SIGKILL (or another signal) on purpose; resolves once the process is gone. */
  async kill(name: ServiceName, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const svc = this.services.get(name);
    if (!svc) return;
    this.killing.add(svc.child);
    if (svc.child.exitCode !== null || svc.child.signalCode !== null) return;
    const gone = new Promise((r) => svc.child.once('exit', r));
    svc.child.kill(signal);
    await gone;
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.services.keys()].map((n) => this.kill(n, 'SIGTERM')));
  }

  async readyz(name: ServiceName): Promise<{ ready: boolean; reasons: string[] }> {
    const svc = this.services.get(name);
    try {
      const r = await fetch(`http://127.0.0.1:${svc?.port}/readyz`, { signal: AbortSignal.timeout(3000) });
      const body = (await r.json()) as { reasons?: string[] };
      return { ready: r.status === 200, reasons: body.reasons ?? [] };
    } catch (err) {
      return { ready: false, reasons: [`no answer: ${String(err)}`] };
    }
  }

  /** Waits until every named service says ready; returns how long that took. */
  async waitReady(names: ServiceName[], timeoutMs: number): Promise<number> {
    const t0 = Date.now();
    await waitFor(
      `${names.join(', ')} ready`,
      async () =>
        (await Promise.all(names.map((n) => this.readyz(n)))).every((r) => r.ready) ? true : undefined,
      timeoutMs,
      250,
    );
    return Date.now() - t0;
  }

  /** Waits until `name` says not ready at least once; returns how long that took. */
  async waitNotReady(name: ServiceName, timeoutMs: number): Promise<number> {
    const t0 = Date.now();
    await waitFor(
      `${name} not ready`,
      async () => ((await this.readyz(name)).ready ? undefined : true),
      timeoutMs,
      250,
    );
    return Date.now() - t0;
  }

  rssMb(name: ServiceName): number {
    const pid = this.services.get(name)?.child.pid;
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
  }

  unexpectedExits(): Record<string, (number | string | null)[]> {
    return Object.fromEntries(
      [...this.services.values()]
        .filter((s) => s.unexpectedExits.length > 0)
        .map((s) => [s.name, s.unexpectedExits]),
    );
  }

  receiverUrl(): string {
    return `http://127.0.0.1:${this.services.get('receiver-app-store')?.port}`;
  }
}

// ------------------------------------------------------------------------------------------ the store

/**
 * Sends notifications as Apple does: POST, and on anything but 200 the same body again later until it is
 * accepted. Remembers which notifications were answered 200 (what Storeline promised to keep) and how
 * many answers were 503.
 */
export class AppleLikeSender {
  readonly accepted = new Set<string>();
  readonly outstanding = new Map<string, { body: Buffer; tries: number; nextAt: number }>();
  statuses = new Map<number, number>();
  readonly transportErrors = new Map<string, number>();
  /** Longest time no request was answered 200 while some were sent (a 503 gap). */
  longestGapMs = 0;
  private lastOk = Date.now();
  private timer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private seq = 0;
  private inFlight = 0;

  constructor(
    private readonly url: () => string,
    private readonly pki: Pki,
    private readonly subscriptions = 120,
  ) {}

  /** A fresh, distinct notification for one of a fixed set of subscriptions. */
  next(): { id: string; body: Buffer } {
    const i = this.seq++;
    const types = ['SUBSCRIBED', 'DID_RENEW', 'DID_CHANGE_RENEWAL_STATUS', 'DID_RENEW', 'EXPIRED'] as const;
    const type = types[i % types.length] as string;
    const subtype = type === 'SUBSCRIBED' ? 'INITIAL_BUY' : type === 'EXPIRED' ? 'VOLUNTARY' : undefined;
    const n = notification(type, subtype, {
      tx: {
        originalTransactionId: `7${String(i % this.subscriptions).padStart(11, '0')}`,
        transactionId: `8${i}`,
      },
    });
    n.payload.notificationUUID = randomUUID();
    n.payload.signedDate = 1_760_000_000_000 + i * 1000;
    return { id: n.payload.notificationUUID, body: signedBody(n, this.pki) };
  }

  /** Sends `perSecond` new notifications every second until stop(); retries outstanding ones every second. */
  start(perSecond: number): void {
    this.stop(); // one load loop at a time
    const tick = 100;
    let carry = 0;
    this.timer = setInterval(() => {
      carry += (perSecond * tick) / 1000;
      for (; carry >= 1; carry--) {
        const { id, body } = this.next();
        this.outstanding.set(id, { body, tries: 0, nextAt: 0 });
        void this.send(id);
      }
    }, tick);
    this.retryTimer = setInterval(() => this.retryOutstanding(), 1000);
  }

  stop(): void {
    clearInterval(this.timer);
    clearInterval(this.retryTimer);
  }

  /** Retries until every notification ever sent was answered 200. */
  async settle(timeoutMs: number): Promise<void> {
    await waitFor(
      'every notification accepted',
      async () => {
        if (this.outstanding.size === 0 && this.inFlight === 0) return true;
        this.retryOutstanding();
        return undefined;
      },
      timeoutMs,
      1000,
    );
  }

  async sendOne(body: Buffer, path = '/app-store/v2'): Promise<number> {
    const r = await fetch(`${this.url()}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
      signal: AbortSignal.timeout(10_000),
    }).catch((err: unknown) => {
      // Kept for the post-mortem: which transport failures the sender met (reported with the statuses).
      const why =
        err instanceof Error ? `${err.message}${err.cause ? `: ${String(err.cause)}` : ''}` : String(err);
      this.transportErrors.set(why, (this.transportErrors.get(why) ?? 0) + 1);
      return undefined;
    });
    const status = r?.status ?? 0;
    await r?.arrayBuffer().catch(() => undefined);
    this.statuses.set(status, (this.statuses.get(status) ?? 0) + 1);
    return status;
  }

  /** Like Apple's retry schedule, but compressed: 1 s, 2 s, 4 s … capped at 16 s. */
  private retryOutstanding(): void {
    const now = Date.now();
    for (const [id, o] of this.outstanding) {
      if (o.tries > 0 && o.nextAt <= now && !this.sending.has(id)) void this.send(id);
    }
  }

  private readonly sending = new Set<string>();

  private async send(id: string): Promise<void> {
    const o = this.outstanding.get(id);
    if (!o) return;
    o.tries++;
    this.sending.add(id);
    this.inFlight++;
    try {
      const status = await this.sendOne(o.body);
      const now = Date.now();
      if (status === 200) {
        this.longestGapMs = Math.max(this.longestGapMs, now - this.lastOk);
        this.lastOk = now;
        this.accepted.add(id);
        this.outstanding.delete(id);
      } else {
        o.nextAt = now + Math.min(1000 * 2 ** (o.tries - 1), 16_000);
      }
    } finally {
      this.inFlight--;
      this.sending.delete(id);
    }
  }

  /** Resets the 503-gap measurement (call when a phase starts). */
  resetGap(): void {
    this.longestGapMs = 0;
    this.lastOk = Date.now();
  }
}

// ------------------------------------------------------------------------------------------ checks

export interface Exactness {
  accepted: number;
  events: number;
  distinctEventIds: number;
  duplicateEventIds: number;
  missingNotifications: number;
  /** A few of the missing notification ids, for the post-mortem (raw topic, DLQs, claims table). */
  missingSample: string[];
  /** A few duplicated eventIds, each copy as `canonical partition@offset <- raw partition@offset`. */
  duplicateSample: Record<string, string[]>;
}

/**
 * Reads the canonical topic read_committed from the beginning and checks that every accepted notification
 * has its event, and that no eventId appears twice.
 */
export async function canonicalExactness(
  env: StackEnv,
  names: TopicNames,
  accepted: Set<string>,
  timeoutMs = 180_000,
): Promise<Exactness> {
  const kafka = kafkaOf(env);
  const codec = codecFor<SubscriptionEvent>(createRegistry(env.registryUrl), names, 'subscriptionEvents');
  let last: Exactness | undefined;
  await waitFor(
    'every accepted notification on the canonical topic',
    async () => {
      // Only the normalizer's records: earlier drains left their fence records (not events) on the topic.
      // A drain that times out (a transaction still open holds read_committed readers back until it ends)
      // is tried again until the deadline, never answered with an older count.
      const drained = await drainTopic(kafka, names.name('subscriptionEvents'), 60_000).catch(
        () => undefined,
      );
      if (!drained) return undefined;
      const records = drained.filter((r) => r.message.headers?.['event-id'] !== undefined);
      const ids = records.map((r) => r.message.headers?.['event-id']?.toString() ?? '');
      const distinct = new Set(ids);
      const events = await Promise.all(records.map((r) => codec.decode(r.message.value as Buffer)));
      const notifications = new Set(events.map((e) => e.source.notificationId));
      const missingIds = [...accepted].filter((id) => !notifications.has(id));
      const missing = missingIds.length;
      last = {
        accepted: accepted.size,
        events: ids.length,
        distinctEventIds: distinct.size,
        duplicateEventIds: ids.length - distinct.size,
        missingNotifications: missing,
        missingSample: missingIds.slice(0, 5),
        duplicateSample: duplicateSample(records, events, ids),
      };
      return missing === 0 ? last : undefined;
    },
    timeoutMs,
    5000,
  ).catch((err) => {
    if (!last) throw err;
  });
  return last as Exactness; // after the deadline: the latest complete reading, with what is still missing
}

function duplicateSample(
  records: Collected[],
  events: SubscriptionEvent[],
  ids: string[],
): Record<string, string[]> {
  const copies = new Map<string, string[]>();
  ids.forEach((id, i) => {
    const r = records[i] as Collected;
    const s = (events[i] as SubscriptionEvent).source;
    const where = `${r.partition}@${r.message.offset} <- ${s.rawPartition}@${s.rawOffset}`;
    copies.set(id, [...(copies.get(id) ?? []), where]);
  });
  return Object.fromEntries([...copies].filter(([, c]) => c.length > 1).slice(0, 5));
}

/** The live state tables against a rebuild from the topic by `storeline state rebuild`. */
export async function stateEqualsRebuild(p: Pipeline): Promise<{ subscriptions: number; equal: boolean }> {
  const rebuildSchema = `${p.stateSchema}_rebuild`;
  const cli = spawnSync(
    process.execPath,
    [
      '--require',
      'tsx/cjs',
      resolve(ROOT, 'services/cli/main.ts'),
      'state',
      'rebuild',
      '--schema',
      rebuildSchema,
    ],
    {
      env: {
        ...process.env,
        KAFKA_BROKERS: p.env.brokers.join(','),
        SCHEMA_REGISTRY_URL: p.env.registryUrl,
        DATABASE_URL: p.env.databaseUrl,
        TOPIC_PREFIX: p.names.prefix,
      },
      encoding: 'utf8',
    },
  );
  if (cli.status !== 0) throw new Error(`state rebuild failed: ${cli.stderr}`);
  const live = createPool(p.env.databaseUrl, p.stateSchema);
  const rebuilt = createPool(p.env.databaseUrl, rebuildSchema);
  try {
    const strip = (m: Awaited<ReturnType<typeof allStates>>) =>
      JSON.stringify(
        [...m]
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([k, f]) => [k, { ...f, state: { ...f.state, updatedAt: 0 } }]),
      );
    const a = await allStates(live);
    const b = await allStates(rebuilt);
    return { subscriptions: a.size, equal: strip(a) === strip(b) };
  } finally {
    await live.end();
    await rebuilt.end();
  }
}

/** Terminates every backend of the stack's database but our own (what a restart or failover does). */
export async function terminateBackends(env: StackEnv): Promise<number> {
  const pool = new Pool({ connectionString: env.databaseUrl, max: 1 });
  try {
    const db = new URL(env.databaseUrl).pathname.slice(1);
    const r = await pool.query(
      'SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
      [db],
    );
    return r.rows[0].n as number;
  } finally {
    await pool.end();
  }
}

/** Sums a Prometheus counter or gauge (all label sets) from a service's /metrics. */
export async function metric(p: Pipeline, name: ServiceName, metricName: string): Promise<number> {
  const text = await fetch(`http://127.0.0.1:${p.services.get(name)?.port}/metrics`)
    .then((r) => r.text())
    .catch(() => '');
  return text
    .split('\n')
    .filter((l) => l.startsWith(`${metricName}{`) || l.startsWith(`${metricName} `))
    .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One line of figures per scenario, printed so CI logs carry them. */
export function report(scenario: string, figures: Record<string, unknown>): void {
  process.stdout.write(`[chaos] ${scenario}: ${JSON.stringify(figures)}\n`);
}
