/**
 * `expect(bytes).toBeConfluentWireFormat(schemaId, avroPayload?)`: magic byte 0, the registry's schema id as
 * a 4-byte big-endian integer, then the Avro binary (compared byte for byte when given). Importing this
 * module registers the matcher.
 */
declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace -- jest declares its matcher types in a namespace
  namespace jest {
    interface Matchers<R> {
      toBeConfluentWireFormat(schemaId: number, avroPayload?: Buffer): R;
    }
  }
}

function wireProblem(received: unknown, schemaId: number, avroPayload?: Buffer): string | undefined {
  if (!Buffer.isBuffer(received)) return `expected a Buffer, got ${typeof received}`;
  if (received.length < 5) return `expected at least 5 bytes, got ${received.length}`;
  if (received[0] !== 0) return `expected magic byte 0, got ${received[0]}`;
  const id = received.readInt32BE(1);
  if (id !== schemaId) return `expected schema id ${schemaId}, got ${id}`;
  if (avroPayload && !received.subarray(5).equals(avroPayload)) return 'the Avro payload differs';
  return undefined;
}

expect.extend({
  toBeConfluentWireFormat(received: unknown, schemaId: number, avroPayload?: Buffer) {
    const problem = wireProblem(received, schemaId, avroPayload);
    return {
      pass: problem === undefined,
      message: () =>
        problem ??
        `expected not Confluent wire format with schema id ${schemaId}${avroPayload ? ' and payload' : ''}`,
    };
  },
});

export {};
