import { resolve } from 'node:path';

/**
 * The team's shared folder (fixtures, docs): `../shared` beside the repository, as on every developer
 * machine and in CI; STORELINE_SHARED_DIR points elsewhere.
 */
export const SHARED_DIR = process.env.STORELINE_SHARED_DIR ?? resolve(__dirname, '../../../shared');
export const APP_STORE_FIXTURES = resolve(SHARED_DIR, 'fixtures/app-store');
export const PLAY_STORE_FIXTURES = resolve(SHARED_DIR, 'fixtures/play-store');
