import { parseConfig } from '../../lib/platform/config';
import { BackfillConfig } from './config';

const base = { KAFKA_BROKERS: '127.0.0.1:9092', SCHEMA_REGISTRY_URL: 'http://127.0.0.1:8081' };

describe('backfill config', () => {
  it('is off by default, every 6 h over 4 days', () => {
    expect(parseConfig(BackfillConfig, base)).toMatchObject({
      ok: true,
      config: {
        BACKFILL_APP_STORE: false,
        BACKFILL_PLAY_STORE: false,
        BACKFILL_INTERVAL_MS: 6 * 3_600_000,
        BACKFILL_WINDOW_MS: 4 * 86_400_000,
        APPLE_ENVIRONMENT: 'production',
        PLAY_PACKAGE_NAMES: [],
        PORT: 8095,
      },
    });
  });

  it('names every missing credential of an enabled store', () => {
    const r = parseConfig(BackfillConfig, {
      ...base,
      BACKFILL_APP_STORE: 'true',
      BACKFILL_PLAY_STORE: 'true',
    });
    expect(r.ok ? [] : r.problems.map((p) => p.split(':')[0]).sort()).toEqual([
      'APPLE_BUNDLE_ID',
      'APPLE_ISSUER_ID',
      'APPLE_KEY_ID',
      'APPLE_PRIVATE_KEY_FILE',
      'PLAY_PACKAGE_NAMES',
      'PLAY_SERVICE_ACCOUNT_KEY_FILE',
    ]);
    expect(r.ok ? [] : r.problems).toContain(
      'PLAY_SERVICE_ACCOUNT_KEY_FILE: is required when BACKFILL_PLAY_STORE=true (or PLAY_API_TOKEN)',
    );
  });

  it('accepts enabled stores with their credentials', () => {
    const r = parseConfig(BackfillConfig, {
      ...base,
      BACKFILL_APP_STORE: 'true',
      APPLE_ISSUER_ID: 'issuer',
      APPLE_KEY_ID: 'KEY',
      APPLE_PRIVATE_KEY_FILE: '/keys/k.p8',
      APPLE_BUNDLE_ID: 'com.example',
      BACKFILL_PLAY_STORE: 'yes',
      PLAY_PACKAGE_NAMES: 'com.a, com.b',
      PLAY_API_TOKEN: 'token',
      BACKFILL_INTERVAL_MS: '60000',
    });
    expect(r).toMatchObject({
      ok: true,
      config: { PLAY_PACKAGE_NAMES: ['com.a', 'com.b'], BACKFILL_INTERVAL_MS: 60_000 },
    });
  });

  it('refuses a window longer than the stores keep', () => {
    const r = parseConfig(BackfillConfig, { ...base, BACKFILL_WINDOW_MS: String(31 * 86_400_000) });
    expect(r.ok ? [] : r.problems).toEqual([
      expect.stringMatching(/^BACKFILL_WINDOW_MS: must be at most 30 days/),
    ]);
  });
});
