import { parseConfig } from '../../lib/platform/config';
import { StateAggregatorConfig } from './config';

const base = {
  KAFKA_BROKERS: '127.0.0.1:9092',
  SCHEMA_REGISTRY_URL: 'http://127.0.0.1:8081/apis/ccompat/v7',
  DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/storeline',
  STATE_API_KEYS: 'a-long-enough-api-key,another-long-api-key',
};

describe('state-aggregator config', () => {
  it('parses keys and defaults', () => {
    expect(parseConfig(StateAggregatorConfig, base)).toMatchObject({
      ok: true,
      config: {
        STATE_API_KEYS: ['a-long-enough-api-key', 'another-long-api-key'],
        STATE_DB_SCHEMA: 'storeline_state',
        PORT: 8091,
      },
    });
  });

  it('refuses short API keys and bad schema names, naming them', () => {
    const r = parseConfig(StateAggregatorConfig, {
      ...base,
      STATE_API_KEYS: 'short',
      STATE_DB_SCHEMA: 'Robert"); DROP',
    });
    expect(r.ok ? [] : r.problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^STATE_API_KEYS\.0: each API key needs at least 16/),
        expect.stringMatching(/^STATE_DB_SCHEMA: /),
      ]),
    );
  });
});
