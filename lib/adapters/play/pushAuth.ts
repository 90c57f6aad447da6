/**
 * Authenticating Pub/Sub push requests (https://cloud.google.com/pubsub/docs/authenticate-push-subscriptions):
 *  - OIDC: `Authorization: Bearer <Google-signed JWT>`: RS256 against Google's JWKS (URL configurable), `iss`
 *    accounts.google.com (with or without https://), `aud` = the configured audience, `email` = the push
 *    service account with `email_verified` true, `exp`/`iat` with small skew (an `iat` in the future beyond it
 *    is refused, as is a token older than Google's one-hour ID token lifetime). The audience alone proves
 *    nothing (anyone can mint a Google ID token for any audience), hence the email check.
 *  - or a secret token in the query string (`?token=`), compared in constant time.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createRemoteJWKSet, jwtVerify, type JWTVerifyGetKey } from 'jose';

export type PushAuth =
  | {
      mode: 'oidc';
      jwks: JWTVerifyGetKey;
      audience: string;
      serviceAccountEmail: string;
      clockToleranceSec?: number;
    }
  | { mode: 'token'; token: string };

export class PushAuthError extends Error {
  constructor(
    readonly status: 401 | 403,
    readonly check: string,
    message: string,
  ) {
    super(message);
    this.name = 'PushAuthError';
  }
}

export function remoteJwks(url: string): JWTVerifyGetKey {
  return createRemoteJWKSet(new URL(url), { cacheMaxAge: 10 * 60_000, cooldownDuration: 30_000 });
}

const GOOGLE_ID_TOKEN_LIFETIME_SEC = 3600;

const sha = (s: string) => createHash('sha256').update(s).digest();

export async function authenticatePush(
  auth: PushAuth,
  req: { authorization?: string; queryToken?: string },
): Promise<string | undefined> {
  if (auth.mode === 'token') {
    if (!req.queryToken || !timingSafeEqual(sha(req.queryToken), sha(auth.token))) {
      throw new PushAuthError(401, 'token', 'missing or wrong push token');
    }
    return undefined;
  }
  const m = /^Bearer (.+)$/.exec(req.authorization ?? '');
  if (!m) throw new PushAuthError(401, 'missing_token', 'Authorization: Bearer <OIDC token> is required');
  let payload;
  try {
    ({ payload } = await jwtVerify(m[1] as string, auth.jwks, {
      algorithms: ['RS256'],
      issuer: ['accounts.google.com', 'https://accounts.google.com'],
      audience: auth.audience,
      clockTolerance: auth.clockToleranceSec ?? 60,
      requiredClaims: ['exp', 'iat'],
      // jose checks `iat` only with maxTokenAge set: then an `iat` beyond the skew in the future is refused
      // too. Google ID tokens live one hour (https://cloud.google.com/docs/authentication/token-types).
      maxTokenAge: GOOGLE_ID_TOKEN_LIFETIME_SEC,
    }));
  } catch (err) {
    const code = (err as { code?: string }).code ?? 'invalid';
    throw new PushAuthError(
      401,
      code.replace(/^ERR_/, '').toLowerCase(),
      `OIDC token rejected: ${(err as Error).message}`,
    );
  }
  if (payload.email !== auth.serviceAccountEmail)
    throw new PushAuthError(403, 'email', 'token is not for the configured push service account');
  if (payload.email_verified !== true)
    throw new PushAuthError(403, 'email_verified', 'service account email is not verified');
  return payload.email as string;
}
