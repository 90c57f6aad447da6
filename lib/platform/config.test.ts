import { z } from 'zod';
import { kafkaEnv, parseConfig, postgresUrl } from './config';

const schema = z.object({ ...kafkaEnv, DATABASE_URL: postgresUrl });
const good = {
  KAFKA_BROKERS: '127.0.0.1:9092, 127.0.0.1:9094',
  SCHEMA_REGISTRY_URL: 'http://127.0.0.1:8081/apis/ccompat/v7',
  DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/storeline',
};

describe('parseConfig', () => {
  it('parses and normalizes a good environment', () => {
    const r = parseConfig(schema, good);
    expect(r).toEqual({
      ok: true,
      config: expect.objectContaining({
        KAFKA_BROKERS: ['127.0.0.1:9092', '127.0.0.1:9094'],
        TOPIC_PREFIX: '',
        LOG_LEVEL: 'info',
      }),
    });
  });

  it('names every bad or missing variable at once', () => {
    const r = parseConfig(schema, {
      KAFKA_BROKERS: 'localhost',
      DATABASE_URL: 'mysql://x',
      LOG_LEVEL: 'loud',
    });
    expect(r.ok).toBe(false);
    const problems = r.ok ? [] : r.problems;
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^KAFKA_BROKERS\.0: each broker must be host:port/),
        'SCHEMA_REGISTRY_URL: is required',
        expect.stringMatching(/^DATABASE_URL: must be a postgres:\/\/ URL/),
        expect.stringMatching(/^LOG_LEVEL: /),
      ]),
    );
  });

  it('treats empty strings as unset', () => {
    const r = parseConfig(schema, { ...good, TOPIC_PREFIX: '' });
    expect(r.ok && r.config.TOPIC_PREFIX).toBe('');
  });
});
