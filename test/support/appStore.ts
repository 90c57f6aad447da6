import { APP_STORE_FIXTURES } from '../kit/fixtures';
import { readFileSync, readdirSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Kafka } from 'kafkajs';
import { Registry } from 'prom-client';
import { APPLE_ROOT_CA_G3_DER } from '../../lib/core/app-store/appleRoot';
import { AppleVerifier, type AppleVerifierOptions } from '../../lib/core/app-store/verify';
import { createAppStoreReceiver } from '../../services/receiver-app-store/app';
import { KafkaPublisher } from '../../lib/platform/publisher';
import { createIdempotentProducer } from '../../lib/platform/kafka';
import { serve } from './http';
import { testLogger } from './kafka';

const REAL_DIR = resolve(APP_STORE_FIXTURES, 'real');
export const REAL_SAMPLES = readdirSync(REAL_DIR)
  .filter((f) => /^\d\d_[^.]+\.json$/.test(f))
  .map((f) => ({ file: f, path: resolve(REAL_DIR, f), body: readFileSync(resolve(REAL_DIR, f)) }));

export const REAL_BUNDLES = [
  'com.loki-project.loki-messenger',
  'cn.soulmate.elf',
  'com.cynet.xingqi',
  'com.nineton.taller',
];

export const V1_SECRET = 'v1-shared-secret-for-tests';

/** A receiver wired to a real Kafka producer on an ephemeral port. */
export async function startAppStoreReceiver(
  kafka: Kafka,
  rawTopic: string,
  verifier: Partial<AppleVerifierOptions> & { extraRoots?: Buffer[] } = {},
  opts: { publishTimeoutMs?: number; bodyLimitBytes?: number } = {},
) {
  // The receivers' own publisher and producer settings; a dead cluster is a test case (503).
  const publisher = new KafkaPublisher({
    createProducer: () => createIdempotentProducer(kafka),
    timeoutMs: opts.publishTimeoutMs ?? 5000,
    logger: testLogger,
  });
  await publisher.start().catch(() => undefined);
  const metrics = new Registry();
  const app = createAppStoreReceiver({
    verifier: new AppleVerifier({
      trustedRoots: [APPLE_ROOT_CA_G3_DER, ...(verifier.extraRoots ?? [])],
      bundleIds: verifier.bundleIds ?? ['com.example.app', ...REAL_BUNDLES],
      environments: verifier.environments ?? ['Sandbox', 'Production'],
      appAppleIds: verifier.appAppleIds ?? [6450284872, 1234567890],
      effectiveDate: verifier.effectiveDate ?? 'signed-date',
    }),
    publish: publisher.publish,
    rawTopic,
    logger: testLogger,
    metrics,
    v1SharedSecret: V1_SECRET,
    bodyLimitBytes: opts.bodyLimitBytes ?? 256 * 1024,
  });
  const server = await serve(app);
  return {
    url: server.url,
    metrics,
    close: async () => {
      await server.close();
      await publisher.stop();
    },
  };
}
