/**
 * `storeline renormalize` on the real stack (Kafka, registry, PostgreSQL, real HTTP endpoints): a normalizer
 * runs yesterday's App Store mapping, with three bugs (a renewal mapped as an expiry, a spurious refund added
 * to a renewal-status change, one renewal dropped), into a state aggregator and a webhook fan-out. Then the
 * fixed mapping is run over the raw records: the dry run names exactly the three differences and publishes
 * nothing; the real run publishes three corrections; the state converges to what the fixed mapping gives;
 * every endpoint receives exactly the corrections it must (by its filter, or because it holds the wrong
 * event); a second run finds nothing; a raw duplicate stays a duplicate. The Play path runs on the diff
 * inputs stored with each outcome, so it corrects with the Play Developer API down and the store moved on.
 */
import { isDeepStrictEqual } from 'node:util';
import type { Kafka } from 'kafkajs';
import type { Pool } from 'pg';
import { CLAIM_MIGRATIONS, PgNotificationClaims } from '../../lib/adapters/normalizer/claims';
import { createNormalizer } from '../../lib/adapters/normalizer/normalizer';
import { playBasePlanOf, playResourceOf } from '../../lib/adapters/console/queries';
import { renormalize } from '../../lib/adapters/normalizer/renormalize';
import { createAggregator } from '../../lib/adapters/state/aggregator';
import { applyEvents } from '../../lib/adapters/state/store';
import { WEBHOOK_MIGRATIONS } from '../../lib/adapters/webhooks/store/migrations';
import type { SubscriptionEvent, SubscriptionState } from '../../lib/core/generated/avro';
import { normalizeAppStore } from '../../lib/core/ingest/normalize';
import { diffPlay } from '../../lib/core/play/diff';
import { rawContext } from '../../lib/core/rawContext';
import type { TopicNames } from '../../lib/core/topics';
import type { AvroCodec } from '../../lib/platform/avro';
import { createPool, inTransaction, migrate } from '../../lib/platform/db';
import { createIdempotentProducer } from '../../lib/platform/kafka';
import { readRanges, type RangeRecord } from '../../lib/platform/rangeReader';
import { createPki, signedBody, type Pki } from '../kit/appleSigning';
import { notification } from '../kit/builders/appStore';
import { rtdn, sub } from '../kit/builders/play';
import { startPlayPipeline } from '../kit/playPipeline';
import { startFanout } from '../kit/fanout';
import { waitProcessed } from '../kit/normalizerProgress';
import { stackEnv } from '../support/env';
import { createCatalogTopics, randomId, testKafka, testLogger, waitFor } from '../support/kafka';
import { codecs, migratedPool, randomSchema } from '../support/state';
import { Endpoint } from '../support/webhooks';

type Stop = () => Promise<void>;
const stops: Stop[] = [];
afterAll(async () => {
  for (const stop of stops.reverse()) await stop().catch(() => undefined);
});

let kafka: Kafka;
let names: TopicNames;
let eventCodec: AvroCodec<SubscriptionEvent>;
let pki: Pki;

beforeAll(async () => {
  kafka = testKafka();
  names = await createCatalogTopics(kafka);
  ({ eventCodec } = await codecs(names));
  pki = await createPki();
});

const digits = () => String(Math.floor(Math.random() * 1e15)).padStart(16, '2');

/** Raw App Store records: three subscriptions, and one notification delivered twice. */
function rawNotifications() {
  const [a, b, c] = [digits(), digits(), digits()];
  const tx = (otid: string, over = {}) => ({
    tx: { originalTransactionId: otid, ...over },
    renewal: { originalTransactionId: otid },
  });
  const n = [
    notification('SUBSCRIBED', 'INITIAL_BUY', tx(a)),
    notification('DID_RENEW', undefined, tx(a, { transactionId: digits(), purchaseDate: 1_762_592_000_000 })),
    notification('SUBSCRIBED', 'INITIAL_BUY', tx(b)),
    notification('DID_CHANGE_RENEWAL_STATUS', 'AUTO_RENEW_DISABLED', tx(b)),
    notification('DID_RENEW', undefined, tx(c)),
  ].map((x) => ({ ...x, payload: { ...x.payload, notificationUUID: randomId('uuid') } }));
  return { keys: [a, b, c].map((o) => `app_store:${o}`), notifications: n };
}

/** Yesterday's mapping: the fixed one, then three bugs keyed by notification id. */
function buggyMapping(ids: {
  renewal: string;
  statusChange: string;
  dropped: string;
}): typeof normalizeAppStore {
  return (format, body, ctx) => {
    const events = normalizeAppStore(format, body, ctx);
    const id = events[0]?.source.notificationId;
    if (id === ids.dropped) return [];
    if (id === ids.renewal)
      return events.map((e) => ({ ...e, type: 'EXPIRED', status: 'EXPIRED', entitled: false }));
    if (id === ids.statusChange)
      return [...events, { ...events[0]!, eventId: `app_store:${id}:1`, type: 'REFUNDED', entitled: false }];
    return events;
  };
}

async function produceRaw(topic: string, bodies: Buffer[]): Promise<void> {
  const producer = createIdempotentProducer(kafka);
  await producer.connect();
  for (const [i, value] of bodies.entries()) {
    await producer.send({
      topic,
      acks: -1,
      messages: [
        {
          key: `k${i}`,
          value,
          headers: { format: 'app-store-v2', 'received-at': String(1_770_000_000_000 + i) },
        },
      ],
    });
  }
  await producer.disconnect();
}

async function startFanoutWith(pool: Pool) {
  const { manager, service, stop } = await startFanout({ kafka, names, pool, eventCodec });
  const endpoint = async (name: string, eventTypes: string[] | null) => {
    const server = await new Endpoint(name).start();
    stops.push(() => server.close());
    await manager.create({ url: server.url, eventTypes: eventTypes ?? undefined });
    return server;
  };
  const servers = {
    all: await endpoint('all', null),
    renewals: await endpoint('renewals', ['subscription.RENEWED']),
    expiries: await endpoint('expiries', ['subscription.EXPIRED']),
  };
  await service.start();
  stops.push(stop);
  return servers;
}

/** States without the fold's clock, for comparing two folds made at different times. */
const comparable = (s: SubscriptionState | undefined) => s && { ...s, updatedAt: 0 };

async function statesOf(pool: Pool, keys: string[]) {
  const r = await pool.query<{ subscription_key: string; fold: { state: SubscriptionState } }>(
    'SELECT subscription_key, fold FROM subscription_state WHERE subscription_key = ANY($1) ORDER BY 1',
    [keys],
  );
  return Object.fromEntries(r.rows.map((x) => [x.subscription_key, comparable(x.fold.state)]));
}

/** Every committed record of `topic` up to now (read_committed, no fence records written). */
async function readAll(topic: string): Promise<RangeRecord[]> {
  const admin = kafka.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  return readRanges(
    kafka,
    ends.map((p) => ({ topic, partition: p.partition, start: Number(p.low), end: Number(p.high) })),
  );
}

/** A pool on a fresh schema with `migrations` applied. */
async function schemaPool(migrations: Parameters<typeof migrate>[2], max = 4): Promise<Pool> {
  const schema = randomSchema();
  const pool = createPool(stackEnv().databaseUrl, schema, max);
  stops.push(() => pool.end());
  await migrate(pool, schema, migrations);
  return pool;
}

async function startAggregator(): Promise<Pool> {
  const { pool } = await migratedPool();
  stops.push(() => pool.end());
  const { stateCodec } = await codecs(names);
  const producer = createIdempotentProducer(kafka);
  await producer.connect();
  const groupId = randomId('state');
  const aggregator = createAggregator({
    kafka,
    pool,
    producer,
    eventCodec,
    stateCodec,
    names,
    groupId,
    logger: testLogger,
  });
  await aggregator.start();
  stops.push(async () => {
    await aggregator.stop();
    await producer.disconnect();
  });
  return pool;
}

/** What the fixed mapping makes of the raw records (each notification once), folded by the state store. */
async function expectedStates(keys: string[]): Promise<Record<string, unknown>> {
  const { pool } = await migratedPool();
  stops.push(() => pool.end());
  const records = (await readAll(names.name('rawAppStore'))).slice(0, 5); // the sixth is the duplicate
  const events = records.flatMap((r) => normalizeAppStore('app-store-v2', r.value as Buffer, rawContext(r)));
  await inTransaction(pool, (c) => applyEvents(c, events, Date.now()));
  return statesOf(pool, keys);
}

const run = (dryRun: boolean, normalizerGroupId: string, since: number) =>
  renormalize({
    kafka,
    pool: claimsPool,
    codec: eventCodec,
    names,
    store: 'app-store',
    since,
    dryRun,
    normalizerGroupId,
    runId: randomId('run'),
  });
let claimsPool: Pool;

it('corrects a buggy mapping: dry run, publish once, state converges, endpoints get exactly the corrections', async () => {
  const { keys, notifications } = rawNotifications();
  const id = (i: number) => notifications[i]!.payload.notificationUUID;
  const eid = (i: number, n = 0) => `app_store:${id(i)}:${n}`;
  const raw = names.name('rawAppStore');
  const events = names.name('subscriptionEvents');
  const since = Date.now() - 1000;
  const bodies = notifications.map((n) => signedBody(n, pki));
  await produceRaw(raw, [...bodies, bodies[1]!]); // the renewal twice: Apple retried

  // Yesterday: the buggy normalizer, the state aggregator and the fan-out.
  claimsPool = await schemaPool(CLAIM_MIGRATIONS);
  const normalizerGroup = randomId('norm');
  const normalizer = createNormalizer({
    kafka,
    logger: testLogger,
    names,
    codec: eventCodec,
    groupId: normalizerGroup,
    transactionalIdPrefix: randomId('norm-tx'),
    claims: new PgNotificationClaims(claimsPool),
    mapAppStore: buggyMapping({ renewal: id(1), statusChange: id(3), dropped: id(4) }),
  });
  await normalizer.start();
  stops.push(() => normalizer.stop());
  await waitProcessed(kafka, normalizerGroup, raw);
  const stateDb = await startAggregator();
  const webhooks = await startFanoutWith(await schemaPool(WEBHOOK_MIGRATIONS, 10));
  const before = await readAll(events);
  expect(before.map((r) => r.headers['event-type']).sort()).toEqual(
    ['SUBSCRIPTION_STARTED', 'EXPIRED', 'SUBSCRIPTION_STARTED', 'AUTO_RENEW_DISABLED', 'REFUNDED'].sort(),
  );
  await waitFor('the catch-all endpoint to get the 5 original events', () => webhooks.all.hits.length >= 5);

  // The fix, dry: exactly the three differences, nothing published.
  const dry = await run(true, normalizerGroup, since);
  expect(
    dry.corrections
      .map((c) => [c.kind, c.event.eventId, c.event.revision, c.event.type, c.fields])
      .sort((a, b) => String(a[0]).localeCompare(String(b[0]))),
  ).toEqual([
    ['added', eid(4), 1, 'RENEWED', []],
    ['changed', eid(1), 1, 'RENEWED', ['entitled', 'status', 'type']],
    ['retracted', eid(3, 1), 1, 'REFUNDED', []],
  ]);
  expect(dry).toMatchObject({ rawRecords: 6, unchanged: 3, published: false });
  expect(dry.skipped).toMatchObject({ duplicate: 1, notNormalized: 0 });
  expect(await readAll(events)).toHaveLength(5);

  // The fix, for real: three corrections, once.
  const done = await run(false, normalizerGroup, since);
  expect(done.corrections).toHaveLength(3);
  expect(done.published).toBe(true);
  const after = await readAll(events);
  expect(after).toHaveLength(8);

  // State: what the fixed mapping would have given from the start.
  const want = await expectedStates(keys);
  expect(Object.keys(want).sort()).toEqual([...keys].sort());
  // On a timeout the expectation below shows the difference.
  await waitFor('the state to converge', async () =>
    isDeepStrictEqual(await statesOf(stateDb, keys), want) ? true : undefined,
  ).catch(() => undefined);
  expect(await statesOf(stateDb, keys)).toEqual(want);

  // Webhooks: the catch-all gets the three corrections; RENEWED-only gets the two RENEWED ones; the
  // EXPIRED-only endpoint, which holds the wrong expiry, gets its correction although it is now a RENEWED.
  await waitFor(
    'the corrections to arrive',
    () => webhooks.all.hits.length >= 8 && webhooks.expiries.hits.length >= 2,
  );
  const ids = (e: Endpoint) => e.ids().slice().sort();
  expect(ids(webhooks.all)).toEqual(
    [eid(0), eid(1), `${eid(1)}#r1`, eid(2), eid(3), eid(3, 1), `${eid(3, 1)}#r1`, `${eid(4)}#r1`].sort(),
  );
  expect(ids(webhooks.renewals)).toEqual([`${eid(1)}#r1`, `${eid(4)}#r1`].sort());
  expect(ids(webhooks.expiries)).toEqual([eid(1), `${eid(1)}#r1`].sort());
  const retraction = JSON.parse(webhooks.all.hits.find((h) => h.id === `${eid(3, 1)}#r1`)!.body);
  expect(retraction.data).toMatchObject({
    eventId: eid(3, 1),
    revision: 1,
    retracted: true,
    type: 'REFUNDED',
  });

  // Converged: a second run finds nothing, publishes nothing.
  const again = await run(false, normalizerGroup, since);
  expect(again).toMatchObject({ corrections: [], unchanged: 5, published: false });
  expect(await readAll(events)).toHaveLength(8);
});

it('Play: corrects from the diff inputs stored with each outcome, with the Play Developer API down', async () => {
  // Yesterday's Play mapping called every renewal a billing recovery.
  const buggy: typeof diffPlay = (input) => {
    const out = diffPlay(input);
    return {
      ...out,
      events: out.events.map((e) => (e.type === 'RENEWED' ? { ...e, type: 'BILLING_RECOVERED' } : e)),
    };
  };
  const p = await startPlayPipeline({ diff: buggy });
  stops.push(() => p.stop());
  const since = Date.now() - 1000;
  const token = randomId('tok');
  const month = (m: number) => `2026-0${m}-01T10:00:00.000Z`;
  p.fake.state.subscriptions.set(
    token,
    sub('ACTIVE', {}, { productId: 'basic', expiryTime: month(3), latestSuccessfulOrderId: 'GPA.R..0' }),
  );
  await p.push(rtdn(4, token), randomId('m'));
  p.fake.state.subscriptions.set(
    token,
    sub('ACTIVE', {}, { productId: 'basic', expiryTime: month(4), latestSuccessfulOrderId: 'GPA.R..1' }),
  );
  const renewal = randomId('m');
  await p.push(rtdn(2, token), renewal);
  const held = await Promise.all(
    (await readAll(p.names.name('subscriptionEvents'))).map((r) => p.eventCodec.decode(r.value!)),
  );
  expect(held.map((e) => e.type).sort()).toEqual(['BILLING_RECOVERED', 'SUBSCRIPTION_STARTED']);

  // The store has moved on since (the purchase is now expired), and the API is down: neither matters.
  p.fake.state.subscriptions.set(token, sub('EXPIRED', {}, { productId: 'basic', expiryTime: month(5) }));
  await p.fake.close();
  // The console shows the same stored answer beside the raw notification (the renewal's, not today's EXPIRED).
  const rawRenewal = (await readAll(p.names.name('rawPlayStore')))[1]!;
  const shown = JSON.parse(await playResourceOf(p.pool, rawRenewal.value));
  expect(shown.subscriptionsv2).toMatchObject({ subscriptionState: 'SUBSCRIPTION_STATE_ACTIVE' });
  expect(shown.subscriptionsv2.lineItems[0].expiryTime).toBe(month(4));
  expect(await playBasePlanOf(p.pool, `play_store:${token}`)).toBe('monthly'); // the subscriber page's base plan
  const run = (dryRun: boolean) =>
    renormalize({
      kafka: p.kafka,
      pool: p.pool,
      codec: p.eventCodec,
      names: p.names,
      store: 'play-store',
      since,
      dryRun,
      normalizerGroupId: p.groupId,
      runId: randomId('run'),
    });
  const done = await run(false);
  expect(done.corrections.map((c) => [c.kind, c.event.eventId, c.event.type, c.fields])).toEqual([
    ['changed', `play_store:${renewal}:0`, 'RENEWED', ['type']],
  ]);
  expect(done).toMatchObject({ rawRecords: 2, unchanged: 1, published: true });
  expect(await run(false)).toMatchObject({ corrections: [], unchanged: 2, published: false });
});
