/**
 * The warehouse sink end to end on the real stack: canonical events and states are written with the
 * project's Avro codec (Confluent wire format, Apicurio content ids) under a fresh topic prefix, inside
 * Kafka transactions (one of them aborted); `scripts/sink/sink.sh up` starts the Connect worker when it is
 * not running and applies connect/config/*.json pointed at that prefix and at a fresh database; the test
 * then reads warehouse.subscription_events and warehouse.subscription_state with SQL: exactly the distinct
 * committed events (a redelivered eventId once, the aborted one never) with typed columns, the final
 * states, a poison record in the Connect DLQ with its context headers while the tasks keep running, and the
 * real schema evolution (version 1 → 2: the base-plan fields inside planChange, plus a test-only top-level
 * field on top) that adds columns without touching the rows already there. Everything it creates (topics, connectors, database, subjects) is removed at the end
 * (SINK_TEST_KEEP=1 keeps it to look at).
 *
 * Needs the embedded stack's ports (Kafka 9092, registry 8081, PostgreSQL 5432), Java 17 and Maven; the
 * first run resolves the worker from Maven Central (a few minutes).
 */
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { Kafka, logLevel, type IHeaders } from 'kafkajs';
import { Client } from 'pg';
import { AvroCodec, codecFor, createRegistry } from '../../lib/platform/avro';
import { TopicNames } from '../../lib/core/topics';
import { history } from '../../scripts/schema-compat';

const ROOT = resolve(__dirname, '..', '..');
const SINK = resolve(ROOT, 'scripts/sink/sink.sh');
const CONNECT_URL = `http://127.0.0.1:${process.env.STORELINE_CONNECT_PORT ?? 8083}`;
const run = promisify(execFile);

type Row = Record<string, unknown>;
type Event = Record<string, unknown> & { eventId: string; subscriptionKey: string };

/** The stack's variables: from jest's globalSetup when it ran, else from the embedded stack itself. */
function stack(): { brokers: string[]; registryUrl: string; databaseUrl: string } {
  if (!process.env.KAFKA_BROKERS || !process.env.SCHEMA_REGISTRY_URL || !process.env.DATABASE_URL) {
    const out = execFileSync('bash', [resolve(ROOT, 'scripts/stack/stack.sh'), 'up'], { encoding: 'utf8' });
    for (const m of out.matchAll(/^([A-Z_]+)=(.*)$/gm)) process.env[m[1]!] = m[2];
  }
  return {
    brokers: process.env.KAFKA_BROKERS!.split(','),
    registryUrl: process.env.SCHEMA_REGISTRY_URL!,
    databaseUrl: process.env.DATABASE_URL!,
  };
}

async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs = 120_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`,
      );
    await new Promise((r) => setTimeout(r, 500));
  }
}

const id = randomBytes(4).toString('hex');
const names = new TopicNames(`sink-${id}.`);
const EVENTS = names.name('subscriptionEvents');
const STATES = names.name('subscriptionState');
const DLQ = `${names.prefix}storeline.warehouse-sink.dlq`;
const DB = `sink_${id}`;
const SUFFIX = `-${id}`;
const CONNECTORS = [`storeline-warehouse-events${SUFFIX}`, `storeline-warehouse-state${SUFFIX}`];
const sinkEnv = {
  ...process.env,
  STORELINE_SINK_TOPIC_PREFIX: names.prefix,
  STORELINE_WAREHOUSE_DB: DB,
  STORELINE_SINK_CONNECTOR_SUFFIX: SUFFIX,
};

// ------------------------------------------------------------------ data
const APP = 'com.loki-project.loki-messenger';
const SESSION_SUB = 'app_store:2000001024993299';
const rawAppStore = names.name('rawAppStore');
const rawPlayStore = names.name('rawPlayStore');

/** An App Store event as the normalizer makes it from Apple's real notifications (test/fixtures/app-store/real). */
function appStore(
  n: number,
  notificationId: string,
  nativeType: string,
  nativeSubtype: string | null,
  fields: Partial<Event>,
): Event {
  return {
    eventId: `app_store:${notificationId}:0`,
    type: 'UNKNOWN',
    store: 'APP_STORE',
    environment: 'SANDBOX',
    appId: APP,
    subscriptionKey: SESSION_SUB,
    appUserId: null,
    productId: 'com.getsession.org.pro_sub',
    nextProductId: null,
    transactionId: null,
    occurredAt: 0,
    receivedAt: 0,
    status: 'ACTIVE',
    entitled: true,
    autoRenew: true,
    expiresAt: null,
    gracePeriodExpiresAt: null,
    purchasedAt: null,
    originalPurchasedAt: 1759301833000,
    periodType: 'NORMAL',
    price: { amountMicros: 1990000, currency: 'AUD' },
    reason: null,
    planChange: null,
    offer: null,
    refund: null,
    countryCode: 'AUS',
    isFamilyShare: false,
    isResubscribe: false,
    source: {
      notificationId,
      nativeType,
      nativeSubtype,
      rawTopic: rawAppStore,
      rawPartition: 3,
      rawOffset: 100 + n,
    },
    ...fields,
  };
}

const soulmate: Event = {
  ...appStore(0, 'fac42669-2a39-4c5e-b60f-0fdf4062c46e', 'SUBSCRIBED', 'INITIAL_BUY', {
    type: 'SUBSCRIPTION_STARTED',
    appId: 'cn.soulmate.elf',
    subscriptionKey: 'app_store:2000000492007794',
    productId: 'month_package',
    transactionId: '2000000492007794',
    occurredAt: 1704252843514,
    receivedAt: 1704252844102,
    expiresAt: 1704252991000,
    purchasedAt: 1704252811000,
    originalPurchasedAt: 1704252818000,
    price: { amountMicros: 32990000, currency: 'USD' },
    countryCode: 'USA',
  }),
};

const session: Event[] = [
  appStore(1, '1a7cdc3d-9360-49c3-ae37-0423e4c6e7c7', 'DID_RENEW', null, {
    type: 'RENEWED',
    transactionId: '2000001024998954',
    occurredAt: 1759302518835,
    receivedAt: 1759302519120,
    expiresAt: 1759302732000,
    purchasedAt: 1759302552000,
  }),
  appStore(2, 'ebb7519a-1f8b-4038-8228-5b1250ab998d', 'DID_CHANGE_RENEWAL_STATUS', 'AUTO_RENEW_DISABLED', {
    type: 'AUTO_RENEW_DISABLED',
    transactionId: '2000001025686313',
    occurredAt: 1759388855473,
    receivedAt: 1759388855990,
    autoRenew: false,
    expiresAt: 1759388947000,
    purchasedAt: 1759388767000,
  }),
  appStore(3, 'c7726298-32eb-48f7-9623-097ff6de4d69', 'EXPIRED', 'VOLUNTARY', {
    type: 'EXPIRED',
    transactionId: '2000001025686313',
    occurredAt: 1759389041604,
    receivedAt: 1759389042210,
    status: 'EXPIRED',
    entitled: false,
    autoRenew: false,
    expiresAt: 1759388947000,
    purchasedAt: 1759388767000,
    reason: 'VOLUNTARY',
  }),
  appStore(4, 'a3a3b7ae-3bd8-4b98-a83d-e5f4380aeaa2', 'DID_CHANGE_RENEWAL_PREF', 'UPGRADE', {
    type: 'PLAN_CHANGED',
    transactionId: '2000001027701928',
    occurredAt: 1759727799810,
    receivedAt: 1759727800333,
    expiresAt: 1759727970000,
    purchasedAt: 1759727790000,
    planChange: {
      fromProductId: 'com.getsession.org.pro_sub_monthly',
      toProductId: 'com.getsession.org.pro_sub',
      timing: 'IMMEDIATE',
      direction: 'UPGRADE',
    },
  }),
  appStore(5, 'caeda1df-9950-458d-87a7-93bb009e7391', 'REFUND', null, {
    type: 'REFUNDED',
    nextProductId: 'com.getsession.org.pro_sub_3_months',
    transactionId: '2000001032604840',
    occurredAt: 1760592122788,
    receivedAt: 1760592123400,
    expiresAt: 1760335309000,
    purchasedAt: 1760335129000,
    reason: 'OTHER',
    refund: { scope: 'FULL', percentage: null, quantity: null },
  }),
];

/** A Play subscription: free trial, first paid renewal, cancellation, expiry. */
const PLAY_SUB = 'play_store:kdmgbhoiplfgeepfmhbdkjmk.AO-J1OwD7Xc9sYqv';
function play(n: number, type: string, occurredAt: number, fields: Partial<Event>): Event {
  const messageId = `1294716450${n}8861`;
  return {
    eventId: `play_store:${messageId}:0`,
    type,
    store: 'PLAY_STORE',
    environment: 'PRODUCTION',
    appId: 'com.example.app',
    subscriptionKey: PLAY_SUB,
    appUserId: 'user-8f14e45f',
    productId: 'premium_monthly',
    nextProductId: null,
    transactionId: `GPA.3384-5126-7812-4${n}601`,
    occurredAt,
    receivedAt: occurredAt + 850,
    status: 'ACTIVE',
    entitled: true,
    autoRenew: true,
    expiresAt: occurredAt + 30 * 86_400_000,
    gracePeriodExpiresAt: null,
    purchasedAt: occurredAt - 2000,
    originalPurchasedAt: 1735689600000,
    periodType: 'NORMAL',
    price: { amountMicros: 4990000, currency: 'EUR' },
    reason: null,
    planChange: null,
    offer: null,
    refund: null,
    countryCode: 'DE',
    isFamilyShare: null,
    isResubscribe: false,
    source: {
      notificationId: messageId,
      nativeType: `SUBSCRIPTION_${type === 'SUBSCRIPTION_STARTED' ? 'PURCHASED' : type === 'RENEWED' ? 'RENEWED' : type === 'EXPIRED' ? 'EXPIRED' : 'CANCELED'}`,
      nativeSubtype: null,
      rawTopic: rawPlayStore,
      rawPartition: 1,
      rawOffset: 7000 + n,
    },
    ...fields,
  };
}
const playEvents: Event[] = [
  play(0, 'SUBSCRIPTION_STARTED', 1735689602000, {
    periodType: 'TRIAL',
    price: { amountMicros: 0, currency: 'EUR' },
    offer: { type: 'FREE_TRIAL', id: 'trial-7d', discountType: null, period: 'P7D' },
    expiresAt: 1736294402000,
  }),
  play(1, 'RENEWED', 1736294405000, {}),
  play(2, 'AUTO_RENEW_DISABLED', 1737000000000, { autoRenew: false, reason: 'too_expensive' }),
  play(3, 'EXPIRED', 1738886405000, {
    status: 'EXPIRED',
    entitled: false,
    autoRenew: false,
    reason: 'VOLUNTARY',
  }),
];

const committed = [soulmate, ...session, ...playEvents];
const aborted = play(9, 'RENEWED', 1739000000000, {});

function state(e: Event, fields: Row): Row {
  return {
    subscriptionKey: e.subscriptionKey,
    store: e.store,
    environment: e.environment,
    appId: e.appId,
    appUserId: e.appUserId,
    status: e.status,
    entitled: e.entitled,
    autoRenew: e.autoRenew,
    productId: e.productId,
    nextProductId: e.nextProductId,
    expiresAt: e.expiresAt,
    gracePeriodExpiresAt: null,
    periodType: e.periodType,
    firstPurchasedAt: e.originalPurchasedAt,
    renewalCount: 0,
    trialConverted: false,
    refundCount: 0,
    lastEventId: e.eventId,
    lastEventType: e.type,
    lastEventAt: e.occurredAt,
    updatedAt: (e.receivedAt as number) + 40,
    ...fields,
  };
}
const intermediateStates = [
  state(session[0]!, { renewalCount: 1 }),
  state(playEvents[0]!, { status: 'TRIAL' }),
];
const finalStates = [
  state(soulmate, {}),
  state(session[4]!, { status: 'ACTIVE', renewalCount: 1, refundCount: 1 }),
  state(playEvents[3]!, { renewalCount: 1, trialConverted: true }),
];

/** SubscriptionEvent as released first, before the Google base-plan fields (schemas/history). */
const EVENT_SCHEMA_V1 = history('SubscriptionEvent').find((v) => v.version === 1)!.schema;

/** The current SubscriptionEvent with one more optional top-level field (test only, never released). */
function evolvedSchema(): Record<string, unknown> {
  const schema = JSON.parse(readFileSync(resolve(ROOT, 'schemas/SubscriptionEvent.avsc'), 'utf8'));
  schema.fields.push({
    name: 'testEvolutionField',
    type: ['null', 'string'],
    default: null,
    doc: 'Test only.',
  });
  return schema;
}

// ------------------------------------------------------------------ fixture
let kafka: Kafka;
let pg: Client;
let workerWasUp = false;
let connectorsApplied = false;

async function workerHealthy(): Promise<boolean> {
  try {
    const r = await fetch(`${CONNECT_URL}/health`, { signal: AbortSignal.timeout(2000) });
    return r.ok;
  } catch {
    return false;
  }
}

async function sink(cmd: string): Promise<string> {
  try {
    const { stdout } = await run('bash', [SINK, cmd], { env: sinkEnv, maxBuffer: 16 << 20 });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string; message: string };
    throw new Error(`sink.sh ${cmd} failed: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`, {
      cause: err,
    });
  }
}

async function produce(
  topic: string,
  messages: { key: string; value: Buffer }[],
  abort = false,
): Promise<void> {
  const producer = kafka.producer({
    transactionalId: `sink-test-${id}-${randomBytes(3).toString('hex')}`,
    idempotent: true,
    maxInFlightRequests: 1,
  });
  await producer.connect();
  try {
    const txn = await producer.transaction();
    await txn.send({ topic, messages });
    if (abort) await txn.abort();
    else await txn.commit();
  } finally {
    await producer.disconnect();
  }
}

async function query(sql: string, params: unknown[] = []): Promise<Row[]> {
  return (await pg.query(sql, params)).rows as Row[];
}

async function connectorStatus(
  name: string,
): Promise<{ connector: { state: string }; tasks: { state: string }[] }> {
  const r = await fetch(`${CONNECT_URL}/connectors/${encodeURIComponent(name)}/status`);
  return (await r.json()) as never;
}

beforeAll(async () => {
  const env = stack();
  kafka = new Kafka({ clientId: `sink-test-${id}`, brokers: env.brokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  try {
    const specs = names.all().filter((t) => t.id === 'subscriptionEvents' || t.id === 'subscriptionState');
    await admin.createTopics({
      waitForLeaders: true,
      topics: specs.map((t) => ({
        topic: t.name,
        numPartitions: t.spec.partitions,
        configEntries: Object.entries(t.spec.config).map(([name, value]) => ({ name, value })),
      })),
    });
  } finally {
    await admin.disconnect();
  }

  const registry = createRegistry(env.registryUrl);
  // The events a Storeline before schema version 2 wrote; the evolution test then writes version 2+.
  const events = new AvroCodec<Event>(
    registry,
    names.subject('subscriptionEvents'),
    EVENT_SCHEMA_V1 as never,
  );
  const states = codecFor<Row>(registry, names, 'subscriptionState');
  await events.register();
  await states.register();
  const ev = (e: Event) => ({ key: e.subscriptionKey, value: events.encode(e) });
  const st = (s: Row) => ({ key: s.subscriptionKey as string, value: states.encode(s) });

  // Events in transactions; the first RENEWED again later (a redelivery); one transaction aborted.
  await produce(EVENTS, [soulmate, ...session.slice(0, 3)].map(ev));
  await produce(EVENTS, [aborted].map(ev), true);
  await produce(EVENTS, [...session.slice(3), ...playEvents].map(ev));
  await produce(EVENTS, [session[0]!].map(ev));
  await produce(STATES, intermediateStates.map(st));
  await produce(STATES, finalStates.map(st));

  workerWasUp = await workerHealthy();
  await sink('up');
  connectorsApplied = true;

  const url = new URL(env.databaseUrl);
  url.pathname = `/${DB}`;
  pg = new Client({ connectionString: url.toString() });
  await pg.connect();
}, 15 * 60_000);

afterAll(async () => {
  await pg?.end().catch(() => undefined);
  if (process.env.SINK_TEST_KEEP) {
    console.warn(
      `SINK_TEST_KEEP: kept database ${DB}, topics ${names.prefix}*, connectors ${CONNECTORS.join(', ')}`,
    );
    return;
  }
  if (connectorsApplied) await sink('remove').catch((err) => console.warn(String(err)));
  if (!workerWasUp) await sink('down').catch((err) => console.warn(String(err)));
  const admin = kafka?.admin();
  if (admin) {
    await admin.connect();
    await admin.deleteTopics({ topics: [EVENTS, STATES, DLQ] }).catch(() => undefined);
    // A removed connector's consumers may still be leaving their group for a moment.
    const groups = [...CONNECTORS.map((c) => `connect-${c}`), `sink-test-dlq-${id}`];
    for (let i = 0; i < 10; i++) {
      const ok = await admin.deleteGroups(groups).then(
        () => true,
        (err: { groups?: { errorCode: number }[] }) =>
          // 69: GROUP_ID_NOT_FOUND (already gone) counts as done
          (err.groups ?? []).every((g) => g.errorCode === 0 || g.errorCode === 69),
      );
      if (ok) break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    await admin.disconnect();
  }
  const { databaseUrl, registryUrl } = stack();
  const admin2 = new Client({ connectionString: databaseUrl });
  await admin2.connect();
  await admin2
    .query(`drop database if exists "${DB}" with (force)`)
    .catch((err) => console.warn(String(err)));
  await admin2.end();
  for (const subject of [names.subject('subscriptionEvents'), names.subject('subscriptionState')]) {
    await fetch(`${registryUrl}/subjects/${subject}`, { method: 'DELETE' }).catch(() => undefined);
    await fetch(`${registryUrl}/subjects/${subject}?permanent=true`, { method: 'DELETE' }).catch(
      () => undefined,
    );
  }
}, 5 * 60_000);

// ------------------------------------------------------------------ tests
describe('warehouse sink (Kafka Connect → PostgreSQL)', () => {
  it('writes exactly the distinct committed events, once per eventId, with typed columns', async () => {
    const rows = await waitFor('every committed event in warehouse.subscription_events', async () => {
      const r = await query('select event_id from warehouse.subscription_events order by event_id');
      return r.length >= committed.length ? r : undefined;
    });
    expect(rows.map((r) => r.event_id)).toEqual(committed.map((e) => e.eventId).sort());
    expect(rows.map((r) => r.event_id)).not.toContain(aborted.eventId);

    const columns = Object.fromEntries(
      (
        await query(
          `select column_name, data_type from information_schema.columns
           where table_schema = 'warehouse' and table_name = 'subscription_events'`,
        )
      ).map((c) => [c.column_name, c.data_type]),
    );
    expect(columns).toMatchObject({
      event_id: 'text',
      type: 'text',
      store: 'text',
      occurred_at: 'timestamp with time zone',
      received_at: 'timestamp with time zone',
      expires_at: 'timestamp with time zone',
      entitled: 'boolean',
      auto_renew: 'boolean',
      price_amount_micros: 'bigint',
      price_currency: 'text',
      plan_change_from_product_id: 'text',
      plan_change_direction: 'text',
      refund_scope: 'text',
      refund_percentage: 'integer',
      source_notification_id: 'text',
      source_raw_partition: 'integer',
      source_raw_offset: 'bigint',
      is_resubscribe: 'boolean',
    });
    const [pk] = await query(
      `select string_agg(a.attname, ',') as cols from pg_index i
       join pg_attribute a on a.attrelid = i.indrelid and a.attnum = any(i.indkey)
       where i.indrelid = 'warehouse.subscription_events'::regclass and i.indisprimary`,
    );
    expect(pk!.cols).toBe('event_id');

    const [first] = await query(
      `select type, store, environment, app_id, subscription_key, occurred_at, expires_at,
              (extract(epoch from occurred_at) * 1000)::bigint as occurred_ms,
              price_amount_micros, price_currency, country_code, source_notification_id, source_native_type,
              source_native_subtype, source_raw_topic, source_raw_offset, plan_change_from_product_id
       from warehouse.subscription_events where event_id = $1`,
      [soulmate.eventId],
    );
    expect(first).toMatchObject({
      type: 'SUBSCRIPTION_STARTED',
      store: 'APP_STORE',
      environment: 'SANDBOX',
      app_id: 'cn.soulmate.elf',
      subscription_key: 'app_store:2000000492007794',
      occurred_at: new Date(1704252843514),
      expires_at: new Date(1704252991000),
      occurred_ms: '1704252843514',
      price_amount_micros: '32990000',
      price_currency: 'USD',
      country_code: 'USA',
      source_notification_id: 'fac42669-2a39-4c5e-b60f-0fdf4062c46e',
      source_native_type: 'SUBSCRIBED',
      source_native_subtype: 'INITIAL_BUY',
      source_raw_topic: rawAppStore,
      source_raw_offset: '100',
      plan_change_from_product_id: null,
    });
    const [upgrade] = await query(
      `select plan_change_from_product_id, plan_change_to_product_id, plan_change_timing, plan_change_direction
       from warehouse.subscription_events where event_id = $1`,
      [session[3]!.eventId],
    );
    expect(upgrade).toEqual({
      plan_change_from_product_id: 'com.getsession.org.pro_sub_monthly',
      plan_change_to_product_id: 'com.getsession.org.pro_sub',
      plan_change_timing: 'IMMEDIATE',
      plan_change_direction: 'UPGRADE',
    });
    const [refund] = await query(
      'select refund_scope, refund_percentage, reason from warehouse.subscription_events where event_id = $1',
      [session[4]!.eventId],
    );
    expect(refund).toEqual({ refund_scope: 'FULL', refund_percentage: null, reason: 'OTHER' });
    const [trial] = await query(
      `select period_type, offer_type, offer_period, price_amount_micros, price_currency, app_user_id
       from warehouse.subscription_events where event_id = $1`,
      [playEvents[0]!.eventId],
    );
    expect(trial).toEqual({
      period_type: 'TRIAL',
      offer_type: 'FREE_TRIAL',
      offer_period: 'P7D',
      price_amount_micros: '0',
      price_currency: 'EUR',
      app_user_id: 'user-8f14e45f',
    });
  });

  it('keeps the final state of every subscription from the compacted state topic', async () => {
    const rows = await waitFor('the final states in warehouse.subscription_state', async () => {
      const r = await query(
        `select subscription_key, status, entitled, renewal_count, refund_count, trial_converted, last_event_id,
                last_event_at, first_purchased_at
         from warehouse.subscription_state order by subscription_key`,
      );
      const done =
        r.length === finalStates.length &&
        r.every((x) => finalStates.some((s) => s.lastEventId === x.last_event_id));
      return done ? r : undefined;
    });
    const expected = [...finalStates]
      .sort((a, b) => String(a.subscriptionKey).localeCompare(String(b.subscriptionKey)))
      .map((s) => ({
        subscription_key: s.subscriptionKey,
        status: s.status,
        entitled: s.entitled,
        renewal_count: s.renewalCount,
        refund_count: s.refundCount,
        trial_converted: s.trialConverted,
        last_event_id: s.lastEventId,
        last_event_at: new Date(s.lastEventAt as number),
        first_purchased_at: new Date(s.firstPurchasedAt as number),
      }));
    expect(rows).toEqual(expected);
    const [pk] = await query(
      `select string_agg(a.attname, ',') as cols from pg_index i
       join pg_attribute a on a.attrelid = i.indrelid and a.attnum = any(i.indkey)
       where i.indrelid = 'warehouse.subscription_state'::regclass and i.indisprimary`,
    );
    expect(pk!.cols).toBe('subscription_key');
  });

  it('sends a record it cannot read to the DLQ with context headers and keeps running', async () => {
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({
      topic: EVENTS,
      messages: [{ key: PLAY_SUB, value: Buffer.from('not avro at all') }],
    });
    await producer.disconnect();

    const dead: { value: Buffer | null; headers: IHeaders }[] = [];
    const consumer = kafka.consumer({ groupId: `sink-test-dlq-${id}` });
    await waitFor('the DLQ topic', async () => {
      const admin = kafka.admin();
      await admin.connect();
      const topics = await admin.listTopics();
      await admin.disconnect();
      return topics.includes(DLQ) || undefined;
    });
    await consumer.connect();
    await consumer.subscribe({ topic: DLQ, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) =>
        void dead.push({ value: message.value, headers: message.headers ?? {} }),
    });
    try {
      await waitFor('the poison record in the DLQ', async () => (dead.length > 0 ? true : undefined));
    } finally {
      await consumer.disconnect();
    }
    expect(dead).toHaveLength(1);
    expect(dead[0]!.value!.toString()).toBe('not avro at all');
    const h = (k: string) => dead[0]!.headers[k]?.toString();
    expect(h('__connect.errors.topic')).toBe(EVENTS);
    expect(h('__connect.errors.stage')).toBe('VALUE_CONVERTER');
    expect(h('__connect.errors.connector.name')).toBe(CONNECTORS[0]);
    expect(h('__connect.errors.exception.class.name')).toBeTruthy();

    const s = await connectorStatus(CONNECTORS[0]!);
    expect(s.connector.state).toBe('RUNNING');
    expect(s.tasks.map((t) => t.state)).toEqual(s.tasks.map(() => 'RUNNING'));
  });

  it('adds the columns of new optional fields (schema evolution) and keeps the rows already there', async () => {
    const before = await query('select * from warehouse.subscription_events order by event_id');
    const registry = createRegistry(stack().registryUrl);
    const evolved = new AvroCodec<Event>(
      registry,
      names.subject('subscriptionEvents'),
      evolvedSchema() as never,
    );
    await evolved.register();
    const change = play(5, 'PLAN_CHANGED', 1740000000000, {
      productId: 'premium_yearly',
      planChange: {
        fromProductId: 'premium_monthly',
        toProductId: 'premium_yearly',
        timing: 'IMMEDIATE',
        direction: 'UPGRADE',
        fromBasePlanId: 'monthly-autorenew',
        toBasePlanId: 'yearly-autorenew',
      },
      testEvolutionField: 'evolved',
    });
    await produce(EVENTS, [{ key: change.subscriptionKey, value: evolved.encode(change) }]);

    const [row] = await waitFor('the evolved event', async () => {
      const r = await query('select * from warehouse.subscription_events where event_id = $1', [
        change.eventId,
      ]);
      return r.length ? r : undefined;
    });
    expect(row).toMatchObject({
      type: 'PLAN_CHANGED',
      product_id: 'premium_yearly',
      plan_change_from_product_id: 'premium_monthly',
      plan_change_from_base_plan_id: 'monthly-autorenew',
      plan_change_to_base_plan_id: 'yearly-autorenew',
      test_evolution_field: 'evolved',
    });
    const added = await query(
      `select column_name, data_type from information_schema.columns
       where table_schema = 'warehouse' and table_name = 'subscription_events'
         and column_name in ('plan_change_from_base_plan_id', 'plan_change_to_base_plan_id', 'test_evolution_field',
                             'revision', 'retracted')
       order by column_name`,
    );
    expect(added).toEqual([
      { column_name: 'plan_change_from_base_plan_id', data_type: 'text' },
      { column_name: 'plan_change_to_base_plan_id', data_type: 'text' },
      { column_name: 'retracted', data_type: 'boolean' },
      { column_name: 'revision', data_type: 'integer' },
      { column_name: 'test_evolution_field', data_type: 'text' },
    ]);

    const after = await query(
      'select * from warehouse.subscription_events where event_id <> $1 order by event_id',
      [change.eventId],
    );
    expect(after).toEqual(
      before.map((r) => ({
        ...r,
        plan_change_from_base_plan_id: null,
        plan_change_to_base_plan_id: null,
        test_evolution_field: null,
        // Version 3's fields with defaults: the rows already there take the defaults.
        revision: 0,
        retracted: false,
      })),
    );
  });
});
