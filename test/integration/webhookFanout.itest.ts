/**
 * webhook-fanout on the real stack: events produced to the canonical topic (Avro via the registry) reach
 * real HTTP endpoints in this process; every delivery is checked with the independent `standardwebhooks`
 * verifier. Each test uses its own appId so endpoints of other tests never match its events.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Kafka } from 'kafkajs';
import type { Pool } from 'pg';
import { type AvroCodec, codecFor, createRegistry } from '../../lib/platform/avro';
import type { EngagementTrigger, SubscriptionEvent } from '../../lib/core/generated/avro';
import { generateSecret } from '../../lib/core/webhooks/signing';
import type { TopicNames } from '../../lib/core/topics';
import { createWebhookApi } from '../../services/webhook-fanout/app';
import { WebhookSender } from '../../lib/adapters/webhooks/sender';
import { SsrfGuard } from '../../lib/adapters/webhooks/ssrf';
import type { AttemptRecord } from '../../lib/adapters/webhooks/store/attempts';
import { WEBHOOK_MIGRATIONS } from '../../lib/adapters/webhooks/store/migrations';
import { createPool, migrate } from '../../lib/platform/db';
import { stackEnv } from '../support/env';
import { serve } from '../support/http';
import {
  collect,
  createCatalogTopics,
  randomId,
  testKafka,
  testLogger,
  waitFor,
  waitForRecords,
} from '../support/kafka';
import { exited, spawnService } from '../support/processes';
import { codecs, produceEvents, randomSchema, realSampleEvents } from '../support/state';
import { Endpoint, Journal, verified } from '../support/webhooks';
import { startFanout } from '../kit/fanout';

const API_KEY = 'test-webhook-admin-key';

let kafka: Kafka;
let names: TopicNames;
let pool: Pool;
let schema: string;
let eventCodec: AvroCodec<SubscriptionEvent>;
let api: { url: string; close: () => Promise<void> };
let stopService: () => Promise<void>;
const endpoints: Endpoint[] = [];

function event(appId: string, over: Partial<SubscriptionEvent> = {}): SubscriptionEvent {
  return {
    ...realSampleEvents()[0]!,
    eventId: `app_store:${randomId('n')}:0`,
    appId,
    subscriptionKey: `app_store:${randomId('sub')}`,
    occurredAt: Date.now(),
    ...over,
  };
}

// The admin API's JSON, loosely typed: tests assert on its shape.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

async function call(method: string, path: string, body?: unknown): Promise<{ status: number; json: Json }> {
  const res = await fetch(api.url + path, {
    method,
    headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, json: await res.json() };
}

async function endpoint(
  name: string,
  settings: Record<string, unknown>,
  reply?: ConstructorParameters<typeof Endpoint>[1],
  journal?: Journal,
): Promise<{ server: Endpoint; id: string; secret: string }> {
  const server = await new Endpoint(name, reply, journal).start();
  endpoints.push(server);
  const created = await call('POST', '/v1/endpoints', { url: server.url, ...settings });
  expect(created.status).toBe(201);
  return { server, id: created.json.id, secret: created.json.secret };
}

async function deliveries(endpointId: string): Promise<{ id: string; status: string; messageId: string }[]> {
  return (await call('GET', `/v1/endpoints/${endpointId}/deliveries?limit=500`)).json.items;
}

const send = (events: SubscriptionEvent[]) =>
  produceEvents(kafka, names.name('subscriptionEvents'), eventCodec, events);

beforeAll(async () => {
  kafka = testKafka();
  names = await createCatalogTopics(kafka);
  schema = randomSchema();
  pool = createPool(stackEnv().databaseUrl, schema, 10);
  await migrate(pool, schema, WEBHOOK_MIGRATIONS);
  ({ eventCodec } = await codecs(names));
  const fanout = await startFanout({
    kafka,
    names,
    pool,
    eventCodec,
    // Short, so one test can see an endpoint disabled for failing too long; others succeed well within it.
    overrides: { disableAfterMs: 1_500 },
  });
  const { manager, service } = fanout;
  await service.start();
  api = await serve(
    createWebhookApi({ pool, manager, apiKeys: [API_KEY], logger: testLogger, onDue: service.wake }),
  );
  stopService = fanout.stop;
});

afterAll(async () => {
  await Promise.all(endpoints.map((e) => e.close()));
  await stopService?.();
  await api?.close();
  await pool?.end();
});

it('three endpoints with different filters each get exactly their events, all verifiable', async () => {
  const app = randomId('app');
  const renewals = await endpoint('renewals', { appIds: [app], eventTypes: ['subscription.RENEWED'] });
  const sandbox = await endpoint('sandbox', { appIds: [app], environments: ['SANDBOX'] });
  const all = await endpoint('all', { appIds: [app] });
  const events = [
    event(app, { type: 'RENEWED', environment: 'PRODUCTION' }),
    event(app, { type: 'EXPIRED', environment: 'SANDBOX' }),
    event(app, { type: 'SUBSCRIPTION_STARTED', environment: 'PRODUCTION' }),
    event(app, { type: 'RENEWED', environment: 'SANDBOX' }),
    event(randomId('other-app'), { type: 'RENEWED' }),
  ];
  await send(events);
  await waitFor('the catch-all endpoint to get its 4 events', () => all.server.hits.length >= 4);
  await waitFor('no pending deliveries', async () => {
    const all3 = await Promise.all([renewals, sandbox, all].map((e) => deliveries(e.id)));
    return all3.flat().every((d) => d.status === 'succeeded');
  });
  const ids = (i: number[]) => i.map((n) => events[n]!.eventId).sort();
  expect([...renewals.server.ids()].sort()).toEqual(ids([0, 3]));
  expect([...sandbox.server.ids()].sort()).toEqual(ids([1, 3]));
  expect([...all.server.ids()].sort()).toEqual(ids([0, 1, 2, 3]));
  for (const e of [renewals, sandbox, all]) {
    for (const hit of e.server.hits) {
      const payload = verified(e.secret, hit);
      expect(payload.data.eventId).toBe(hit.id);
      expect(payload.type).toBe(`subscription.${payload.data.type as string}`);
      expect(hit.headers['user-agent']).toBe('Storeline-Webhooks/test');
      expect(hit.headers['content-type']).toBe('application/json');
    }
  }
});

it('500 then 200: retried with the same webhook-id, delivered once, every attempt logged', async () => {
  const app = randomId('app');
  const flaky = await endpoint('flaky', { appIds: [app] }, (n) => (n === 0 ? 500 : 200));
  const e = event(app);
  await send([e]);
  const [d] = await waitFor('the delivery to succeed', async () => {
    const list = await deliveries(flaky.id);
    return list.length === 1 && list[0]!.status === 'succeeded' ? list : undefined;
  });
  expect(flaky.server.ids()).toEqual([e.eventId, e.eventId]);
  for (const hit of flaky.server.hits) expect(verified(flaky.secret, hit).data.eventId).toBe(e.eventId);
  const detail = (await call('GET', `/v1/deliveries/${d!.id}`)).json;
  expect(detail.attemptLog.map((a: AttemptRecord) => [a.attempt, a.statusCode, a.outcome])).toEqual([
    [1, 500, 'retry'],
    [2, 200, 'success'],
  ]);
  expect(detail.attemptLog.every((a: AttemptRecord) => typeof a.latencyMs === 'number')).toBe(true);
});

it('400 goes to the DLQ without a retry and the delivery is marked failed', async () => {
  const app = randomId('app');
  const dlq = await collect(kafka, [names.name('webhooksDlq')]);
  try {
    const bad = await endpoint('bad', { appIds: [app] }, () => 400);
    const e = event(app);
    await send([e]);
    const [record] = await waitForRecords(
      dlq.records,
      1,
      (r) => r.message.headers?.['endpoint-id']?.toString() === bad.id,
    );
    const h = (k: string) => record!.message.headers?.[k]?.toString();
    expect(h('webhook-id')).toBe(e.eventId);
    expect(h('outcome')).toBe('rejected');
    expect(h('last-status')).toBe('400');
    expect(h('dlq.reason')).toMatch(/HTTP 400 is not retried/);
    expect(record!.message.key?.toString()).toBe(e.subscriptionKey);
    expect(JSON.parse(record!.message.value!.toString()).data.eventId).toBe(e.eventId);
    const list = await waitFor('failed status', async () => {
      const l = await deliveries(bad.id);
      return l[0]?.status === 'failed' ? l : undefined;
    });
    // Failed is final: the one request seen is the only one there will be.
    expect(bad.server.hits).toHaveLength(1);
    expect((await call('GET', `/v1/endpoints/${bad.id}/deliveries?status=failed`)).json.items).toHaveLength(
      1,
    );

    // Replay all failed since a time: the endpoint is fixed, the same message arrives with the same id.
    bad.server.reply = () => 204;
    const replayed = await call('POST', `/v1/endpoints/${bad.id}/replay`, {
      since: new Date(Date.now() - 60_000).toISOString(),
    });
    expect(replayed).toMatchObject({ status: 202, json: { replayed: 1, deliveryIds: [list[0]!.id] } });
    await waitFor('the replayed delivery', () => bad.server.hits.length === 2);
    expect(verified(bad.secret, bad.server.hits[1]!).data.eventId).toBe(e.eventId);
    expect(bad.server.ids()).toEqual([e.eventId, e.eventId]);
  } finally {
    await dlq.stop();
  }
});

it('410 disables the endpoint; later events wait, none lost, and go out once it is enabled again', async () => {
  const app = randomId('app');
  const gone = await endpoint('gone', { appIds: [app] }, () => 410);
  const first = event(app);
  await send([first]);
  const disabled = await waitFor('the endpoint to be disabled', async () => {
    const e = (await call('GET', `/v1/endpoints/${gone.id}`)).json;
    return e.enabled === false ? e : undefined;
  });
  expect(disabled.disabledReason).toMatch(/410/);
  expect(gone.server.hits).toHaveLength(1);

  const second = event(app);
  await send([second]);
  await waitFor('the second delivery to be queued', async () => (await deliveries(gone.id)).length === 2);
  expect((await deliveries(gone.id)).find((d) => d.messageId === second.eventId)?.status).toBe('pending');
  expect(gone.server.hits).toHaveLength(1);

  gone.server.reply = () => 200;
  expect((await call('POST', `/v1/endpoints/${gone.id}/enable`, {})).json.enabled).toBe(true);
  await waitFor('the queued delivery after enable', () => gone.server.hits.length === 2);
  expect(verified(gone.secret, gone.server.hits[1]!).data.eventId).toBe(second.eventId);
});

it('an endpoint failing for longer than the configured span is disabled', async () => {
  const app = randomId('app');
  const failing = await endpoint('failing', { appIds: [app] }, () => 503);
  await send([event(app)]);
  // All attempts of the first delivery fail (exhausted after the schedule), within the span.
  const since = await waitFor('the endpoint to be failing', async () => {
    const e = (await call('GET', `/v1/endpoints/${failing.id}`)).json;
    const list = await deliveries(failing.id);
    return e.failingSince && list[0]?.status === 'failed' ? (e.failingSince as number) : undefined;
  });
  expect((await call('GET', `/v1/endpoints/${failing.id}`)).json.enabled).toBe(true);
  await waitFor('the span to pass', () => Date.now() - since > 1_500);
  await send([event(app)]);
  const disabled = await waitFor('the endpoint to be disabled', async () => {
    const e = (await call('GET', `/v1/endpoints/${failing.id}`)).json;
    return e.enabled === false ? e : undefined;
  });
  expect(disabled.disabledReason).toMatch(/^failing: no successful delivery since/);
  expect(failing.server.hits.length).toBeGreaterThanOrEqual(4);
});

it('an endpoint that never answers does not hold back another endpoint (arrival order)', async () => {
  const app = randomId('app');
  const journal = new Journal();
  const hanging = await endpoint(
    'hanging',
    { appIds: [app], maxConcurrency: 2, timeoutMs: 20_000 },
    () => 'hang',
    journal,
  );
  const healthy = await endpoint('healthy', { appIds: [app] }, () => 200, journal);
  const first = Array.from({ length: 5 }, () => event(app));
  await send(first);
  await waitFor('the hanging endpoint to hold both its slots', () => hanging.server.hits.length === 2);
  const second = Array.from({ length: 5 }, () => event(app));
  await send(second);
  await waitFor('the healthy endpoint to get all 10', () => healthy.server.hits.length === 10);
  // Every healthy delivery arrived while the hanging endpoint still held its first requests open.
  const lastHealthy = journal.entries.lastIndexOf('healthy:received');
  const firstAbort = journal.entries.indexOf('hanging:aborted');
  expect(firstAbort === -1 || firstAbort > lastHealthy).toBe(true);
  expect(hanging.server.aborted).toBe(0);
  expect(hanging.server.hits).toHaveLength(2);
  expect(new Set(healthy.server.ids())).toEqual(new Set([...first, ...second].map((e) => e.eventId)));
  await call('POST', `/v1/endpoints/${hanging.id}/disable`, {});
});

it('replays one delivery with the same webhook-id and a fresh, valid signature', async () => {
  const app = randomId('app');
  const ep = await endpoint('replay', { appIds: [app] });
  const e = event(app);
  await send([e]);
  const [d] = await waitFor('delivered', async () => {
    const l = await deliveries(ep.id);
    return l[0]?.status === 'succeeded' ? l : undefined;
  });
  expect(await call('POST', `/v1/deliveries/${d!.id}/replay`, {})).toMatchObject({ status: 202 });
  await waitFor('the replay', () => ep.server.hits.length === 2);
  expect(ep.server.ids()).toEqual([e.eventId, e.eventId]);
  expect(ep.server.hits[1]!.body).toBe(ep.server.hits[0]!.body);
  expect(verified(ep.secret, ep.server.hits[1]!).data.eventId).toBe(e.eventId);
});

it('after a secret rotation each delivery carries two signatures, one per secret, both verifiable', async () => {
  const app = randomId('app');
  const ep = await endpoint('rotated', { appIds: [app] });
  const rotated = await call('POST', `/v1/endpoints/${ep.id}/rotate-secret`, { overlapSeconds: 3600 });
  expect(rotated.status).toBe(200);
  const newSecret: string = rotated.json.secret;
  expect(newSecret).toMatch(/^whsec_/);
  expect(newSecret).not.toBe(ep.secret);
  expect(JSON.stringify(rotated.json)).not.toContain(ep.secret);
  await send([event(app)]);
  await waitFor('the delivery', () => ep.server.hits.length === 1);
  const hit = ep.server.hits[0]!;
  const entries = hit.headers['webhook-signature']!.split(' ');
  expect(entries).toHaveLength(2);
  // Each entry verifies alone with its own secret (newest first), so either secret works on its own.
  const only = (i: number) => ({ ...hit, headers: { ...hit.headers, 'webhook-signature': entries[i]! } });
  expect(() => verified(newSecret, only(0))).not.toThrow();
  expect(() => verified(ep.secret, only(1))).not.toThrow();
  expect(() => verified(newSecret, only(1))).toThrow(/No matching signature/);
  expect(() => verified(ep.secret, hit)).not.toThrow();
  expect(() => verified(newSecret, hit)).not.toThrow();
});

it('refuses private, link-local, metadata and non-allow-listed loopback targets', async () => {
  for (const url of [
    'http://169.254.169.254/latest/meta-data/',
    'http://10.0.0.8/hooks',
    'http://192.168.1.10/hooks',
    'http://[::1]:9/hooks',
    'http://127.0.0.2:9/hooks',
    'http://[fd00:ec2::254]/',
    'http://0.0.0.0:9/',
  ]) {
    const r = await call('POST', '/v1/endpoints', { url });
    expect([url, r.status]).toEqual([url, 400]);
    expect(r.json.message).toMatch(/url refused/);
  }
  // At delivery time too: a sender whose allow-list does not hold 127.0.0.1 never connects.
  const target = await new Endpoint('target').start();
  endpoints.push(target);
  const strict = new WebhookSender(new SsrfGuard([]), 'test');
  try {
    const sent = await strict.send(target.url, '{}', {}, 2_000);
    expect(sent.result).toMatchObject({ kind: 'refused' });
    const byName = await strict.send(target.url.replace('127.0.0.1', 'localhost'), '{}', {}, 2_000);
    expect(byName.result).toMatchObject({ kind: 'refused' });
    expect(target.hits).toHaveLength(0);
  } finally {
    strict.close();
  }
});

it('rejects admin calls without a valid API key and bad endpoint definitions', async () => {
  const res = await fetch(`${api.url}/v1/endpoints`, { headers: { authorization: 'Bearer wrong' } });
  expect(res.status).toBe(401);
  const bad = await call('POST', '/v1/endpoints', {
    url: 'http://127.0.0.1:9/x',
    eventTypes: ['subscription.renewed'],
  });
  expect(bad.status).toBe(400);
  expect(bad.json.message).toMatch(/eventTypes/);
  const list = await call('GET', '/v1/endpoints');
  expect(JSON.stringify(list.json)).not.toMatch(/whsec_/);
});

it('a fan-out process (seeded from a file, triggers on) killed in the middle of deliveries loses none', async () => {
  const app = randomId('app');
  const childSchema = randomSchema();
  const childPool = createPool(stackEnv().databaseUrl, childSchema);
  // Answers after a pause so deliveries are in flight when the process dies.
  const slow = await new Endpoint('slow', () => ({ status: 200, delayMs: 100 })).start();
  endpoints.push(slow);
  const secret = generateSecret();
  const dir = mkdtempSync(join(tmpdir(), 'storeline-webhooks-'));
  const seedFile = join(dir, 'endpoints.json');
  writeFileSync(
    seedFile,
    JSON.stringify({
      endpoints: [
        {
          id: 'crm',
          url: slow.url,
          appIds: [app],
          maxConcurrency: 2,
          timeoutMs: 2000,
          secretEnv: 'CRM_WEBHOOK_SECRET',
        },
      ],
    }),
  );
  const env = {
    DATABASE_URL: stackEnv().databaseUrl,
    TOPIC_PREFIX: names.prefix,
    WEBHOOK_DB_SCHEMA: childSchema,
    WEBHOOK_GROUP_ID: randomId('fanout-proc'),
    WEBHOOK_API_KEYS: API_KEY,
    WEBHOOK_ALLOWED_CIDRS: '127.0.0.1/32',
    WEBHOOK_ENDPOINTS_FILE: seedFile,
    CRM_WEBHOOK_SECRET: secret,
    WEBHOOK_INCLUDE_TRIGGERS: 'true',
    WEBHOOK_RETRY_SCHEDULE: '100ms,200ms,400ms,800ms',
    WEBHOOK_LEASE_MARGIN: '500ms',
    WEBHOOK_POLL_INTERVAL: '100ms',
  };
  const triggerCodec = codecFor<EngagementTrigger>(
    createRegistry(stackEnv().registryUrl),
    names,
    'engagementTriggers',
  );
  await triggerCodec.register();
  const events = Array.from({ length: 40 }, () => event(app));
  const trigger: EngagementTrigger = {
    triggerId: `WINBACK_OFFER:${events[0]!.subscriptionKey}:${events[0]!.eventId}`,
    kind: 'WINBACK_OFFER',
    subscriptionKey: events[0]!.subscriptionKey,
    appUserId: null,
    appId: app,
    store: 'APP_STORE',
    environment: 'PRODUCTION',
    dueAt: Date.now(),
    firedAt: Date.now(),
    cause: { eventId: events[0]!.eventId, eventType: 'EXPIRED' },
    context: { productId: 'monthly' },
  };
  const expected = [...events.map((e) => e.eventId), trigger.triggerId];
  let proc = spawnService('webhook-fanout', env);
  try {
    await send(events);
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({
      topic: names.name('engagementTriggers'),
      messages: [{ key: trigger.subscriptionKey, value: triggerCodec.encode(trigger) }],
    });
    await producer.disconnect();
    await waitFor('some deliveries', () => slow.hits.length >= 6, 90_000);
    proc.kill('SIGKILL');
    expect(await exited(proc)).toBe('SIGKILL');
    proc = spawnService('webhook-fanout', env);
    await waitFor('every message delivered', () => new Set(slow.ids()).size === expected.length, 90_000);
    const done = await waitFor('all deliveries succeeded', async () => {
      const r = await childPool.query<{ status: string; n: number }>(
        `SELECT status, count(*)::int AS n FROM webhook_deliveries WHERE endpoint_id = 'crm' GROUP BY status`,
      );
      return r.rows.length === 1 && r.rows[0]!.status === 'succeeded' ? r.rows[0] : undefined;
    });
    expect(done.n).toBe(expected.length);
    expect(new Set(slow.ids())).toEqual(new Set(expected));
    for (const hit of slow.hits) verified(secret, hit);
    const triggerHit = slow.hits.find((h) => h.id === trigger.triggerId)!;
    expect(verified(secret, triggerHit)).toMatchObject({
      type: 'trigger.WINBACK_OFFER',
      data: { kind: 'WINBACK_OFFER' },
    });
  } finally {
    proc.kill('SIGTERM');
    await exited(proc);
    await childPool.end();
    rmSync(dir, { recursive: true, force: true });
  }
});
