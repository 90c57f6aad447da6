/**
 * A canonical event through the real broker and registry: encode -> produce -> consume -> decode, with the
 * Confluent wire format checked byte by byte.
 */
import { AvroCodec, codecFor, createRegistry } from '../../lib/platform/avro';
import type { SubscriptionEvent } from '../../lib/core/generated/avro';
import { TOPICS } from '../../lib/core/topics';
import { stackEnv } from '../support/env';
import { sampleEvent } from '../kit/builders/events';
import { collect, createCatalogTopics, testKafka, waitForRecords } from '../support/kafka';
import '../kit/matchers/confluentWire';

describe('canonical event round trip (real Kafka + schema registry)', () => {
  it('encodes, produces, consumes and decodes a SubscriptionEvent in Confluent wire format', async () => {
    const kafka = testKafka();
    const names = await createCatalogTopics(kafka);
    const topic = names.name('subscriptionEvents');
    const registry = createRegistry(stackEnv().registryUrl);
    const codec = codecFor<SubscriptionEvent>(registry, names, 'subscriptionEvents');
    const schemaId = await codec.register();

    const event = sampleEvent();
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    await producer.send({
      topic,
      acks: -1,
      messages: [{ key: event.subscriptionKey, value: codec.encode(event) }],
    });
    await producer.disconnect();

    const sink = await collect(kafka, [topic]);
    const [got] = await waitForRecords(sink.records, 1);
    await sink.stop();

    const bytes = got!.message.value as Buffer;
    expect(bytes).toBeConfluentWireFormat(schemaId, codec.type.toBuffer(event));
    expect(got!.message.key?.toString()).toBe(event.subscriptionKey);

    // The registry serves the same schema under that id and subject, and the subject is FULL_TRANSITIVE.
    const registered = await fetch(`${stackEnv().registryUrl}/schemas/ids/${schemaId}`).then((r) => r.json());
    expect(JSON.parse((registered as { schema: string }).schema).name).toBe('SubscriptionEvent');
    const config = await fetch(
      `${stackEnv().registryUrl}/config/${names.subject('subscriptionEvents')}`,
    ).then((r) => r.json());
    expect(config).toEqual({ compatibilityLevel: 'FULL_TRANSITIVE' });

    // Decoding through the registry client (independent of our codec) and through our codec agree.
    expect(await registry.decode(bytes)).toEqual(event);
    expect(await codec.decode(bytes)).toEqual(event);
  });

  it('registers idempotently: the same schema gets the same id', async () => {
    const registry = createRegistry(stackEnv().registryUrl);
    const subject = `${(await createCatalogTopics(testKafka())).name('subscriptionEvents')}-value`;
    const a = new AvroCodec(registry, subject, TOPICS.subscriptionEvents.value.schema);
    const b = new AvroCodec(
      createRegistry(stackEnv().registryUrl),
      subject,
      TOPICS.subscriptionEvents.value.schema,
    );
    expect(await b.register()).toBe(await a.register());
  });
});
