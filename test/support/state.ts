import { randomBytes } from 'node:crypto';
import type { Kafka } from 'kafkajs';
import { Pool } from 'pg';
import { decodeNotificationV2 } from '../../lib/core/app-store/decode';
import { mapAppStoreV2 } from '../../lib/core/app-store/mapV2';
import { AppleVerifier } from '../../lib/core/app-store/verify';
import { APPLE_ROOT_CA_G3_DER } from '../../lib/core/app-store/appleRoot';
import { AvroCodec, codecFor, createRegistry } from '../../lib/platform/avro';
import { createPool, migrate } from '../../lib/platform/db';
import type { SubscriptionEvent, SubscriptionState } from '../../lib/core/generated/avro';
import { type TopicNames } from '../../lib/core/topics';
import { STATE_MIGRATIONS } from '../../lib/adapters/state/migrations';
import { REAL_SAMPLES } from './appStore';
import { stackEnv } from './env';

export function randomSchema(): string {
  return `t_${randomBytes(6).toString('hex')}`;
}

export async function migratedPool(schema = randomSchema()): Promise<{ pool: Pool; schema: string }> {
  const pool = createPool(stackEnv().databaseUrl, schema);
  await migrate(pool, schema, STATE_MIGRATIONS);
  return { pool, schema };
}

export async function codecs(names: TopicNames) {
  const registry = createRegistry(stackEnv().registryUrl);
  const eventCodec = codecFor<SubscriptionEvent>(registry, names, 'subscriptionEvents');
  const stateCodec = codecFor<SubscriptionState>(registry, names, 'subscriptionState');
  await Promise.all([eventCodec.register(), stateCodec.register()]);
  return { eventCodec, stateCodec };
}

/** The canonical events of the 14 real Apple samples (verified at their signedDate). */
export function realSampleEvents(): SubscriptionEvent[] {
  const verifier = new AppleVerifier({
    trustedRoots: [APPLE_ROOT_CA_G3_DER],
    bundleIds: null,
    environments: ['Production', 'Sandbox'],
    appAppleIds: [],
    effectiveDate: 'signed-date',
  });
  return REAL_SAMPLES.flatMap((s, i) =>
    mapAppStoreV2(decodeNotificationV2(verifier.verifyNotificationV2(s.body, Date.now())), {
      receivedAt: 1_795_000_000_000 + i,
      rawTopic: 'raw',
      rawPartition: 0,
      rawOffset: i,
    }),
  );
}

export async function produceEvents(
  kafka: Kafka,
  topic: string,
  codec: AvroCodec<SubscriptionEvent>,
  events: SubscriptionEvent[],
): Promise<void> {
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  for (let i = 0; i < events.length; i += 100) {
    await producer.send({
      topic,
      acks: -1,
      messages: events.slice(i, i + 100).map((e) => ({ key: e.subscriptionKey, value: codec.encode(e) })),
    });
  }
  await producer.disconnect();
}
