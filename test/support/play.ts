import express from 'express';
import { exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';
import type { Kafka } from 'kafkajs';
import { Registry } from 'prom-client';
import { createFakePlayApi } from '../../services/fake-play-api/app';
import { createPlayReceiver } from '../../services/receiver-play-store/app';
import { remoteJwks, type PushAuth } from '../../lib/adapters/play/pushAuth';
import { createIdempotentProducer } from '../../lib/platform/kafka';
import { KafkaPublisher } from '../../lib/platform/publisher';
import type { TopicNames } from '../../lib/core/topics';
import { PACKAGE } from '../kit/builders/play';
import { serve } from './http';
import { testLogger } from './kafka';

export const PLAY_TOKEN = 'fake-play-access-token';
export const PUSH_TOKEN = 'push-secret-token-0123456789';
const PUSH_SA = 'rtdn-push@storeline-test.iam.gserviceaccount.com';
const AUDIENCE = 'https://storeline.example/play-store/pubsub';

export async function startFakePlay() {
  const fake = createFakePlayApi({ accessToken: PLAY_TOKEN });
  const server = await serve(fake.app);
  return { ...fake, url: server.url, close: server.close };
}

/** A JWKS endpoint with one RSA key, and a minter of Google-style push OIDC tokens. */
export async function startOidcIssuer() {
  const { privateKey, publicKey } = await generateKeyPair('RS256');
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid: 'test-key-1', alg: 'RS256', use: 'sig' };
  const app = express();
  app.get('/certs', (_req, res) => {
    res.json({ keys: [jwk] });
  });
  const server = await serve(app);
  const mint = async (
    claims: Record<string, unknown> = {},
    opts: { key?: CryptoKeyLike; kid?: string; alg?: string; iat?: number; exp?: number } = {},
  ) => {
    const iat = opts.iat ?? Math.floor(Date.now() / 1000);
    return new SignJWT({ email: PUSH_SA, email_verified: true, ...claims })
      .setProtectedHeader({ alg: opts.alg ?? 'RS256', kid: opts.kid ?? 'test-key-1', typ: 'JWT' })
      .setIssuer((claims.iss as string | undefined) ?? 'https://accounts.google.com')
      .setAudience((claims.aud as string | undefined) ?? AUDIENCE)
      .setIssuedAt(iat)
      .setExpirationTime(opts.exp ?? iat + 3600)
      .sign(opts.key ?? privateKey);
  };
  return { jwksUrl: `${server.url}/certs`, mint, close: server.close };
}
type CryptoKeyLike = Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];

export async function startPlayReceiver(
  kafka: Kafka,
  names: TopicNames,
  auth: PushAuth | { mode: 'oidc-url'; jwksUrl: string },
) {
  // The receivers' own publisher and producer settings; a dead cluster is a test case (503).
  const publisher = new KafkaPublisher({
    createProducer: () => createIdempotentProducer(kafka),
    timeoutMs: 3000,
    logger: testLogger,
  });
  await publisher.start().catch(() => undefined);
  const resolved: PushAuth =
    auth.mode === 'oidc-url'
      ? { mode: 'oidc', jwks: remoteJwks(auth.jwksUrl), audience: AUDIENCE, serviceAccountEmail: PUSH_SA }
      : auth;
  const app = createPlayReceiver({
    auth: resolved,
    publish: publisher.publish,
    rawTopic: names.name('rawPlayStore'),
    dlqTopic: names.name('rawPlayStoreDlq'),
    packageNames: [PACKAGE],
    logger: testLogger,
    metrics: new Registry(),
    bodyLimitBytes: 64 * 1024,
  });
  const server = await serve(app);
  return {
    url: server.url,
    close: async () => {
      await server.close();
      await publisher.stop();
    },
  };
}
