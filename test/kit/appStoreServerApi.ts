/**
 * For tests of the App Store Server API client and the backfill: an in-app purchase key (ES256, the .p8
 * as PKCS#8 PEM) with its identity, and notification-history records signed by the test PKI.
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import type { DecodedNotificationV2 } from '../../lib/core/app-store/model';
import { signedBody, type SigningPki } from './appleSigning';

export interface ApiKey {
  /** The .p8 file's text. */
  privatePem: string;
  publicKey: KeyObject;
  keyId: string;
  issuerId: string;
  bundleId: string;
}

export function createApiKey(over: Partial<Omit<ApiKey, 'privatePem' | 'publicKey'>> = {}): ApiKey {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return {
    privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKey,
    keyId: 'TESTKEY123',
    issuerId: '57246542-96fe-1a63-e053-0824d011072a',
    bundleId: 'com.example.app',
    ...over,
  };
}

/** A Get Notification History record for a decoded notification, signed as Apple signs pushes. */
export function historyItem(n: DecodedNotificationV2, pki: SigningPki): { signedPayload: string } {
  return JSON.parse(signedBody(n, pki).toString('utf8')) as { signedPayload: string };
}
