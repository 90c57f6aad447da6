/**
 * P3: end to end, receiver accept (its 200) -> webhook received, at a fixed rate of App Store V2
 * notifications through receiver-app-store, normalizer and webhook-fanout, each its own process; the load
 * generator (bench/paced.ts) and the endpoints (bench/endpoint.ts) are processes of their own too, and
 * this process only taps the canonical topic and orchestrates.
 * P4: isolation: healthy endpoints' delivery latency (canonical event produced -> webhook received) at a
 * fixed rate, without and with one extra endpoint that never answers, in alternating phases (P4_ROUNDS
 * pairs, default 2), each kind's latencies pooled.
 * Usage: npm run bench:p3p4 [-- <rate/s> <seconds> [endpoint answer delay ms, default 0]
 *   [endpoints' maxConcurrency, default 10]]
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { notification } from '../test/kit/builders/appStore';
import { codecFor, createRegistry } from '../lib/platform/avro';
import { createPool, migrate } from '../lib/platform/db';
import type { SubscriptionEvent } from '../lib/core/generated/avro';
import { EndpointManager } from '../lib/adapters/webhooks/endpoints';
import { SsrfGuard } from '../lib/adapters/webhooks/ssrf';
import { WEBHOOK_MIGRATIONS } from '../lib/adapters/webhooks/store/migrations';
import { createPki, signedBody } from '../test/kit/appleSigning';
import { freePort } from '../test/support/http';
import { realSampleEvents } from '../test/support/state';
import {
  freshTopics,
  kafkaClient,
  machine,
  quantiles,
  ready,
  runTs,
  service as proc,
  stack,
  startEndpoints,
} from './common';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Paces `send` at `perSecond` (open loop) from this process: P4's producer of canonical events. */
async function paced<T>(items: T[], perSecond: number, send: (item: T) => Promise<void>): Promise<void> {
  const t0 = performance.now();
  const inFlight: Promise<void>[] = [];
  for (let i = 0; i < items.length; i++) {
    const due = t0 + (i * 1000) / perSecond;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    inFlight.push(send(items[i]!));
  }
  await Promise.all(inFlight);
}

async function main(): Promise<void> {
  const perSecond = Number(process.argv[2] ?? 200);
  const seconds = Number(process.argv[3] ?? 30);
  const delayMs = Number(process.argv[4] ?? 0);
  const maxConcurrency = Number(process.argv[5] ?? 10);
  const { brokers, registryUrl, databaseUrl } = stack();
  const kafka = kafkaClient(brokers);
  const names = await freshTopics(kafka);
  const schema = `bench_${randomBytes(4).toString('hex')}`;
  const pool = createPool(databaseUrl, schema);
  await migrate(pool, schema, WEBHOOK_MIGRATIONS);
  const manager = new EndpointManager(pool, new SsrfGuard(['127.0.0.1/32']), {
    maxConcurrency,
    timeoutMs: 15_000,
  });
  const pki = await createPki();
  const rootFile = join(tmpdir(), `storeline-bench-root-${process.pid}.der`);
  writeFileSync(rootFile, pki.rootDer);

  const app = `com.bench.${randomBytes(3).toString('hex')}`;
  const e2eProc = await startEndpoints([{ delayMs }]);
  await manager.create({ url: e2eProc.urls[0]!, appIds: [app] });
  const common = {
    KAFKA_BROKERS: brokers.join(','),
    SCHEMA_REGISTRY_URL: registryUrl,
    TOPIC_PREFIX: names.prefix,
  };
  const [pr, pn, pf] = [await freePort(), await freePort(), await freePort()];
  const children = [
    proc('services/receiver-app-store/main.ts', {
      ...common,
      PORT: String(pr),
      HOST: '127.0.0.1',
      APPLE_BUNDLE_IDS: app,
      APPLE_ENVIRONMENTS: 'Sandbox',
      APPLE_ROOT_CERTS: rootFile,
      APPLE_ROOT_DEFAULT: 'false',
    }),
    proc('services/normalizer/main.ts', {
      ...common,
      PORT: String(pn),
      NORMALIZER_GROUP_ID: `bench-${randomBytes(3).toString('hex')}`,
      NORMALIZER_TRANSACTIONAL_ID: `bench-${randomBytes(3).toString('hex')}`,
    }),
    proc('services/webhook-fanout/main.ts', {
      ...common,
      PORT: String(pf),
      DATABASE_URL: databaseUrl,
      WEBHOOK_DB_SCHEMA: schema,
      WEBHOOK_GROUP_ID: `bench-${randomBytes(3).toString('hex')}`,
      WEBHOOK_API_KEYS: 'bench-admin-key-0123456789',
      WEBHOOK_ALLOWED_CIDRS: '127.0.0.1/32',
      WEBHOOK_POLL_INTERVAL: '50ms',
    }),
  ];
  try {
    await Promise.all([ready(pr), ready(pn), ready(pf)]);

    // P3: receiver accept -> webhook received.
    const total = perSecond * seconds;
    const bodies = Array.from({ length: total }, (_, i) => {
      const n = notification('DID_RENEW', undefined, {
        tx: { originalTransactionId: `6000${i}`, bundleId: app, environment: 'Sandbox' },
        data: { bundleId: app },
      });
      n.payload.notificationUUID = randomUUID();
      return { id: `app_store:${n.payload.notificationUUID}:0`, body: signedBody(n, pki).toString() };
    });
    // Where the time goes: the canonical record's timestamp (set by the normalizer when it produced it).
    const produced = new Map<string, number>();
    const tap = kafka.consumer({ groupId: `bench-tap-${randomBytes(3).toString('hex')}` });
    await tap.connect();
    await tap.subscribe({ topics: [names.name('subscriptionEvents')], fromBeginning: true });
    await tap.run({
      eachMessage: async ({ message }) => {
        const id = message.headers?.['event-id']?.toString();
        if (id) produced.set(id, Number(message.timestamp));
      },
    });
    const bodiesFile = join(tmpdir(), `storeline-bench-bodies-${process.pid}.jsonl`);
    writeFileSync(bodiesFile, bodies.map((b) => JSON.stringify(b)).join('\n') + '\n');
    const load = JSON.parse(
      await runTs('bench/paced.ts', [`http://127.0.0.1:${pr}/app-store/v2`, bodiesFile, String(perSecond)]),
    ) as { accepted: [string, number][]; rejected: number };
    rmSync(bodiesFile, { force: true });
    const accepted = new Map(load.accepted);
    const rejected = load.rejected;
    for (let i = 0; i < 600 && (await e2eProc.counts())[0]! < accepted.size; i++) await sleep(100);
    const e2e = (await e2eProc.dump())[0]!;
    e2eProc.close();
    await tap.disconnect();
    const toCanonical = quantiles(
      [...accepted].filter(([id]) => produced.has(id)).map(([id, t]) => produced.get(id)! - t),
    );
    const p3 = quantiles(
      [...accepted].filter(([id]) => e2e.arrivals.has(id)).map(([id, t]) => e2e.arrivals.get(id)! - t),
    );

    // P4: healthy endpoints' latency from produce to receipt, without and with a dead endpoint.
    const codec = codecFor<SubscriptionEvent>(createRegistry(registryUrl), names, 'subscriptionEvents');
    await codec.register();
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const template = realSampleEvents()[0]!;
    const phase = async (withDead: boolean) => {
      const appId = `com.p4.${randomBytes(3).toString('hex')}`;
      const servers = await startEndpoints([
        { delayMs },
        { delayMs },
        { delayMs },
        ...(withDead ? [{ hang: true }] : []),
      ]);
      const ids: string[] = [];
      for (const url of servers.urls) ids.push((await manager.create({ url, appIds: [appId] })).endpoint.id);
      const events = Array.from({ length: total }, (_, i) => ({
        ...template,
        eventId: `app_store:${randomUUID()}:0`,
        appId,
        subscriptionKey: `app_store:p4-${i}`,
      }));
      const sent = new Map<string, number>();
      await paced(events, perSecond, async (e) => {
        await producer.send({
          topic: names.name('subscriptionEvents'),
          acks: -1,
          messages: [{ key: e.subscriptionKey, value: codec.encode(e) }],
        });
        sent.set(e.eventId, performance.timeOrigin + performance.now());
      });
      const healthyDone = async () => (await servers.counts()).slice(0, 3).every((n) => n >= total);
      for (let i = 0; i < 600 && !(await healthyDone()); i++) await sleep(100);
      const healthy = (await servers.dump()).slice(0, 3);
      // The phase's endpoints leave with it: the dead one's backlog must not weigh on the next phase.
      for (const id of ids) await manager.setEnabled(id, false, 'bench phase over');
      servers.close();
      return healthy.flatMap((h) => [...h.arrivals].map(([id, t]) => t - sent.get(id)!));
    };
    // Phases alternate (without, with, without, with, …) and each kind's latencies are pooled: on a busy
    // two-core machine one phase against the next varies by more than the 10 % this measures.
    const rounds = Number(process.env.P4_ROUNDS ?? 2);
    const pooled = { without: [] as number[], with: [] as number[] };
    const phases: { withDead: boolean; p99: number }[] = [];
    for (let r = 0; r < rounds; r++) {
      for (const withDead of [false, true]) {
        const latencies = await phase(withDead);
        pooled[withDead ? 'with' : 'without'].push(...latencies);
        phases.push({ withDead, p99: quantiles(latencies).p99 });
      }
    }
    const p4Without = quantiles(pooled.without);
    const p4With = quantiles(pooled.with);
    await producer.disconnect();
    console.log(
      JSON.stringify(
        {
          bench: 'P3+P4',
          machine: machine(),
          ratePerSecond: perSecond,
          seconds,
          endpointDelayMs: delayMs,
          maxConcurrency,
          p3: {
            accepted: accepted.size,
            rejected,
            delivered: p3.count,
            latencyMs: p3,
            acceptToCanonicalMs: toCanonical,
          },
          p4: {
            healthyWithoutDeadEndpoint: p4Without,
            healthyWithDeadEndpoint: p4With,
            p99Change: Number(((p4With.p99 - p4Without.p99) / p4Without.p99).toFixed(2)),
            phases,
          },
        },
        null,
        2,
      ),
    );
  } finally {
    for (const c of children) c.kill('SIGTERM');
    await pool.end();
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
