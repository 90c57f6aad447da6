/**
 * `storeline dlq list|show|redrive` on the real stack with the Play path running (receiver, normalizer,
 * fake Play API): a poison raw record the normalizer dead-letters is listed with its reason and shown
 * decoded; a valid raw record dead-lettered for a reason since fixed is re-driven and yields its events
 * once, also when re-driven twice; --dry-run writes nothing; the canonical DLQ refuses re-drive.
 */
import type { Kafka } from 'kafkajs';
import { runDlq } from '../../services/cli/dlq';
import { dlqHeaders } from '../../lib/platform/dlq';
import { createIdempotentProducer, readHeaders } from '../../lib/platform/kafka';

import { RAW_HEADERS } from '../../lib/core/rawHeaders';
import { envelope, rtdn, sub } from '../kit/builders/play';
import { notification } from '../kit/builders/appStore';
import { sampleEvent } from '../kit/builders/events';
import { createPki, signedBody } from '../kit/appleSigning';
import { startPlayPipeline, typesByKey } from '../kit/playPipeline';
import { createCatalogTopics, drainTopic, randomId, testKafka, testLogger, waitFor } from '../support/kafka';
import { stackEnv } from '../support/env';
import { serve } from '../support/http';
import { codecs, randomSchema } from '../support/state';
import { Endpoint } from '../support/webhooks';
import { waitProcessed } from '../kit/normalizerProgress';
import type { EngagementTrigger } from '../../lib/core/generated/avro';
import { codecFor, createRegistry } from '../../lib/platform/avro';
import { createPool, migrate } from '../../lib/platform/db';
import { createWebhookApi } from '../../services/webhook-fanout/app';
import { EndpointManager } from '../../lib/adapters/webhooks/endpoints';
import { WebhookSender } from '../../lib/adapters/webhooks/sender';
import { createFanoutService } from '../../lib/adapters/webhooks/service';
import { SsrfGuard } from '../../lib/adapters/webhooks/ssrf';
import { WEBHOOK_MIGRATIONS } from '../../lib/adapters/webhooks/store/migrations';

async function highWatermarks(kafka: Kafka, topic: string): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return (await admin.fetchTopicOffsets(topic)).reduce((n, p) => n + Number(p.high), 0);
  } finally {
    await admin.disconnect();
  }
}

describe('storeline dlq', () => {
  it('lists, shows and re-drives dead letters; a re-driven record yields its events once', async () => {
    const p = await startPlayPipeline();
    const env = {
      KAFKA_BROKERS: stackEnv().brokers.join(','),
      SCHEMA_REGISTRY_URL: stackEnv().registryUrl,
      TOPIC_PREFIX: p.names.prefix,
    };
    const dlq = async (...args: string[]) => {
      const out: string[] = [];
      const err: string[] = [];
      const status = await runDlq(args, env, { out: (l) => out.push(l), err: (l) => err.push(l) });
      return { status, out: out.join('\n'), err: err.join('\n') };
    };
    const rawPlay = p.names.name('rawPlayStore');
    const playDlq = p.names.name('rawPlayStoreDlq');
    const producer = p.kafka.producer();
    await producer.connect();
    const write = async (topic: string, m: { key: string; value: Buffer; headers: Record<string, string> }) =>
      (await producer.send({ topic, acks: -1, messages: [m] }))[0]!.baseOffset;
    const cause = (stage: string, reason: string) => ({
      stage,
      reason,
      retriable: true,
      firstSeen: new Date().toISOString(),
    });
    try {
      // 1. Poison: an envelope whose data is not JSON, straight onto the raw topic; the normalizer dead-letters it.
      const poison = envelope(rtdn(4, 'tok-p'), 'm-poison');
      poison.message.data = Buffer.from('not json {').toString('base64');
      await write(rawPlay, {
        key: 'm-poison',
        value: Buffer.from(JSON.stringify(poison)),
        headers: { format: 'play-store-pubsub' },
      });
      await p.settled();

      // 2. "Fixed since": a valid authentic raw record dead-lettered when the Play API was failing.
      p.fake.state.subscriptions.set('tok-r', sub('ACTIVE'));
      const fixedOffset = await write(playDlq, {
        key: 'tok-r',
        value: Buffer.from(JSON.stringify(envelope(rtdn(4, 'tok-r'), 'm-r'))),
        headers: dlqHeaders(
          { format: 'play-store-pubsub', 'message-id': 'm-r', 'notification-id': 'm-r' },
          cause('transform', 'TransientError: Play API answered 503 after 4 attempts'),
          { topic: rawPlay, partition: 3, offset: '17' },
        ),
      });
      // 3. Dead letters of other DLQs, for show: a V2 App Store body and an Avro canonical event.
      const pki = await createPki();
      await write(p.names.name('rawAppStoreDlq'), {
        key: '1000000001',
        value: signedBody(notification('DID_RENEW'), pki),
        headers: dlqHeaders({ format: 'app-store-v2' }, cause('decode', 'PoisonMessageError: test')),
      });
      const event = sampleEvent({ eventId: 'play_store:m-x:0' });
      await write(p.names.name('subscriptionEventsDlq'), {
        key: event.subscriptionKey,
        value: await (async () => {
          await p.eventCodec.register();
          return p.eventCodec.encode(event);
        })(),
        headers: dlqHeaders({ 'event-id': event.eventId }, cause('decode', 'PoisonMessageError: test'), {
          topic: p.names.name('subscriptionEvents'),
          partition: 0,
          offset: '0',
        }),
      });

      // list: every DLQ, then one filtered.
      const all = await dlq('list');
      expect(all.status).toBe(0);
      expect(all.out).toMatch(/message\.data is not base64 JSON/);
      expect(all.out).toMatch(
        new RegExp(`${playDlq.replace(/\./g, '\\.')}  0@${fixedOffset}  \\S+  transform`),
      );
      expect(all.out).toMatch(/^4 dead letter\(s\)$/m);
      expect(all.out).toContain(`${playDlq}: 2`);
      const decodeOnly = await dlq('list', '--topic', 'rawPlayStoreDlq', '--stage', 'decode');
      expect(decodeOnly.out.split('\n').filter((l) => l.startsWith(`${playDlq}  `))).toHaveLength(1);
      expect(decodeOnly.out).toMatch(/^1 dead letter\(s\)$/m);
      const poisonOffset = /0@(\d+)/.exec(decodeOnly.out)![1]!;

      // show: headers and the value decoded.
      const shown = await dlq('show', 'rawPlayStoreDlq', `0@${poisonOffset}`);
      expect(shown.out).toMatch(/dlq\.stage: decode/);
      expect(shown.out).toMatch(/message\.data is not base64 JSON: utf8: not json \{/);
      expect(shown.out).toMatch(/"messageId": "m-poison"/);
      const apple = await dlq('show', 'rawAppStoreDlq', '0@0');
      expect(apple.out).toMatch(/signedPayload \(decoded, UNVERIFIED\)/);
      expect(apple.out).toMatch(/"notificationType": "DID_RENEW"/);
      expect((await dlq('show', 'rawPlayStoreDlq', '0@999')).err).toMatch(/no record at 0@999/);
      const fixed = await dlq('show', 'rawPlayStoreDlq', `0@${fixedOffset}`);
      expect(fixed.out).toMatch(/dlq\.stage: transform/);
      expect(fixed.out).toMatch(/"purchaseToken": "tok-r"/);
      const avro = await dlq('show', p.names.name('subscriptionEventsDlq'), '0@0');
      expect(avro.out).toMatch(/avro \(schema id \d+\)/);
      expect(avro.out).toContain('"eventId": "play_store:m-x:0"');

      // redrive: refused for the canonical DLQ, nothing written by a dry run, then twice for real.
      const refused = await dlq('redrive', '--topic', 'subscriptionEventsDlq');
      expect(refused.status).toBe(2);
      expect(refused.err).toMatch(/one record per eventId/);
      const before = await highWatermarks(p.kafka, rawPlay);
      const dry = await dlq('redrive', '--topic', 'rawPlayStoreDlq', '--reason', 'Play API', '--dry-run');
      expect(dry.out).toMatch(/would re-drive/);
      expect(dry.out).toMatch(/selected 1, re-driven 0, skipped 0 \(dry run: 1 would be re-driven\)/);
      expect(await highWatermarks(p.kafka, rawPlay)).toBe(before);
      for (let i = 0; i < 2; i++) {
        const r = await dlq('redrive', '--topic', 'rawPlayStoreDlq', '--offsets', `0@${fixedOffset}`);
        expect(r.out).toMatch(/selected 1, re-driven 1, skipped 0/);
        await p.settled();
      }
      expect(await highWatermarks(p.kafka, rawPlay)).toBe(before + 2);

      expect(typesByKey(await p.events())).toEqual({ 'play_store:tok-r': ['SUBSCRIPTION_STARTED'] });
      const redriven = (await drainTopic(p.kafka, rawPlay)).filter(
        (r) => r.message.key?.toString() === 'tok-r',
      );
      expect(redriven).toHaveLength(2);
      const headers = readHeaders(redriven[0]!.message.headers);
      expect(headers[RAW_HEADERS.redrivenFrom]).toBe(`${playDlq}@0:${fixedOffset}`);
      expect(headers['message-id']).toBe('m-r');
      expect(Object.keys(headers).filter((k) => k.startsWith('dlq.'))).toEqual([]);
    } finally {
      await producer.disconnect();
      await p.stop();
    }
  });

  it('a trigger re-driven twice reaches a webhook endpoint once (the fan-out dedupes by triggerId)', async () => {
    const kafka = testKafka();
    const names = await createCatalogTopics(kafka);
    const schema = randomSchema();
    const pool = createPool(stackEnv().databaseUrl, schema, 5);
    await migrate(pool, schema, WEBHOOK_MIGRATIONS);
    const { eventCodec } = await codecs(names);
    const registry = createRegistry(stackEnv().registryUrl);
    const triggerCodec = codecFor<EngagementTrigger>(registry, names, 'engagementTriggers');
    await triggerCodec.register();
    const guard = new SsrfGuard(['127.0.0.1/32']);
    const producer = createIdempotentProducer(kafka);
    await producer.connect();
    const sender = new WebhookSender(guard, 'Storeline-Webhooks/test');
    const groupId = randomId('fanout');
    const service = createFanoutService({
      kafka,
      pool,
      producer,
      eventCodec,
      triggerCodec,
      names,
      sender,
      groupId,
      logger: testLogger,
      policy: { scheduleMs: [200, 400], jitter: 0, maxRetryAfterMs: 5_000 },
      disableAfterMs: 60_000,
      maxInFlight: 10,
      leaseMarginMs: 1_000,
      pollIntervalMs: 100,
      shutdownGraceMs: 500,
    });
    const manager = new EndpointManager(pool, guard, { maxConcurrency: 4, timeoutMs: 15_000 });
    const api = await serve(
      createWebhookApi({ pool, manager, apiKeys: ['k'], logger: testLogger, onDue: service.wake }),
    );
    const hooks = await new Endpoint('crm').start();
    const app = randomId('app');
    const triggers = names.name('engagementTriggers');
    try {
      await service.start();
      const created = await fetch(`${api.url}/v1/endpoints`, {
        method: 'POST',
        headers: { authorization: 'Bearer k', 'content-type': 'application/json' },
        body: JSON.stringify({ url: hooks.url, appIds: [app] }),
      });
      expect(created.status).toBe(201);
      const trigger: EngagementTrigger = {
        triggerId: `WINBACK_OFFER:app_store:1:app_store:n-1:0`,
        kind: 'WINBACK_OFFER',
        subscriptionKey: 'app_store:1',
        appUserId: null,
        appId: app,
        store: 'APP_STORE',
        environment: 'PRODUCTION',
        dueAt: Date.now(),
        firedAt: Date.now(),
        cause: { eventId: 'app_store:n-1:0', eventType: 'EXPIRED' },
        context: { productId: 'monthly' },
      };
      // Dead-lettered by a consumer that could not read it then; readable now.
      await producer.send({
        topic: names.name('engagementTriggersDlq'),
        acks: -1,
        messages: [
          {
            key: trigger.subscriptionKey,
            value: triggerCodec.encode(trigger),
            headers: dlqHeaders(
              { 'trigger-id': trigger.triggerId },
              { stage: 'decode', reason: 'DependencyError: registry', retriable: true, firstSeen: 'x' },
              { topic: triggers, partition: 2, offset: '5' },
            ),
          },
        ],
      });
      const env = {
        KAFKA_BROKERS: stackEnv().brokers.join(','),
        SCHEMA_REGISTRY_URL: stackEnv().registryUrl,
        TOPIC_PREFIX: names.prefix,
      };
      const io = { out: () => undefined, err: () => undefined };
      for (let i = 0; i < 2; i++) {
        expect(await runDlq(['redrive', '--topic', 'engagementTriggersDlq'], env, io)).toBe(0);
      }
      await waitFor('the trigger delivered', () => hooks.hits.length >= 1);
      await waitProcessed(kafka, groupId, triggers);
      await waitFor('no pending deliveries', async () => {
        const r = await pool.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM webhook_deliveries WHERE status <> 'succeeded'`,
        );
        return r.rows[0]!.n === 0;
      });
      expect(hooks.hits.map((h) => h.id)).toEqual([trigger.triggerId]);
      expect(await highWatermarks(kafka, triggers)).toBe(2);
    } finally {
      await service.stop();
      sender.close();
      await producer.disconnect();
      await hooks.close();
      await api.close();
      await pool.end();
    }
  });

  it('refuses unknown DLQs and malformed positions', async () => {
    const io = { out: () => undefined, err: () => undefined };
    expect(await runDlq(['list', '--topic', 'nope'], {}, io)).toBe(2);
    expect(await runDlq(['show', 'rawPlayStoreDlq', '3'], {}, io)).toBe(2);
    expect(await runDlq(['redrive', '--offsets', '0@1'], {}, io)).toBe(2);
    expect(await runDlq(['redrive', '--topic', 'webhooksDlq'], {}, io)).toBe(2);
    expect(await runDlq([], {}, io)).toBe(2);
  });
});
