/**
 * The services the console looks at, in this process on the shared stack under a fresh topic prefix and
 * fresh database schemas: App Store receiver -> normalizer -> state aggregator, and the webhook fan-out;
 * then the console itself (its app with the runner's ops routes, on an ephemeral port).
 */
import type { Kafka } from 'kafkajs';
import type { Pool } from 'pg';
import { Registry } from 'prom-client';
import type { TopicNames } from '../../lib/core/topics';
import type { SubscriptionEvent } from '../../lib/core/generated/avro';
import { createNormalizer } from '../../lib/adapters/normalizer/normalizer';
import { createAggregator } from '../../lib/adapters/state/aggregator';
import { TRIGGER_MIGRATIONS } from '../../lib/adapters/triggers/store';
import { WEBHOOK_MIGRATIONS } from '../../lib/adapters/webhooks/store/migrations';
import type { AvroCodec } from '../../lib/platform/avro';
import { createPool, migrate } from '../../lib/platform/db';
import { startFanout } from '../kit/fanout';
import { PLAY_MIGRATIONS } from '../../lib/adapters/play/repo';
import { mountOps } from '../../lib/platform/http';
import { createIdempotentProducer } from '../../lib/platform/kafka';
import { buildConsole } from '../../services/console/console';
import { createPki, type Pki } from '../kit/appleSigning';
import { startAppStoreReceiver } from '../support/appStore';
import { stackEnv } from '../support/env';
import { serve } from '../support/http';
import { createCatalogTopics, randomId, testKafka, testLogger } from '../support/kafka';
import { codecs, migratedPool, randomSchema } from '../support/state';

export const ADMIN_KEY = 'admin-operator-key-for-tests';
export const READER_KEY = 'reader-operator-key-for-tests';

export interface ConsoleStack {
  kafka: Kafka;
  names: TopicNames;
  pki: Pki;
  eventCodec: AvroCodec<SubscriptionEvent>;
  statePool: Pool;
  webhookPool: Pool;
  receiverUrl: string;
  consoleUrl: string;
  groups: { normalizer: string; state: string; fanout: string };
  refreshDlqCounts: () => Promise<void>;
  stop: () => Promise<void>;
}

export async function startConsoleStack(): Promise<ConsoleStack> {
  const kafka = testKafka();
  const names = await createCatalogTopics(kafka);
  const { eventCodec, stateCodec } = await codecs(names);
  const { pool: statePool, schema: stateSchema } = await migratedPool();
  const webhookSchema = randomSchema();
  const webhookPool = createPool(stackEnv().databaseUrl, webhookSchema, 10);
  await migrate(webhookPool, webhookSchema, WEBHOOK_MIGRATIONS);
  const triggerSchema = randomSchema();
  const triggerPool = createPool(stackEnv().databaseUrl, triggerSchema, 2);
  await migrate(triggerPool, triggerSchema, TRIGGER_MIGRATIONS);
  const playSchema = randomSchema();
  const playPool = createPool(stackEnv().databaseUrl, playSchema, 1);
  await migrate(playPool, playSchema, PLAY_MIGRATIONS);
  const groups = { normalizer: randomId('norm'), state: randomId('state'), fanout: randomId('fanout') };
  // Run in reverse order at the end: the pools last, after everything using them has stopped.
  const stops: (() => Promise<unknown>)[] = [
    () => Promise.all([statePool.end(), webhookPool.end(), triggerPool.end(), playPool.end()]),
  ];

  const normalizer = createNormalizer({
    kafka,
    logger: testLogger,
    names,
    codec: eventCodec,
    groupId: groups.normalizer,
    transactionalIdPrefix: randomId('norm-tx'),
  });
  await normalizer.start();
  stops.push(() => normalizer.stop());

  const producer = createIdempotentProducer(kafka);
  await producer.connect();
  stops.push(() => producer.disconnect());
  const aggregator = createAggregator({
    kafka,
    pool: statePool,
    producer,
    eventCodec,
    stateCodec,
    names,
    logger: testLogger,
    groupId: groups.state,
  });
  await aggregator.start();
  stops.push(() => aggregator.stop());

  const fanout = await startFanout({
    kafka,
    names,
    pool: webhookPool,
    eventCodec,
    overrides: { groupId: groups.fanout },
  });
  await fanout.service.start();
  stops.push(() => fanout.stop());

  const pki = await createPki();
  const receiver = await startAppStoreReceiver(kafka, names.name('rawAppStore'), {
    extraRoots: [pki.rootDer],
  });
  stops.push(() => receiver.close());

  const metrics = new Registry();
  const built = await buildConsole({
    kafka: testKafka(),
    registryUrl: stackEnv().registryUrl,
    topicPrefix: names.prefix,
    databaseUrl: stackEnv().databaseUrl,
    schemas: { state: stateSchema, triggers: triggerSchema, webhooks: webhookSchema, play: playSchema },
    operators: [
      { name: 'ada', key: ADMIN_KEY, role: 'admin' },
      { name: 'rita', key: READER_KEY, role: 'read-only' },
    ],
    sessionTtlMs: 3_600_000,
    secureCookies: false,
    lagGroups: [groups.normalizer, groups.state, groups.fanout],
    groupPrefix: randomId('console'),
    dlqRefreshMs: 3_600_000,
    allowedCidrs: ['127.0.0.1/32'],
    logger: testLogger,
    metrics,
  });
  mountOps(built.app, { metrics, ready: built.ready });
  const consoleServer = await serve(built.app);
  stops.push(async () => {
    // Open event streams would hold the server's close: the browser is closed before this runs.
    await consoleServer.close();
    await built.close();
  });

  return {
    kafka,
    names,
    pki,
    eventCodec,
    statePool,
    webhookPool,
    receiverUrl: receiver.url,
    consoleUrl: consoleServer.url,
    groups,
    refreshDlqCounts: () => built.dlqCounts.refresh(),
    stop: async () => {
      for (const s of stops.reverse()) await s().catch(() => undefined);
    },
  };
}
