import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { AvroSchemaParser } from '@asyncapi/avro-schema-parser';
import { Parser } from '@asyncapi/parser';
import { TOPICS } from '../lib/core/topics';
import { asyncApiYaml } from './asyncapi';

const FILE = resolve(__dirname, '../schemas/asyncapi.yaml');

describe('AsyncAPI document (schemas/asyncapi.yaml)', () => {
  it('is fresh: regenerate with `npm run gen:asyncapi` after changing topics or schemas', () => {
    expect(readFileSync(FILE, 'utf8')).toBe(asyncApiYaml());
  });

  it('is valid AsyncAPI 3.0 with valid Avro payloads, one channel per catalog topic', async () => {
    const parser = new Parser();
    parser.registerSchemaParser(AvroSchemaParser());
    const { document, diagnostics } = await parser.parse(readFileSync(FILE, 'utf8'));
    // Severity 0 is an error; warnings (style hints) are allowed.
    expect(
      diagnostics.filter((d) => d.severity === 0).map((d) => `${d.path.join('.')}: ${d.message}`),
    ).toEqual([]);
    expect(document).toBeDefined();
    const addresses = document!
      .channels()
      .all()
      .map((c) => c.address());
    expect(addresses.sort()).toEqual(
      Object.values(TOPICS)
        .map((t) => t.name)
        .sort(),
    );
    const events = document!
      .channels()
      .all()
      .find((c) => c.address() === TOPICS.subscriptionEvents.name)!;
    const payload = events.messages().all()[0]!.payload()!;
    // The Avro schema was converted: the canonical event's fields are there.
    expect(Object.keys(payload.properties() ?? {})).toEqual(
      expect.arrayContaining(['eventId', 'type', 'subscriptionKey']),
    );
  });
});
