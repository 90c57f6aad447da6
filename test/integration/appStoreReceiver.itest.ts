/**
 * The App Store receiver over real HTTP with a real Kafka producer: forgeries are refused with 401 naming
 * the failed check and nothing reaches the raw topic; authentic notifications are on Kafka before the 200.
 */
import { Kafka, logLevel } from 'kafkajs';
import { notification } from '../kit/builders/appStore';
import { createPki, signJws, signedBody, type Pki } from '../kit/appleSigning';
import { REAL_SAMPLES, V1_SECRET, startAppStoreReceiver } from '../support/appStore';
import { post } from '../support/http';
import { collect, createCatalogTopics, testKafka, waitFor, waitForRecords } from '../support/kafka';
import { APPLE_ROOT_CA_G3_DER } from '../../lib/core/app-store/appleRoot';

/** Records on the topic (sum of high - low watermarks), retrying while fresh partitions elect leaders. */
async function rawCount(kafka: Kafka, topic: string): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return await waitFor(`offsets of ${topic}`, async () => {
      try {
        const offsets = await admin.fetchTopicOffsets(topic);
        return offsets.reduce((n, p) => n + Number(p.high) - Number(p.low), 0);
      } catch {
        return undefined;
      }
    });
  } finally {
    await admin.disconnect();
  }
}

describe('App Store receiver (real HTTP, real Kafka)', () => {
  let pki: Pki;
  let rogue: Pki;
  beforeAll(async () => {
    pki = await createPki();
    rogue = await createPki();
  });

  it('refuses every forgery with 401 and the failed check, publishing nothing', async () => {
    const kafka = testKafka();
    const names = await createCatalogTopics(kafka);
    const topic = names.name('rawAppStore');
    const receiver = await startAppStoreReceiver(kafka, topic, { extraRoots: [pki.rootDer] });
    const good = notification('DID_RENEW');
    const b64 = (d: Buffer) => d.toString('base64');
    const noOidLeaf = await createPki({ leafOid: false, root: { der: pki.rootDer, key: pki.rootKey } });
    const noOidIntermediate = await createPki({
      intermediateOid: false,
      root: { der: pki.rootDer, key: pki.rootKey },
    });
    const notCa = await createPki({ intermediateIsCa: false, root: { der: pki.rootDer, key: pki.rootKey } });
    const validBody = signedBody(good, pki).toString();
    const [h, p, s] = JSON.parse(validBody).signedPayload.split('.') as string[];
    const b64u = (text: string) => Buffer.from(text).toString('base64url');
    const editedPayload = Buffer.from(
      JSON.stringify({ ...good.payload, notificationType: 'REFUND' }),
    ).toString('base64url');

    const forgeries: [string, Buffer | string, string][] = [
      ['edited payload', JSON.stringify({ signedPayload: `${h}.${editedPayload}.${s}` }), 'signature'],
      ['rogue chain', signedBody(good, rogue), 'chain'],
      [
        'rogue chain that appends the trusted root',
        signedBody(good, rogue, { x5c: [b64(rogue.leafDer), b64(rogue.intermediateDer), b64(pki.rootDer)] }),
        'chain',
      ],
      [
        'rogue chain that appends Apple Root CA - G3',
        signedBody(good, rogue, {
          x5c: [b64(rogue.leafDer), b64(rogue.intermediateDer), b64(APPLE_ROOT_CA_G3_DER)],
        }),
        'chain',
      ],
      ['leaf without the Apple OID', signedBody(good, noOidLeaf), 'oid'],
      ['intermediate without the WWDR OID', signedBody(good, noOidIntermediate), 'oid'],
      ['intermediate that is not a CA', signedBody(good, notCa), 'chain'],
      ['chain of two', signedBody(good, pki, { x5c: [b64(pki.leafDer), b64(pki.intermediateDer)] }), 'chain'],
      [
        'payload signed by the intermediate',
        signedBody(good, pki, { key: pki.intermediateKey }),
        'signature',
      ],
      [
        'intermediate presented as leaf',
        signedBody(good, pki, {
          key: pki.intermediateKey,
          x5c: [b64(pki.intermediateDer), b64(pki.intermediateDer), b64(pki.rootDer)],
        }),
        'chain',
      ],
      ['alg none', signedBody(good, pki, { alg: 'none' }), 'algorithm'],
      [
        'alg HS256',
        JSON.stringify({ signedPayload: signJws(good.payload, pki, { alg: 'HS256' }) }),
        'algorithm',
      ],
      [
        'wrong bundleId',
        signedBody(notification('DID_RENEW', undefined, { data: { bundleId: 'com.evil.app' } }), pki),
        'bundle',
      ],
      ['garbage JWS', JSON.stringify({ signedPayload: 'not.a.jws' }), 'jws'],
      // Segments that are JSON but not objects: once a TypeError and a 500.
      ['header that is JSON null', JSON.stringify({ signedPayload: `${b64u('null')}.${p}.${s}` }), 'jws'],
      ['header that is a JSON array', JSON.stringify({ signedPayload: `${b64u('[]')}.${p}.${s}` }), 'jws'],
      [
        'correctly signed payload that is JSON null',
        JSON.stringify({ signedPayload: signJws(null, pki) }),
        'jws',
      ],
    ];
    for (const [name, body, check] of forgeries) {
      const res = await post(`${receiver.url}/app-store/v2`, body);
      expect({ name, status: res.status, check: res.json.check }).toEqual({ name, status: 401, check });
      expect(res.json.error).toBe('unauthenticated');
    }
    const v1 = await post(
      `${receiver.url}/app-store/v1`,
      JSON.stringify({
        notification_type: 'DID_RENEW',
        password: 'wrong',
        bid: 'com.example.app',
        environment: 'Sandbox',
      }),
    );
    expect(v1).toMatchObject({ status: 401, json: { check: 'secret' } });
    expect(await rawCount(kafka, topic)).toBe(0);

    // The same receiver does publish an authentic notification, before it answers 200.
    expect((await post(`${receiver.url}/app-store/v2`, validBody)).status).toBe(200);
    expect(await rawCount(kafka, topic)).toBe(1);
    const metrics = await receiver.metrics.metrics();
    expect(metrics).toMatch(/storeline_receiver_verification_failures_total\{route="v2",check="chain"\} 6/);
    await receiver.close();
  });

  it('refuses a sandbox payload where only production is accepted', async () => {
    const kafka = testKafka();
    const names = await createCatalogTopics(kafka);
    const receiver = await startAppStoreReceiver(kafka, names.name('rawAppStore'), {
      extraRoots: [pki.rootDer],
      environments: ['Production'],
    });
    const res = await post(`${receiver.url}/app-store/v2`, signedBody(notification('DID_RENEW'), pki));
    expect(res).toMatchObject({ status: 401, json: { check: 'environment' } });
    const prodWrongApp = notification('DID_RENEW', undefined, {
      data: { environment: 'Production', appAppleId: 999 },
    });
    expect(await post(`${receiver.url}/app-store/v2`, signedBody(prodWrongApp, pki))).toMatchObject({
      status: 401,
      json: { check: 'app_apple_id' },
    });
    expect(await rawCount(kafka, names.name('rawAppStore'))).toBe(0);
    await receiver.close();
  });

  it('answers 400 to malformed JSON and wrong content-type, 413 over the limit', async () => {
    const kafka = testKafka();
    const names = await createCatalogTopics(kafka);
    const receiver = await startAppStoreReceiver(
      kafka,
      names.name('rawAppStore'),
      { extraRoots: [pki.rootDer] },
      { bodyLimitBytes: 1024 },
    );
    expect(await post(`${receiver.url}/app-store/v2`, '{"signedPayload": ')).toMatchObject({
      status: 400,
      json: { check: 'body' },
    });
    expect(await post(`${receiver.url}/app-store/v2`, '{}')).toMatchObject({
      status: 400,
      json: { check: 'body' },
    });
    expect(await post(`${receiver.url}/app-store/v2`, '{}', { 'content-type': 'text/plain' })).toMatchObject({
      status: 400,
      json: { check: 'content_type' },
    });
    expect(
      (await post(`${receiver.url}/app-store/v2`, JSON.stringify({ signedPayload: 'x'.repeat(2000) })))
        .status,
    ).toBe(413);
    expect(await rawCount(kafka, names.name('rawAppStore'))).toBe(0);
    await receiver.close();
  });

  it('answers 503 when Kafka cannot take the notification, so Apple retries', async () => {
    const dead = new Kafka({
      clientId: 'dead',
      brokers: ['127.0.0.1:1'],
      logLevel: logLevel.NOTHING,
      connectionTimeout: 200,
      retry: { retries: 0 },
    });
    const receiver = await startAppStoreReceiver(
      dead,
      'storeline.raw.app-store.v1',
      {},
      { publishTimeoutMs: 1000 },
    );
    const res = await post(`${receiver.url}/app-store/v2`, REAL_SAMPLES[0]!.body);
    expect(res).toMatchObject({ status: 503, json: { error: 'unavailable' } });
    await receiver.close();
  });

  it('publishes the exact body bytes with key and headers (V2 and V1)', async () => {
    const kafka = testKafka();
    const names = await createCatalogTopics(kafka);
    const topic = names.name('rawAppStore');
    const receiver = await startAppStoreReceiver(kafka, topic, { extraRoots: [pki.rootDer] });
    const body = REAL_SAMPLES[0]!.body;
    expect(
      (
        await post(`${receiver.url}/app-store/v2`, body, {
          'content-type': 'application/json; charset=utf-8',
          'x-request-id': 'req-1',
        })
      ).status,
    ).toBe(200);
    const v1Body = JSON.stringify({
      notification_type: 'DID_RENEW',
      password: V1_SECRET,
      bid: 'com.example.app',
      environment: 'Sandbox',
      unified_receipt: {
        latest_receipt_info: [
          {
            original_transaction_id: '1000000000000001',
            product_id: 'pro.monthly',
            purchase_date_ms: '1760000000000',
          },
        ],
      },
    });
    expect((await post(`${receiver.url}/app-store/v1`, v1Body)).status).toBe(200);
    const sink = await collect(kafka, [topic]);
    const recs = await waitForRecords(sink.records, 2);
    await sink.stop();
    const v2 = recs.find((r) => r.message.headers?.format?.toString() === 'app-store-v2')!;
    expect(v2.message.value!.equals(body)).toBe(true);
    expect(v2.message.key!.toString()).toBe('2000001024993299');
    expect(v2.message.headers!['request-id']!.toString()).toBe('req-1');
    expect(v2.message.headers!.environment!.toString()).toBe('Sandbox');
    expect(Number(v2.message.headers!['received-at']!.toString())).toBeGreaterThan(1_700_000_000_000);
    const v1 = recs.find((r) => r.message.headers?.format?.toString() === 'app-store-v1')!;
    expect(v1.message.value!.toString()).toBe(v1Body);
    expect(v1.message.key!.toString()).toBe('1000000000000001');
    await receiver.close();
  });
});
