/**
 * P6: churn-triggers' cost per event: `count` canonical events (a mix that fires, schedules and cancels
 * triggers, a third of them with an appUserId shared by three subscriptions) are produced first, then the
 * churn-triggers process starts and applies them. Prints events/s and CPU-ms per event of the process and
 * of its PostgreSQL backends (found by application_name, from /proc/<pid>/stat).
 * Usage: npm run bench:p6 [-- <count>]
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { codecFor, createRegistry } from '../lib/platform/avro';
import { createPool } from '../lib/platform/db';
import type { EventType, SubscriptionEvent } from '../lib/core/generated/avro';
import { freePort } from '../test/support/http';
import { realSampleEvents } from '../test/support/state';
import { backendCpu, cpuMs, freshTopics, kafkaClient, machine, ready, service, stack } from './common';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const TYPES: EventType[] = [
  'SUBSCRIPTION_STARTED',
  'RENEWED',
  'AUTO_RENEW_DISABLED',
  'EXPIRED',
  'RENEWED',
  'REFUNDED',
  'AUTO_RENEW_ENABLED',
];

function events(count: number): SubscriptionEvent[] {
  const template = realSampleEvents()[0]!;
  const now = Date.now();
  return Array.from({ length: count }, (_, i) => {
    const sub = i % Math.max(1, Math.floor(count / 4));
    return {
      ...template,
      eventId: `app_store:${randomUUID()}:0`,
      type: TYPES[i % TYPES.length]!,
      environment: 'PRODUCTION',
      reason: 'VOLUNTARY',
      subscriptionKey: `app_store:p6-${sub}`,
      appUserId: sub % 3 === 0 ? `user-${Math.floor(sub / 9)}` : null,
      occurredAt: now - (count - i),
      expiresAt: now + 30 * 86_400_000,
    };
  });
}

async function main(): Promise<void> {
  const count = Number(process.argv[2] ?? 5000);
  const { brokers, registryUrl, databaseUrl } = stack();
  const kafka = kafkaClient(brokers);
  const names = await freshTopics(kafka);
  const schema = `bench_${randomBytes(4).toString('hex')}`;
  const codec = codecFor<SubscriptionEvent>(createRegistry(registryUrl), names, 'subscriptionEvents');
  await codec.register();
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const all = events(count);
  for (let i = 0; i < count; i += 500) {
    const messages = all.slice(i, i + 500).map((e) => ({ key: e.subscriptionKey, value: codec.encode(e) }));
    await producer.send({ topic: names.name('subscriptionEvents'), acks: -1, messages });
  }
  await producer.disconnect();

  const app = `storeline-bench-p6-${randomBytes(3).toString('hex')}`;
  const port = await freePort();
  const triggers = service('services/triggers/main.ts', {
    KAFKA_BROKERS: brokers.join(','),
    SCHEMA_REGISTRY_URL: registryUrl,
    TOPIC_PREFIX: names.prefix,
    PORT: String(port),
    DATABASE_URL: databaseUrl,
    TRIGGERS_DB_SCHEMA: schema,
    TRIGGERS_GROUP_ID: `bench-${randomBytes(3).toString('hex')}`,
    PGAPPNAME: app,
  });
  const pool = createPool(databaseUrl, schema);
  const backends = backendCpu(pool, app);
  const applied = async () =>
    (await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM trigger_events')).rows[0]!.n;
  try {
    await ready(port);
    const cpu0 = cpuMs(triggers.pid!)!;
    await backends.sample();
    const before = await applied();
    const t0 = performance.now();
    let n = before;
    for (let i = 0; i < 3000 && n < count; i++) {
      await sleep(100);
      n = await applied();
    }
    const seconds = (performance.now() - t0) / 1000;
    const cpu1 = cpuMs(triggers.pid!)!;
    await backends.sample();
    const pgMs = backends.stop();
    const outbox = await pool.query<{ status: string; n: number }>(
      'SELECT status, count(*)::int AS n FROM trigger_outbox GROUP BY status ORDER BY status',
    );
    console.log(
      JSON.stringify(
        {
          bench: 'P6',
          machine: machine(),
          count,
          applied: n,
          appliedBeforeMeasuring: before,
          eventsPerSecond: Math.round((n - before) / seconds),
          outbox: Object.fromEntries(outbox.rows.map((r) => [r.status, r.n])),
          cpuMsPerEvent: {
            triggers: Number(((cpu1 - cpu0) / (n - before)).toFixed(3)),
            postgres: Number((pgMs / (n - before)).toFixed(3)),
          },
        },
        null,
        2,
      ),
    );
  } finally {
    backends.stop();
    triggers.kill('SIGTERM');
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
