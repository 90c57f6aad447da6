/**
 * The local stand-in for the Google Play Developer API (documented paths; scenario data via PUT /_fake/...).
 * For the local pipeline and demos only: never point a production normalizer at it.
 */
import { onShutdownSignal, runMain } from '../../lib/platform/lifecycle';
import { z } from 'zod';
import { loadConfigOrExit, logLevel, port } from '../../lib/platform/config';
import { closeServer, listen } from '../../lib/platform/http';
import { createLogger } from '../../lib/platform/logger';
import { createFakePlayApi } from './app';

const SERVICE = 'fake-play-api';
const Config = z.object({
  PORT: port.default(8099),
  /** Loopback unless told otherwise: a fake must not be reachable from elsewhere by accident. */
  HOST: z.string().default('127.0.0.1'),
  FAKE_PLAY_TOKEN: z.string().min(8),
  LOG_LEVEL: logLevel,
});

async function main(): Promise<void> {
  const config = loadConfigOrExit(SERVICE, Config);
  const logger = createLogger(SERVICE, config.LOG_LEVEL);
  const { app } = createFakePlayApi({ accessToken: config.FAKE_PLAY_TOKEN });
  const server = await listen(app, config.PORT, config.HOST);
  logger.info({ port: config.PORT }, 'fake Play Developer API listening');
  onShutdownSignal(logger, async () => {
    await closeServer(server, 1000);
  });
}

runMain(SERVICE, main);
