/**
 * The local stand-in for the Google Play Developer API (documented paths; scenario data via PUT /_fake/...).
 * For the local pipeline and demos only: never point a production normalizer at it.
 */
import { runService } from '../../lib/platform/service';
import { createFakePlayApi } from './app';
import { FakePlayApiConfig } from './config';

runService({
  name: 'fake-play-api',
  config: FakePlayApiConfig,
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
