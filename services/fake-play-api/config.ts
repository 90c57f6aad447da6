import { z } from 'zod';
import { logLevel, port } from '../../lib/platform/config';

export const FakePlayApiConfig = z.object({
  PORT: port.default(8099),
  /** Loopback unless told otherwise: a fake must not be reachable from elsewhere by accident. */
  HOST: z.string().default('127.0.0.1'),
  FAKE_PLAY_TOKEN: z.string().min(8),
  LOG_LEVEL: logLevel,
});
