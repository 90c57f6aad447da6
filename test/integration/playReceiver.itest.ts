/**
 * Play Store receiver over real HTTP with a real Kafka producer: OIDC push tokens verified against a JWKS
 * (served locally, as Google's certs endpoint would), the secret-token mode, and dead-lettering of
 * authentic but undecodable pushes with 204.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Kafka } from 'kafkajs';
import { generateKeyPair } from 'jose';
import { envelope, rtdn } from '../kit/builders/play';
import { DLQ_HEADERS } from '../../lib/platform/dlq';
import { post } from '../support/http';
import { collect, createCatalogTopics, testKafka, waitFor, waitForRecords } from '../support/kafka';
import { PLAY_STORE_FIXTURES } from '../kit/fixtures';
import { PUSH_TOKEN, startOidcIssuer, startPlayReceiver } from '../support/play';

async function count(kafka: Kafka, topic: string): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return await waitFor(`offsets of ${topic}`, async () => {
      try {
        return (await admin.fetchTopicOffsets(topic)).reduce((n, p) => n + Number(p.high) - Number(p.low), 0);
      } catch {
        return undefined;
      }
    });
  } finally {
    await admin.disconnect();
  }
}

const body = () => JSON.stringify(envelope(rtdn(4, 'tok-oidc'), `m-${Date.now()}-${Math.random()}`));

describe('Play Store receiver (real HTTP, real Kafka)', () => {
  it('refuses bad OIDC tokens with 401/403 and accepts a good one', async () => {
    const kafka = testKafka();
    const names = await createCatalogTopics(kafka);
    const issuer = await startOidcIssuer();
    const receiver = await startPlayReceiver(kafka, names, { mode: 'oidc-url', jwksUrl: issuer.jwksUrl });
    const other = await generateKeyPair('RS256');
    const now = Math.floor(Date.now() / 1000);
    const cases: [string, string | null, number, string][] = [
      ['no token', null, 401, 'missing_token'],
      [
        'wrong audience',
        await issuer.mint({ aud: 'https://evil.example/push' }),
        401,
        'jwt_claim_validation_failed',
      ],
      [
        'wrong issuer',
        await issuer.mint({ iss: 'https://evil.example' }),
        401,
        'jwt_claim_validation_failed',
      ],
      ['wrong email', await issuer.mint({ email: 'someone@evil.example' }), 403, 'email'],
      ['unverified email', await issuer.mint({ email_verified: false }), 403, 'email_verified'],
      ['expired', await issuer.mint({}, { iat: now - 7200, exp: now - 3600 }), 401, 'jwt_expired'],
      // Beyond the 60 s skew the README promises.
      [
        'issued an hour in the future',
        await issuer.mint({}, { iat: now + 3600 }),
        401,
        'jwt_claim_validation_failed',
      ],
      [
        'unknown key',
        await issuer.mint({}, { key: other.privateKey, kid: 'unknown-kid' }),
        401,
        'jwks_no_matching_key',
      ],
      [
        'signed by another key with the known kid',
        await issuer.mint({}, { key: other.privateKey }),
        401,
        'jws_signature_verification_failed',
      ],
      [
        'alg none',
        `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${Buffer.from(JSON.stringify({ iss: 'accounts.google.com', aud: 'x', email: 'a', exp: now + 60, iat: now })).toString('base64url')}.`,
        401,
        'jose_alg_not_allowed',
      ],
    ];
    for (const [name, token, status, check] of cases) {
      const res = await post(`${receiver.url}/play-store/pubsub`, body(), {
        'content-type': 'application/json',
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      });
      expect({ name, status: res.status, check: res.json.check }).toEqual({ name, status, check });
    }
    expect(await count(kafka, names.name('rawPlayStore'))).toBe(0);

    // Both issuer spellings are accepted.
    for (const iss of ['https://accounts.google.com', 'accounts.google.com']) {
      const ok = await post(`${receiver.url}/play-store/pubsub`, body(), {
        'content-type': 'application/json',
        authorization: `Bearer ${await issuer.mint({ iss })}`,
      });
      expect(ok.status).toBe(204);
    }
    expect(await count(kafka, names.name('rawPlayStore'))).toBe(2);
    await receiver.close();
    await issuer.close();
  });

  it('token mode: wrong token 401; the fixtures publish with the purchase token as key; poison goes to the DLQ with 204', async () => {
    const kafka = testKafka();
    const names = await createCatalogTopics(kafka);
    const receiver = await startPlayReceiver(kafka, names, { mode: 'token', token: PUSH_TOKEN });
    const url = `${receiver.url}/play-store/pubsub?token=${PUSH_TOKEN}`;
    expect((await post(`${receiver.url}/play-store/pubsub?token=nope`, body())).status).toBe(401);
    expect((await post(`${receiver.url}/play-store/pubsub`, body())).status).toBe(401);

    // The real captured test-notification envelope (camel + snake keys) is accepted as is... if its package is served.
    const realTest = readFileSync(
      resolve(PLAY_STORE_FIXTURES, 'pubsub-envelope-real-test-notification.json'),
    );
    const realRes = await post(url, realTest);
    expect(realRes.status).toBe(204); // a package we do not serve: dead-lettered, still acked

    const good = JSON.stringify(envelope(rtdn(2, 'tok-key-check'), 'm-good'));
    expect((await post(url, good)).status).toBe(204);
    const poison = JSON.stringify({
      message: { data: Buffer.from('{not json').toString('base64'), messageId: 'm-poison' },
      subscription: 's',
    });
    expect((await post(url, poison)).status).toBe(204);
    expect((await post(url, '{"not":"an envelope"}')).status).toBe(400);

    const raw = await collect(kafka, [names.name('rawPlayStore')]);
    const [rec] = await waitForRecords(raw.records, 1);
    await raw.stop();
    expect(rec!.message.key!.toString()).toBe('tok-key-check');
    expect(rec!.message.value!.toString()).toBe(good);
    expect(rec!.message.headers!['notification-id']!.toString()).toBe('m-good');
    expect(rec!.message.headers!['message-id']!.toString()).toBe('m-good');
    expect(rec!.message.headers!['publish-time']!.toString()).toBe('2026-01-01T10:00:01.000Z');

    const dlq = await collect(kafka, [names.name('rawPlayStoreDlq')]);
    const dead = await waitForRecords(dlq.records, 2);
    await dlq.stop();
    const reasons = dead
      .map((d) => `${d.message.headers![DLQ_HEADERS.stage]}|${d.message.headers![DLQ_HEADERS.reason]}`)
      .sort();
    expect(reasons[0]).toMatch(/^receive:decode\|message.data is not base64 JSON/);
    expect(reasons[1]).toMatch(/^receive:package\|packageName/);
    expect(await count(kafka, names.name('rawPlayStore'))).toBe(1);
    await receiver.close();
  });
});
