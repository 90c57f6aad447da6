import { parseConfig } from '../../lib/platform/config';
import { WebhookFanoutConfig } from './config';

const base = {
  KAFKA_BROKERS: '127.0.0.1:9092',
  SCHEMA_REGISTRY_URL: 'http://127.0.0.1:8081/apis/ccompat/v7',
  DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/storeline',
  WEBHOOK_API_KEYS: 'a-long-enough-admin-key',
};

describe('webhook-fanout config', () => {
  it('defaults to a schedule over 24 h, 15 s timeouts, nothing allow-listed', () => {
    const r = parseConfig(WebhookFanoutConfig, base);
    if (!r.ok) throw new Error(r.problems.join('; '));
    const total = r.config.WEBHOOK_RETRY_SCHEDULE.reduce((a, b) => a + b, 0);
    expect(total).toBeGreaterThan(24 * 3_600_000);
    expect(r.config.WEBHOOK_RETRY_SCHEDULE[0]).toBe(5_000);
    expect(r.config).toMatchObject({
      WEBHOOK_DEFAULT_TIMEOUT: 15_000,
      WEBHOOK_DISABLE_AFTER: 5 * 86_400_000,
      WEBHOOK_ALLOWED_CIDRS: [],
      WEBHOOK_INCLUDE_TRIGGERS: false,
      PORT: 8093,
    });
  });

  it('parses durations and CIDRs, and names every bad value', () => {
    expect(
      parseConfig(WebhookFanoutConfig, {
        ...base,
        WEBHOOK_RETRY_SCHEDULE: '1s,2m',
        WEBHOOK_ALLOWED_CIDRS: '127.0.0.1/32',
      }),
    ).toMatchObject({
      ok: true,
      config: { WEBHOOK_RETRY_SCHEDULE: [1_000, 120_000], WEBHOOK_ALLOWED_CIDRS: ['127.0.0.1/32'] },
    });
    const r = parseConfig(WebhookFanoutConfig, {
      ...base,
      WEBHOOK_API_KEYS: 'short',
      WEBHOOK_RETRY_SCHEDULE: '5 minutes',
      WEBHOOK_ALLOWED_CIDRS: 'localhost',
      WEBHOOK_DEFAULT_TIMEOUT: '5m',
    });
    expect(r.ok ? [] : r.problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^WEBHOOK_API_KEYS/),
        expect.stringMatching(/^WEBHOOK_RETRY_SCHEDULE: "5 minutes" is not a duration/),
        expect.stringMatching(/^WEBHOOK_ALLOWED_CIDRS/),
        expect.stringMatching(/^WEBHOOK_DEFAULT_TIMEOUT/),
      ]),
    );
  });
});
