/** Wires the pure normalizers into the transactional consume -> produce loop. */
import type { Kafka } from 'kafkajs';
import { Counter, type Registry } from 'prom-client';
import type { AvroCodec } from '../../platform/avro';
import type { SubscriptionEvent } from '../../core/generated/avro';
import type { Logger } from '../../platform/logger';
import { TOPICS, type TopicNames } from '../../core/topics';
import type { InputRecord, OutputRecord } from '../../platform/records';
import { TransactionalTransformer, type Transform } from '../../platform/transactional';
import { normalizeAppStore, type PlayNormalize } from '../../core/ingest/normalize';
import { RAW_HEADERS } from '../../core/rawHeaders';
import { rawContext } from '../../core/rawContext';
import { PoisonMessageError, type Dependency } from '../../core/errors';
import type { NotificationClaims } from './claims';

export interface NormalizerDeps {
  kafka: Kafka;
  logger: Logger;
  names: TopicNames;
  codec: AvroCodec<SubscriptionEvent>;
  groupId: string;
  transactionalIdPrefix: string;
  metrics?: Registry;
  maxRecordsPerTransaction?: number;
  partitionsConcurrently?: number;
  sessionTimeoutMs?: number;
  /** The Play Store part: omitted when no Play Developer API credentials are configured. */
  play?: PlayNormalize;
  /** App Store dedupe by notification id (the service always has it; in-process tests may not). */
  claims?: NotificationClaims;
  probes?: Partial<Record<Dependency, () => Promise<unknown>>>;
  /** The App Store mapping; the current one unless a test runs another (yesterday's, for renormalize). */
  mapAppStore?: typeof normalizeAppStore;
  stallAfterMs?: number;
  exitAfterMs?: number;
  lingerMs?: number;
}

/** What a chunk's preparation found for one App Store record: its events and whether it owns its notification. */
interface Prepared {
  events: SubscriptionEvent[];
  owns: boolean;
}

function toOutputs(
  events: SubscriptionEvent[],
  topic: string,
  codec: AvroCodec<SubscriptionEvent>,
): OutputRecord[] {
  return events.map((e) => ({
    topic,
    key: e.subscriptionKey,
    value: codec.encode(e),
    headers: { 'event-id': e.eventId, 'event-type': e.type, 'received-at': String(e.receivedAt) },
  }));
}

export function createNormalizer(deps: NormalizerDeps): TransactionalTransformer {
  const { names, codec } = deps;
  const eventsTopic = names.name('subscriptionEvents');
  const rawAppStore = names.name('rawAppStore');
  const rawPlayStore = names.name('rawPlayStore');
  const dlqs = new Map([
    [rawAppStore, names.dlqOf('rawAppStore')],
    [rawPlayStore, names.dlqOf('rawPlayStore')],
  ]);
  const play = deps.play;
  const mapAppStore = deps.mapAppStore ?? normalizeAppStore;
  const registers = deps.metrics ? [deps.metrics] : [];
  const consumed = new Counter({
    name: 'storeline_normalizer_records_consumed_total',
    help: 'Raw records committed',
    labelNames: ['topic'],
    registers,
  });
  const produced = new Counter({
    name: 'storeline_normalizer_events_produced_total',
    help: 'Canonical events committed',
    registers,
  });
  const deadLettered = new Counter({
    name: 'storeline_normalizer_dlq_total',
    help: 'Raw records dead-lettered',
    labelNames: ['topic'],
    registers,
  });

  const duplicates = new Counter({
    name: 'storeline_normalizer_duplicates_total',
    help: 'Raw records whose notification an earlier raw record already carried (no events)',
    labelNames: ['topic'],
    registers,
  });

  const mapRecord = (rec: InputRecord, value: Buffer) =>
    mapAppStore(rec.headers[RAW_HEADERS.format], value, rawContext(rec));

  /**
   * One claim statement for a chunk's App Store records (a round trip per record capped P2 near 1,400/s);
   * the chunk's transform uses what it found, by offset.
   */
  const prepareChunk = async (recs: InputRecord[]): Promise<Transform> => {
    const claims = deps.claims;
    const first = recs[0];
    if (!claims || !first || first.topic !== rawAppStore) return transform;
    const mapped: { rec: InputRecord; events: SubscriptionEvent[]; id: string }[] = [];
    for (const rec of recs) {
      let events: SubscriptionEvent[];
      try {
        if (!rec.value) continue;
        events = mapRecord(rec, rec.value);
      } catch {
        continue; // the transform maps it again and dead-letters it with the reason
      }
      const id = events[0]?.source.notificationId;
      if (id !== undefined) mapped.push({ rec, events, id });
    }
    const owners = await claims.claimAll(
      rawAppStore,
      first.partition,
      mapped.map((m) => ({ notificationId: m.id, offset: m.rec.offset })),
    );
    const ready = new Map(
      mapped.map((m) => [m.rec.offset, { events: m.events, owns: owners.has(m.rec.offset) }]),
    );
    return async (rec) => toOutputs(await appStore(rec, ready.get(rec.offset)), eventsTopic, codec);
  };

  const appStore = async (rec: InputRecord, ready?: Prepared): Promise<SubscriptionEvent[]> => {
    if (!rec.value) throw new PoisonMessageError('decode', 'record has no value');
    const events = ready?.events ?? mapRecord(rec, rec.value);
    const id = events[0]?.source.notificationId;
    if (!deps.claims || id === undefined) return events;
    if (ready?.owns ?? (await deps.claims.claim(rec.topic, id, rec.partition, rec.offset))) return events;
    duplicates.inc({ topic: rec.topic });
    return [];
  };

  const transform = async (rec: InputRecord): Promise<OutputRecord[]> => {
    if (rec.topic === rawAppStore) return toOutputs(await appStore(rec), eventsTopic, codec);
    if (rec.topic === rawPlayStore && play) {
      if (!rec.value) throw new PoisonMessageError('decode', 'record has no value');
      return toOutputs(await play(rec.value, rawContext(rec)), eventsTopic, codec);
    }
    throw new Error(`no normalizer for topic ${rec.topic}`);
  };

  return new TransactionalTransformer({
    kafka: deps.kafka,
    logger: deps.logger,
    groupId: deps.groupId,
    topics: play ? [rawAppStore, rawPlayStore] : [rawAppStore],
    dlqFor: (t) => dlqs.get(t),
    transactionalIdPrefix: deps.transactionalIdPrefix,
    transform,
    prepareChunk,
    // Each raw topic's own policy from the catalog (the Play topic once ran on the App Store one's).
    retry: (t) => (t === rawPlayStore ? TOPICS.rawPlayStore.retry : TOPICS.rawAppStore.retry),
    maxRecordsPerTransaction: deps.maxRecordsPerTransaction,
    partitionsConcurrently: deps.partitionsConcurrently,
    sessionTimeoutMs: deps.sessionTimeoutMs,
    metrics: deps.metrics,
    probes: deps.probes,
    stallAfterMs: deps.stallAfterMs,
    exitAfterMs: deps.exitAfterMs,
    lingerMs: deps.lingerMs,
    onCommitted: (c) => {
      consumed.inc({ topic: c.topic }, c.inputs);
      produced.inc(c.outputs - c.deadLettered);
      if (c.deadLettered) deadLettered.inc({ topic: c.topic }, c.deadLettered);
    },
  });
}
