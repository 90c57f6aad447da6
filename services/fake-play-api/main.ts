/**
 * The local stand-in for the Google Play Developer API (documented paths; scenario data via PUT /_fake/...).
 * For the local pipeline and demos only: never point a production normalizer at it.
 */
import { z } from 'zod';
import { logLevel, port } from '../../lib/platform/config';
import { runService } from '../../lib/platform/service';
import { createFakePlayApi } from './app';

const Config = z.object({
  PORT: port.default(8099),
  /** Loopback unless told otherwise: a fake must not be reachable from elsewhere by accident. */
  HOST: z.string().default('127.0.0.1'),
  FAKE_PLAY_TOKEN: z.string().min(8),
  LOG_LEVEL: logLevel,
});

runService({
  name: 'fake-play-api',
  config: Config,
  async start({ config }) {
    const { app } = createFakePlayApi({ accessToken: config.FAKE_PLAY_TOKEN });
    // No ops routes: the fake answers only the documented paths and its /_fake scenario ones.
    return {
      app,
      port: config.PORT,
      host: config.HOST,
      listening: [{ port: config.PORT }, 'fake Play Developer API listening'],
      closeGraceMs: 1000,
      shutdown: ['server'],
    };
  },
});
