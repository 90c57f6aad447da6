import '../../test/kit/matchers/confluentWire';
import { sampleEvent } from '../../test/kit/builders/events';
import { PoisonMessageError } from '../core/errors';
import { subscriptionEventSchema, type SubscriptionEvent } from '../core/generated/avro';
import { AvroCodec, createRegistry } from './avro';

// A registered schema id: encoding and decoding our own schema never ask the registry.
const codec = new AvroCodec<SubscriptionEvent>(
  createRegistry('http://127.0.0.1:1'),
  'events-value',
  subscriptionEventSchema,
  42,
);

describe('AvroCodec (Confluent wire format)', () => {
  it('frames Avro binary with magic byte 0 and the schema id', () => {
    const event = sampleEvent();
    expect(codec.encode(event)).toBeConfluentWireFormat(42, codec.type.toBuffer(event));
  });

  it('decodes what it encodes', async () => {
    const event = sampleEvent({ type: 'REFUNDED' });
    await expect(codec.decode(codec.encode(event))).resolves.toEqual(event);
  });

  it('refuses bytes that are not the wire format as poison', async () => {
    await expect(codec.decode(Buffer.from('{"json":true}'))).rejects.toBeInstanceOf(PoisonMessageError);
    expect(Buffer.from('{"json":true}')).not.toBeConfluentWireFormat(42);
  });
});
