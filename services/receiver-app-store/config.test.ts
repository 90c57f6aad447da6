import { parseConfig } from '../../lib/platform/config';
import { ReceiverAppStoreConfig } from './config';

const base = { KAFKA_BROKERS: '127.0.0.1:9092', APPLE_BUNDLE_IDS: 'com.a,com.b', APPLE_APP_APPLE_IDS: '123' };

describe('receiver-app-store config', () => {
  it('applies production defaults', () => {
    const r = parseConfig(ReceiverAppStoreConfig, base);
    expect(r).toMatchObject({
      ok: true,
      config: {
        PORT: 8080,
        APPLE_ENVIRONMENTS: ['Production'],
        APPLE_VERIFY_AT: 'now',
        BODY_LIMIT_BYTES: 262144,
        APPLE_BUNDLE_IDS: ['com.a', 'com.b'],
      },
    });
  });

  it('requires appAppleIds when Production is accepted', () => {
    const r = parseConfig(ReceiverAppStoreConfig, { ...base, APPLE_APP_APPLE_IDS: undefined });
    expect(r.ok ? [] : r.problems).toEqual([expect.stringMatching(/^APPLE_APP_APPLE_IDS: is required when/)]);
  });

  it('accepts a sandbox-only deployment without appAppleIds', () => {
    expect(
      parseConfig(ReceiverAppStoreConfig, {
        ...base,
        APPLE_APP_APPLE_IDS: undefined,
        APPLE_ENVIRONMENTS: 'Sandbox',
      }).ok,
    ).toBe(true);
  });

  it('names every problem', () => {
    const r = parseConfig(ReceiverAppStoreConfig, {
      APPLE_ENVIRONMENTS: 'Prod',
      APPLE_V1_SHARED_SECRET: 'short',
      PORT: 'x',
    });
    const problems = r.ok ? [] : r.problems.map((p) => p.split(':')[0]);
    expect(problems).toEqual(
      expect.arrayContaining([
        'KAFKA_BROKERS',
        'APPLE_BUNDLE_IDS',
        'APPLE_ENVIRONMENTS.0',
        'APPLE_V1_SHARED_SECRET',
        'PORT',
      ]),
    );
  });
});
