/** What the Play commands share: a usage error (exit 2) and the Play Developer API credentials from options or env. */
import { readFileSync } from 'node:fs';
import { serviceAccountToken, staticToken } from '../../lib/adapters/play/api';

/** A command-line problem: the commands print it with their usage and exit 2. */
export class UsageError extends Error {}

/** `--play-api-token` / PLAY_API_TOKEN, else `--play-service-account` / PLAY_SERVICE_ACCOUNT_KEY_FILE. */
export function playAccessToken(
  values: { 'play-api-token'?: string; 'play-service-account'?: string },
  env: NodeJS.ProcessEnv,
) {
  const token = values['play-api-token'] ?? env.PLAY_API_TOKEN;
  if (token) return staticToken(token);
  const keyFile = values['play-service-account'] ?? env.PLAY_SERVICE_ACCOUNT_KEY_FILE;
  if (!keyFile) throw new UsageError('--play-api-token or --play-service-account is required');
  return serviceAccountToken(JSON.parse(readFileSync(keyFile, 'utf8')));
}
