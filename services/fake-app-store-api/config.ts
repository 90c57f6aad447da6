import { z } from 'zod';
import { logLevel, port } from '../../lib/platform/config';

/** fake-app-store-api configuration: the key and identity its tokens must carry (see app.ts). */
export const FakeAppStoreApiConfig = z.object({
  PORT: port.default(8098),
  /** Loopback unless told otherwise: a fake must not be reachable from elsewhere by accident. */
  HOST: z.string().default('127.0.0.1'),
  /** The in-app purchase key's public half (SPKI PEM), or the .p8 itself (its public half is used). */
  FAKE_APPLE_KEY_FILE: z.string().min(1),
  FAKE_APPLE_KEY_ID: z.string().min(1),
  FAKE_APPLE_ISSUER_ID: z.string().min(1),
  FAKE_APPLE_BUNDLE_ID: z.string().min(1),
  /** Apple's page size is 20; smaller pages make pagination easy to see. */
  FAKE_APPLE_PAGE_SIZE: z.coerce.number().int().min(1).max(200).default(20),
  LOG_LEVEL: logLevel,
});
