/**
 * The local stand-in for the App Store Server API (documented paths; scenario data via PUT /_fake/...).
 * For the local pipeline and demos only: never point a production backfill at it.
 */
import { createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { runService } from '../../lib/platform/service';
import { createFakeAppStoreApi } from './app';
import { FakeAppStoreApiConfig } from './config';

runService({
  name: 'fake-app-store-api',
  config: FakeAppStoreApiConfig,
  async start({ config }) {
    // createPublicKey takes an SPKI PEM as it is and derives the public half of a PKCS#8 one.
    const publicKey = createPublicKey(readFileSync(config.FAKE_APPLE_KEY_FILE, 'utf8'));
    const { app } = createFakeAppStoreApi({
      publicKey,
      keyId: config.FAKE_APPLE_KEY_ID,
      issuerId: config.FAKE_APPLE_ISSUER_ID,
      bundleId: config.FAKE_APPLE_BUNDLE_ID,
      pageSize: config.FAKE_APPLE_PAGE_SIZE,
    });
    // No ops routes: the fake answers only the documented paths and its /_fake scenario ones.
    return {
      app,
      port: config.PORT,
      host: config.HOST,
      listening: [{ port: config.PORT }, 'fake App Store Server API listening'],
      closeGraceMs: 1000,
      shutdown: ['server'],
    };
  },
});
