/**
 * P5: how fast the fan-out delivers to one endpoint that answers in a fixed time, when the load is there:
 * `count` canonical events are produced first, then the webhook-fanout process starts and drains them to
 * an endpoint process (bench/endpoint.ts). Prints deliveries/s (first to last arrival), the endpoint's
 * highest concurrency seen, and CPU-ms per delivery of the fan-out process and of its PostgreSQL backends
 * (found by application_name, from /proc/<pid>/stat).
 * Usage: npm run bench:p5 [-- <count> <endpoint answer delay ms> <endpoint maxConcurrency>]
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { codecFor, createRegistry } from '../lib/platform/avro';
import { createPool, migrate } from '../lib/platform/db';
import type { SubscriptionEvent } from '../lib/core/generated/avro';
import { EndpointManager } from '../lib/adapters/webhooks/endpoints';
import { SsrfGuard } from '../lib/adapters/webhooks/ssrf';
import { WEBHOOK_MIGRATIONS } from '../lib/adapters/webhooks/store/migrations';
import { freePort } from '../test/support/http';
import { realSampleEvents } from '../test/support/state';
import {
  backendCpu,
  cpuMs,
  freshTopics,
  kafkaClient,
  machine,
  ready,
  service,
  stack,
  startEndpoints,
} from './common';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function main(): Promise<void> {
  const count = Number(process.argv[2] ?? 5000);
  const delayMs = Number(process.argv[3] ?? 50);
  const ceiling = Number(process.argv[4] ?? 64);
  const { brokers, registryUrl, databaseUrl } = stack();
  const kafka = kafkaClient(brokers);
  const names = await freshTopics(kafka);
  const schema = `bench_${randomBytes(4).toString('hex')}`;
  const pool = createPool(databaseUrl, schema);
  await migrate(pool, schema, WEBHOOK_MIGRATIONS);
  const manager = new EndpointManager(pool, new SsrfGuard(['127.0.0.1/32']), {
    maxConcurrency: ceiling,
    timeoutMs: 15_000,
  });
  const endpoints = await startEndpoints([{ delayMs }]);
  const appId = `com.p5.${randomBytes(3).toString('hex')}`;
  await manager.create({ url: endpoints.urls[0]!, appIds: [appId] });

  const codec = codecFor<SubscriptionEvent>(createRegistry(registryUrl), names, 'subscriptionEvents');
  await codec.register();
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const template = realSampleEvents()[0]!;
  for (let i = 0; i < count; i += 500) {
    const messages = Array.from({ length: Math.min(500, count - i) }, (_, j) => {
      const e = {
        ...template,
        eventId: `app_store:${randomUUID()}:0`,
        appId,
        subscriptionKey: `p5-${i + j}`,
      };
      return { key: e.subscriptionKey, value: codec.encode(e) };
    });
    await producer.send({ topic: names.name('subscriptionEvents'), acks: -1, messages });
  }
  await producer.disconnect();

  const app = `storeline-bench-p5-${randomBytes(3).toString('hex')}`;
  const port = await freePort();
  const fanout = service('services/webhook-fanout/main.ts', {
    KAFKA_BROKERS: brokers.join(','),
    SCHEMA_REGISTRY_URL: registryUrl,
    TOPIC_PREFIX: names.prefix,
    PORT: String(port),
    DATABASE_URL: databaseUrl,
    WEBHOOK_DB_SCHEMA: schema,
    WEBHOOK_GROUP_ID: `bench-${randomBytes(3).toString('hex')}`,
    WEBHOOK_API_KEYS: 'bench-admin-key-0123456789',
    WEBHOOK_ALLOWED_CIDRS: '127.0.0.1/32',
    PGAPPNAME: app,
  });
  const backends = backendCpu(pool, app);
  try {
    await ready(port);
    const cpu0 = cpuMs(fanout.pid!)!;
    await backends.sample();
    const before = (await endpoints.counts())[0]!;
    for (let i = 0; i < 1200 && (await endpoints.counts())[0]! < count; i++) await sleep(100);
    const cpu1 = cpuMs(fanout.pid!)!;
    await backends.sample();
    const pgMs = backends.stop();
    const [server] = await endpoints.dump();
    // Dispatch rounds per delivery (the counter exists since rounds claim for every endpoint at once).
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const rounds = /^storeline_webhook_dispatch_rounds_total(?:\{[^}]*\})? (\d+)/m.exec(metrics)?.[1];
    const times = [...server!.arrivals.values()].sort((a, b) => a - b);
    const spanS = (times[times.length - 1]! - times[0]!) / 1000;
    console.log(
      JSON.stringify(
        {
          bench: 'P5',
          machine: machine(),
          count,
          endpointDelayMs: delayMs,
          maxConcurrency: ceiling,
          delivered: times.length,
          deliveriesPerSecond: Math.round(times.length / spanS),
          endpointMaxConcurrent: server!.maxConcurrent,
          dispatchRounds: rounds === undefined ? null : Number(rounds),
          cpuMsPerDelivery: {
            fanout: Number(((cpu1 - cpu0) / (times.length - before)).toFixed(3)),
            postgres: Number((pgMs / (times.length - before)).toFixed(3)),
          },
        },
        null,
        2,
      ),
    );
  } finally {
    backends.stop();
    fanout.kill('SIGTERM');
    endpoints.close();
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
