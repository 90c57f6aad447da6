import { createLocalJWKSet, exportJWK, generateKeyPair, SignJWT, type JWTVerifyGetKey } from 'jose';
import { authenticatePush, PushAuthError, type PushAuth } from './pushAuth';

const AUDIENCE = 'https://storeline.example/play-store/pubsub';
const PUSH_SA = 'rtdn-push@storeline-test.iam.gserviceaccount.com';

type PrivateKey = Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];

describe('authenticatePush (OIDC)', () => {
  let privateKey: PrivateKey;
  let jwks: JWTVerifyGetKey;
  beforeAll(async () => {
    const pair = await generateKeyPair('RS256');
    privateKey = pair.privateKey;
    jwks = createLocalJWKSet({ keys: [{ ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'RS256' }] });
  });
  const auth = (): PushAuth => ({ mode: 'oidc', jwks, audience: AUDIENCE, serviceAccountEmail: PUSH_SA });

  /** A Google-style push token issued `iatOffset` seconds from now, valid for Google's one hour. */
  const mint = (iatOffset: number) => {
    const iat = Math.floor(Date.now() / 1000) + iatOffset;
    return new SignJWT({ email: PUSH_SA, email_verified: true })
      .setProtectedHeader({ alg: 'RS256', kid: 'k1', typ: 'JWT' })
      .setIssuer('https://accounts.google.com')
      .setAudience(AUDIENCE)
      .setIssuedAt(iat)
      .setExpirationTime(iat + 3600)
      .sign(privateKey);
  };
  const verify = async (token: string) => authenticatePush(auth(), { authorization: `Bearer ${token}` });

  it('accepts a fresh token, and one issued within the 60 s skew ahead of our clock', async () => {
    await expect(verify(await mint(0))).resolves.toBe(PUSH_SA);
    await expect(verify(await mint(30))).resolves.toBe(PUSH_SA);
  });

  it.each([
    ['an hour', 3600],
    ['two minutes', 120],
  ])('refuses a token issued %s in the future with 401', async (_what, offset) => {
    const err = await verify(await mint(offset)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PushAuthError);
    expect(err).toMatchObject({ status: 401, check: 'jwt_claim_validation_failed' });
    expect((err as Error).message).toMatch(/iat/);
  });
});
