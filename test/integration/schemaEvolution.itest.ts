/**
 * A reader on the committed schema decodes records written with a newer schema that adds an EventType
 * symbol (read as UNKNOWN, the enum's default) and an optional field (ignored). The newer schema is
 * registered under the same subject, so the registry's FULL_TRANSITIVE check passes too.
 */
import { AvroCodec, createRegistry } from '../../lib/platform/avro';
import type { SubscriptionEvent } from '../../lib/core/generated/avro';
import { TOPICS } from '../../lib/core/topics';
import { stackEnv } from '../support/env';
import { sampleEvent } from '../kit/builders/events';
import { randomId } from '../support/kafka';

type Field = { name: string; type: unknown; default?: unknown };
type RecordSchema = { fields: Field[] };

function newerSchema(): RecordSchema {
  const schema = structuredClone(TOPICS.subscriptionEvents.value.schema) as unknown as RecordSchema;
  const typeField = schema.fields.find((f) => f.name === 'type') as Field;
  (typeField.type as { symbols: string[] }).symbols.push('SUBSCRIPTION_TELEPORTED');
  schema.fields.push({ name: 'loyaltyTier', type: ['null', 'string'], default: null });
  return schema;
}

describe('schema evolution (real registry)', () => {
  it('reads a newer writer: unknown enum symbol -> UNKNOWN, new optional field ignored', async () => {
    const subject = `${randomId('evo')}-value`;
    const committed = new AvroCodec<SubscriptionEvent>(
      createRegistry(stackEnv().registryUrl),
      subject,
      TOPICS.subscriptionEvents.value.schema,
    );
    const committedId = await committed.register();

    const newer = new AvroCodec<Record<string, unknown>>(
      createRegistry(stackEnv().registryUrl),
      subject,
      newerSchema() as never,
    );
    const newerId = await newer.register();
    expect(newerId).not.toBe(committedId);

    const written = { ...sampleEvent(), type: 'SUBSCRIPTION_TELEPORTED', loyaltyTier: 'gold' };
    const bytes = newer.encode(written);
    expect(bytes.readInt32BE(1)).toBe(newerId);

    // A fresh reader (empty caches) fetches writer schema `newerId` from the registry to resolve.
    const reader = new AvroCodec<SubscriptionEvent>(
      createRegistry(stackEnv().registryUrl),
      subject,
      TOPICS.subscriptionEvents.value.schema,
      committedId,
    );
    const decoded = await reader.decode(bytes);
    expect(decoded.type).toBe('UNKNOWN');
    expect(decoded).not.toHaveProperty('loyaltyTier');
    expect({ ...decoded, type: 'RENEWED' }).toEqual(sampleEvent());
  });

  it('the registry refuses an incompatible change under FULL_TRANSITIVE', async () => {
    const subject = `${randomId('evo')}-value`;
    await new AvroCodec(
      createRegistry(stackEnv().registryUrl),
      subject,
      TOPICS.subscriptionEvents.value.schema,
    ).register();
    const broken = structuredClone(TOPICS.subscriptionEvents.value.schema) as unknown as RecordSchema;
    // A new required field without a default breaks BACKWARD (new readers cannot read old records).
    broken.fields.push({ name: 'mandatory', type: 'string' });
    await expect(
      new AvroCodec(createRegistry(stackEnv().registryUrl), subject, broken as never).register(),
    ).rejects.toThrow(/schema registration/);
    // An incompatible schema cannot succeed later: not retriable.
    await expect(
      new AvroCodec(createRegistry(stackEnv().registryUrl), subject, broken as never).register(),
    ).rejects.toMatchObject({ retriable: false });
  });

  it('several instances registering a new subject at once all get the same id', async () => {
    const subject = `${randomId('race')}-value`;
    const ids = await Promise.all(
      Array.from({ length: 8 }, () =>
        new AvroCodec<SubscriptionEvent>(
          createRegistry(stackEnv().registryUrl),
          subject,
          TOPICS.subscriptionEvents.value.schema,
        ).register(),
      ),
    );
    expect(new Set(ids).size).toBe(1);
  });
});
