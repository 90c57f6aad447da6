/**
 * The whole pipeline as processes (the entries scripts/run-local.ts starts): receiver-app-store,
 * receiver-play-store, normalizer, state-aggregator, churn-triggers and webhook-fanout, on fresh topics
 * and schemas; the load generator (bench/paced.ts) sends `count` signed App Store V2 notifications at
 * `rate`/s, one webhook endpoint (bench/endpoint.ts) answers in `delayMs`. Prints end-to-end latency
 * (receiver's 200 -> webhook arrival) p50/p95/p99 and CPU-ms per notification per component: each
 * service process and its PostgreSQL backends (by application_name), Kafka and the registry (their pid
 * files under .stack/run), all from /proc/<pid>/stat over the run.
 * PIPELINE_COHOSTED=1 runs state-aggregator, churn-triggers and webhook-fanout in one process (bench/cohosted.ts);
 * PIPELINE_COHOSTED=shared also makes their consumers one group sharing one fetch (bench/sharedFetch.ts).
 * Usage: npm run bench:pipeline [-- <rate/s> <count> [endpoint answer delay ms, default 50]]
 */
import type { ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { notification } from '../test/kit/builders/appStore';
import { createPool, migrate } from '../lib/platform/db';
import { EndpointManager } from '../lib/adapters/webhooks/endpoints';
import { SsrfGuard } from '../lib/adapters/webhooks/ssrf';
import { WEBHOOK_MIGRATIONS } from '../lib/adapters/webhooks/store/migrations';
import { createPki, signedBody } from '../test/kit/appleSigning';
import { freePort } from '../test/support/http';
import {
  backendCpu,
  counters,
  cpuMs,
  freshTopics,
  kafkaClient,
  machine,
  quantiles,
  ready,
  runTs,
  service,
  stack,
  stackPid,
  startEndpoints,
  untilExit,
} from './common';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const id = () => randomBytes(3).toString('hex');

interface Running {
  name: string;
  child: ChildProcess;
  port: number;
  app: string;
}

async function main(): Promise<void> {
  const rate = Number(process.argv[2] ?? 100);
  const count = Number(process.argv[3] ?? 3000);
  const delayMs = Number(process.argv[4] ?? 50);
  const mode = process.env.PIPELINE_COHOSTED ?? '';
  if (!['', '1', 'shared'].includes(mode))
    throw new Error(`PIPELINE_COHOSTED must be 1 or shared, not ${mode}`);
  const { brokers, registryUrl, databaseUrl } = stack();
  const kafka = kafkaClient(brokers);
  const names = await freshTopics(kafka);
  const run = id();
  const schemas = { webhooks: `bench_wh_${run}`, state: `bench_st_${run}`, triggers: `bench_tr_${run}` };
  const pool = createPool(databaseUrl, schemas.webhooks);
  await migrate(pool, schemas.webhooks, WEBHOOK_MIGRATIONS);
  const app = `com.pipeline.${run}`;
  // Two endpoints: the first gets the renewals (the end-to-end measure), the second everything,
  // engagement triggers included (~2 deliveries per notification in all, as in the local setup).
  const endpoints = await startEndpoints([{ delayMs }, { delayMs }]);
  const manager = new EndpointManager(pool, new SsrfGuard(['127.0.0.1/32']), {
    maxConcurrency: Number(process.env.BENCH_MAX_CONCURRENCY ?? 64),
    timeoutMs: 15_000,
  });
  await manager.create({ url: endpoints.urls[0]!, appIds: [app], eventTypes: ['subscription.RENEWED'] });
  await manager.create({ url: endpoints.urls[1]!, appIds: [app] });
  const pki = await createPki();
  const rootFile = join(tmpdir(), `storeline-bench-root-${process.pid}.der`);
  writeFileSync(rootFile, pki.rootDer);

  const common = {
    KAFKA_BROKERS: brokers.join(','),
    SCHEMA_REGISTRY_URL: registryUrl,
    TOPIC_PREFIX: names.prefix,
    DATABASE_URL: databaseUrl,
  };
  const defs: [string, string, Record<string, string>][] = [
    [
      'receiver-app-store',
      'services/receiver-app-store/main.ts',
      {
        HOST: '127.0.0.1',
        APPLE_BUNDLE_IDS: app,
        APPLE_ENVIRONMENTS: 'Sandbox',
        APPLE_ROOT_CERTS: rootFile,
        APPLE_ROOT_DEFAULT: 'false',
      },
    ],
    [
      'receiver-play-store',
      'services/receiver-play-store/main.ts',
      {
        HOST: '127.0.0.1',
        PLAY_PACKAGE_NAMES: app,
        PUBSUB_AUTH: 'token',
        PUBSUB_TOKEN: 'bench-push-token',
      },
    ],
    [
      'normalizer',
      'services/normalizer/main.ts',
      { NORMALIZER_GROUP_ID: `bench-norm-${run}`, NORMALIZER_TRANSACTIONAL_ID: `bench-norm-${run}` },
    ],
    [
      'state-aggregator',
      'services/state/main.ts',
      {
        STATE_DB_SCHEMA: schemas.state,
        STATE_GROUP_ID: `bench-state-${run}`,
        STATE_API_KEYS: 'bench-state-api-key-0123456789',
      },
    ],
    [
      'churn-triggers',
      'services/triggers/main.ts',
      {
        TRIGGERS_DB_SCHEMA: schemas.triggers,
        TRIGGERS_GROUP_ID: `bench-triggers-${run}`,
        TRIGGERS_RULES_FILE: 'services/triggers/rules.local.json',
      },
    ],
    [
      'webhook-fanout',
      'services/webhook-fanout/main.ts',
      {
        WEBHOOK_DB_SCHEMA: schemas.webhooks,
        WEBHOOK_GROUP_ID: `bench-fanout-${run}`,
        WEBHOOK_API_KEYS: 'bench-admin-key-0123456789',
        WEBHOOK_ALLOWED_CIDRS: '127.0.0.1/32',
        WEBHOOK_INCLUDE_TRIGGERS: 'true',
      },
    ],
  ];
  // PIPELINE_COHOSTED=1: state, triggers and fan-out in one process (bench/cohosted.ts), each still with
  // its own config, group and port; =shared: one group and one fetch for the three (bench/sharedFetch.ts).
  // The process's PostgreSQL backends are counted together.
  const cohosted = mode ? ['state-aggregator', 'churn-triggers', 'webhook-fanout'] : [];
  const consumersApp = `storeline-bench-consumers-${run}`;
  const services: Running[] = [];
  const guests: { name: string; port: number; entry: string; env: Record<string, string> }[] = [];
  for (const [name, entry, env] of defs) {
    const port = await freePort();
    if (cohosted.includes(name)) {
      guests.push({ name, port, entry, env: { ...env, PORT: String(port), PGAPPNAME: consumersApp } });
      continue;
    }
    const pgApp = `storeline-bench-${name}-${run}`;
    services.push({
      name,
      port,
      app: pgApp,
      child: service(entry, { ...common, ...env, PORT: String(port), PGAPPNAME: pgApp }),
    });
  }
  const host = guests.length
    ? service('bench/cohosted.ts', {
        ...common,
        COHOST: JSON.stringify(guests.map((g) => [g.entry, g.env])),
        ...(mode === 'shared' && { COHOST_SHARED_FETCH: `bench-shared-${run}` }),
      })
    : undefined;
  // Every service's port (readiness, work counters); `services` is what CPU is counted by, one per process.
  const ports = [...services, ...guests.map((g) => ({ name: g.name, port: g.port }))];
  if (host) services.push({ name: 'consumers', port: guests[0]!.port, app: consumersApp, child: host });
  // A service that exits (a co-hosted guest takes the whole process with it) ends the run with its name,
  // instead of a readiness timeout or a run whose CPU sum silently lacks it.
  const watched = services.map((s): [string, ChildProcess] => [s.name, s.child]);
  try {
    await untilExit(watched, Promise.all(ports.map((s) => ready(s.port))));
    const receiver = services[0]!;
    // Each subscription its own user: the builder's default appAccountToken would make every subscription
    // of the run one user's, and churn-triggers reads all of a user's outbox rows for each batch.
    const bodies = Array.from({ length: count }, (_, i) => {
      const n = notification('DID_RENEW', undefined, {
        tx: {
          originalTransactionId: `7000${i}`,
          bundleId: app,
          environment: 'Sandbox',
          appAccountToken: randomUUID(),
        },
        data: { bundleId: app },
      });
      n.payload.notificationUUID = randomUUID();
      return { id: `app_store:${n.payload.notificationUUID}:0`, body: signedBody(n, pki).toString() };
    });
    const bodiesFile = join(tmpdir(), `storeline-bench-pipeline-${process.pid}.jsonl`);
    writeFileSync(bodiesFile, bodies.map((b) => JSON.stringify(b)).join('\n') + '\n');

    const backends = services.map((s) => ({ name: s.name, cpu: backendCpu(pool, s.app) }));
    const infra = { kafka: stackPid('kafka'), registry: stackPid('registry') };
    const cpuOf = () => ({
      ...Object.fromEntries(services.map((s) => [s.name, cpuMs(s.child.pid!) ?? NaN])),
      ...Object.fromEntries(Object.entries(infra).map(([k, pid]) => [k, pid ? (cpuMs(pid) ?? NaN) : NaN])),
    });
    await Promise.all(backends.map((b) => b.cpu.sample()));
    const cpu0 = cpuOf();
    const counts0 = await workCounts(ports);
    const load = JSON.parse(
      await untilExit(
        watched,
        runTs('bench/paced.ts', [`http://127.0.0.1:${receiver.port}/app-store/v2`, bodiesFile, String(rate)]),
      ),
    ) as { accepted: [string, number][]; rejected: number };
    rmSync(bodiesFile, { force: true });
    const accepted = new Map(load.accepted);
    await untilExit(
      watched,
      (async () => {
        for (let i = 0; i < 1200 && (await endpoints.counts())[0]! < accepted.size; i++) await sleep(100);
      })(),
    );
    const cpu1 = cpuOf();
    await Promise.all(backends.map((b) => b.cpu.sample()));
    const [server, all] = await endpoints.dump();
    // In the order the receiver answered; by thirds of the run too, so a backlog that grows shows (each
    // third sliced before undelivered ones are left out, so they cannot shift a third's boundaries).
    const ordered = [...accepted].sort((a, b) => a[1] - b[1]);
    const delays = (list: [string, number][]) =>
      list.filter(([k]) => server!.arrivals.has(k)).map(([k, t]) => server!.arrivals.get(k)! - t);
    const e2e = quantiles(delays(ordered));
    const third = Math.ceil(ordered.length / 3);
    const byThird = [0, 1, 2].map((i) => quantiles(delays(ordered.slice(i * third, (i + 1) * third))).p50);
    const perNotification = (ms: number) => Number((ms / accepted.size).toFixed(2));
    const processes = Object.fromEntries(
      Object.keys(cpu0).map((k) => [k, perNotification(cpu1[k]! - cpu0[k]!)]),
    );
    const postgres = Object.fromEntries(backends.map((b) => [b.name, perNotification(b.cpu.stop())]));
    const work = countsPerNotification(counts0, await workCounts(ports), accepted.size);
    const sum = (o: Record<string, number>) => Object.values(o).reduce((a, b) => a + (b || 0), 0);
    console.log(
      JSON.stringify(
        {
          bench: 'pipeline',
          machine: machine(),
          rate,
          count,
          endpointDelayMs: delayMs,
          accepted: accepted.size,
          rejected: load.rejected,
          delivered: e2e.count,
          deliveriesToTheCatchAllEndpoint: all!.arrivals.size,
          e2eMs: e2e,
          e2eP50ByThirdMs: byThird,
          cpuMsPerNotification: {
            processes,
            postgresBackends: postgres,
            total: Number((sum(processes) + sum(postgres)).toFixed(2)),
          },
          countsPerNotification: work,
        },
        null,
        2,
      ),
    );
  } finally {
    endpoints.close();
    for (const s of services) s.child.kill('SIGTERM');
    rmSync(rootFile, { force: true });
    await pool.end();
  }
}

type Counts = Record<string, Record<string, number>>;

/** The counters that say how work was batched (consumer batches, transactions, dispatch rounds, attempts). */
async function workCounts(services: { name: string; port: number }[]): Promise<Counts> {
  const wanted =
    /^(consumer_batch_duration_seconds_count|transaction_seconds_count|webhook_dispatch_rounds_total|webhook_attempts_total)$/;
  const out: Counts = {};
  for (const s of services) {
    const c = await counters(s.port).catch(() => ({}) as Record<string, number>);
    out[s.name] = Object.fromEntries(Object.entries(c).filter(([k]) => wanted.test(k)));
  }
  return out;
}

/** What the run did per notification: the counters' growth from `before` (idle rounds before the load excluded). */
function countsPerNotification(before: Counts, after: Counts, n: number): Counts {
  const out: Counts = {};
  for (const [name, c] of Object.entries(after)) {
    const grown = Object.entries(c)
      .map(([k, v]): [string, number] => [k, v - (before[name]?.[k] ?? 0)])
      .filter(([, v]) => v > 0);
    if (grown.length) out[name] = Object.fromEntries(grown.map(([k, v]) => [k, Number((v / n).toFixed(3))]));
  }
  return out;
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
