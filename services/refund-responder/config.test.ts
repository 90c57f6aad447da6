import { parseConfig } from '../../lib/platform/config';
import { RefundResponderConfig } from './config';

const base = {
  KAFKA_BROKERS: '127.0.0.1:9092',
  SCHEMA_REGISTRY_URL: 'http://127.0.0.1:8081',
  DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/storeline',
  REFUND_RESPONDER_API_KEYS: 'a-key-of-16-chars-or-more',
};
const apple = {
  APPLE_ISSUER_ID: 'issuer',
  APPLE_KEY_ID: 'KEY',
  APPLE_PRIVATE_KEY_FILE: '/keys/k.p8',
  APPLE_BUNDLE_ID: 'com.example',
};

describe('refund-responder config', () => {
  it('refuses to start unless enabled, naming every missing credential', () => {
    const r = parseConfig(RefundResponderConfig, base);
    expect(r.ok ? [] : r.problems.map((p) => p.split(':')[0]).sort()).toEqual([
      'APPLE_BUNDLE_ID',
      'APPLE_ISSUER_ID',
      'APPLE_KEY_ID',
      'APPLE_PRIVATE_KEY_FILE',
      'REFUND_RESPONDER_ENABLED',
    ]);
    const noFlag = parseConfig(RefundResponderConfig, { ...base, ...apple });
    expect(noFlag.ok ? [] : noFlag.problems).toEqual([
      expect.stringMatching(/^REFUND_RESPONDER_ENABLED: must be true/),
    ]);
  });

  it('defaults: Apple current API, no consent assumed, production, port 8097', () => {
    expect(
      parseConfig(RefundResponderConfig, { ...base, ...apple, REFUND_RESPONDER_ENABLED: 'true' }),
    ).toMatchObject({
      ok: true,
      config: {
        PORT: 8097,
        APPLE_ENVIRONMENT: 'production',
        REFUND_RESPONDER_API_VERSION: 'v2',
        REFUND_RESPONDER_ASSUME_CONSENT: false,
        REFUND_RESPONDER_DELIVERY_STATUS: 'DELIVERED',
        REFUND_RESPONDER_REFUND_PREFERENCE: 'NONE',
        REFUND_RESPONDER_USD_RATES: {},
        REFUND_RESPONDER_API_KEYS: ['a-key-of-16-chars-or-more'],
      },
    });
  });

  it('reads currency rates and refuses a malformed one', () => {
    const env = { ...base, ...apple, REFUND_RESPONDER_ENABLED: 'true' };
    expect(
      parseConfig(RefundResponderConfig, { ...env, REFUND_RESPONDER_USD_RATES: 'eur=1.08, GBP=1.27' }),
    ).toMatchObject({
      ok: true,
      config: { REFUND_RESPONDER_USD_RATES: { EUR: 1.08, GBP: 1.27 } },
    });
    const bad = parseConfig(RefundResponderConfig, { ...env, REFUND_RESPONDER_USD_RATES: 'EUR:1.08' });
    expect(bad.ok ? [] : bad.problems).toEqual([
      expect.stringMatching(/^REFUND_RESPONDER_USD_RATES.*CODE=number/),
    ]);
  });
});
