import { resolve } from 'node:path';

/**
 * Sample payloads kept in the repository (test/fixtures, with their provenance files beside them), so a
 * fresh clone tests on its own.
 */
const FIXTURES_DIR = resolve(__dirname, '../fixtures');
export const APP_STORE_FIXTURES = resolve(FIXTURES_DIR, 'app-store');
export const PLAY_STORE_FIXTURES = resolve(FIXTURES_DIR, 'play-store');
