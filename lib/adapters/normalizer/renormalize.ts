/**
 * `storeline renormalize`: runs the current mapping over the raw records of a time range and compares what it
 * yields with what the canonical topic holds for each record; differences become corrections (lib/core/ingest/
 * corrections.ts) that a dry run prints and a real run publishes. Only raw records the normalizer has committed
 * are read (its group's offsets), and only the record that owned its notification (the App Store claim, the
 * Play outcome's raw position): a duplicate yielded nothing and must keep yielding nothing. The Play path runs
 * the diff on the inputs stored with the outcome, never the Play Developer API, whose answer has moved on.
 * Re-running converges: a second run reads the first run's corrections and finds nothing left to correct.
 * See docs/toolkit.md#re-normalize-after-a-mapping-fix.
 */
import type { Admin, Kafka } from 'kafkajs';
import type { Pool } from 'pg';
import { PoisonMessageError, isRetriable } from '../../core/errors';
import type { SubscriptionEvent } from '../../core/generated/avro';
import { correctionsFor, latestRevisions, type Correction } from '../../core/ingest/corrections';
import { normalizeAppStore } from '../../core/ingest/normalize';
import { diffPlay } from '../../core/play/diff';
import { parsePush } from '../../core/play/envelope';
import { outcomeIdOf } from '../../core/play/processor';
import { rawContext } from '../../core/rawContext';
import { RAW_HEADERS } from '../../core/rawHeaders';
import type { TopicNames } from '../../core/topics';
import type { AvroCodec } from '../../platform/avro';
import { createIdempotentProducer } from '../../platform/kafka';
import { readRanges, type OffsetRange, type RangeRecord } from '../../platform/rangeReader';
import { PgPlayRepo } from '../play/repo';

export type RenormalizeStore = 'app-store' | 'play-store';

export interface RenormalizeOptions {
  kafka: Kafka;
  pool: Pool;
  codec: AvroCodec<SubscriptionEvent>;
  names: TopicNames;
  store: RenormalizeStore;
  since: number;
  until?: number;
  dryRun: boolean;
  /** The normalizer's consumer group: records past its committed offsets are left to it. */
  normalizerGroupId: string;
  /** Written on every correction as the `correction-run` header. */
  runId: string;
  progress?: (line: string) => void;
  /** The mapping to run; the current one unless a test runs another. */
  mapAppStore?: typeof normalizeAppStore;
  diff?: typeof diffPlay;
}

export interface RenormalizeReport {
  rawRecords: number;
  /** Raw records that yielded nothing to compare, by why. */
  skipped: { duplicate: number; poison: number; noInputs: number; noOutcome: number; notNormalized: number };
  /** Events the mapping yields exactly as the topic holds them. */
  unchanged: number;
  corrections: Correction[];
  published: boolean;
}

type Fresh =
  { kind: 'events'; events: SubscriptionEvent[] } | { kind: 'skip'; why: keyof RenormalizeReport['skipped'] };

const positionOf = (r: { partition: number; offset: string | number }) => `${r.partition}/${r.offset}`;

export async function renormalize(opts: RenormalizeOptions): Promise<RenormalizeReport> {
  const say = opts.progress ?? (() => undefined);
  const rawTopic = opts.names.name(opts.store === 'app-store' ? 'rawAppStore' : 'rawPlayStore');
  const { ranges, notNormalized } = await rawRanges(opts, rawTopic);
  const raw = await readRanges(opts.kafka, ranges, { label: 'renormalize', timeoutMs: 120_000 });
  say(
    `read ${raw.length} raw records of ${rawTopic} (${notNormalized} past the normalizer's position, left to it)`,
  );
  const held = await heldEvents(opts, rawTopic);
  say(`read what ${opts.names.name('subscriptionEvents')} holds for them: ${held.size} records with events`);
  const fresh = opts.store === 'app-store' ? await freshAppStore(opts, raw) : await freshPlay(opts, raw);

  const report: RenormalizeReport = {
    rawRecords: raw.length,
    skipped: { duplicate: 0, poison: 0, noInputs: 0, noOutcome: 0, notNormalized },
    unchanged: 0,
    corrections: [],
    published: false,
  };
  raw.forEach((rec, i) => {
    const f = fresh[i] as Fresh;
    if (f.kind === 'skip') {
      report.skipped[f.why]++;
      return;
    }
    const found = correctionsFor(f.events, held.get(positionOf(rec)) ?? []);
    report.unchanged += f.events.length - found.filter((c) => c.kind !== 'retracted').length;
    report.corrections.push(...found);
  });
  if (!opts.dryRun && report.corrections.length > 0) {
    await publish(opts, report.corrections);
    report.published = true;
    say(`published ${report.corrections.length} corrections`);
  }
  return report;
}

/** Per partition: from the first record at `since` to the first at `until`, capped at the normalizer's offset. */
async function rawRanges(
  opts: RenormalizeOptions,
  topic: string,
): Promise<{ ranges: OffsetRange[]; notNormalized: number }> {
  const admin = opts.kafka.admin();
  await admin.connect();
  try {
    const ends = await admin.fetchTopicOffsets(topic);
    const high = new Map(ends.map((p) => [p.partition, Number(p.high)]));
    const starts = await offsetsAt(admin, topic, opts.since, high);
    const untils = opts.until === undefined ? high : await offsetsAt(admin, topic, opts.until, high);
    const [group] = await admin.fetchOffsets({ groupId: opts.normalizerGroupId, topics: [topic] });
    let notNormalized = 0;
    const ranges = ends.map((p) => {
      const committed = Number(group?.partitions.find((c) => c.partition === p.partition)?.offset ?? -1);
      const start = starts.get(p.partition) as number;
      const until = untils.get(p.partition) as number;
      const end = Math.min(until, Math.max(committed, 0));
      notNormalized += Math.max(0, until - Math.max(end, start));
      return { topic, partition: p.partition, start, end };
    });
    return { ranges, notNormalized };
  } finally {
    await admin.disconnect();
  }
}

/** The offset of the first record at or after `at` in each partition (its end when there is none). */
async function offsetsAt(
  admin: Admin,
  topic: string,
  at: number,
  high: Map<number, number>,
): Promise<Map<number, number>> {
  const found = await admin.fetchTopicOffsetsByTimestamp(topic, at);
  return new Map(
    found.map((p) => {
      const o = Number(p.offset);
      return [p.partition, o >= 0 ? o : (high.get(p.partition) as number)];
    }),
  );
}

/**
 * The highest revision of every canonical event from `rawTopic`, grouped by raw position. Events are written
 * after their raw record, so reading from a minute before `since` finds every one of the range.
 */
async function heldEvents(
  opts: RenormalizeOptions,
  rawTopic: string,
): Promise<Map<string, SubscriptionEvent[]>> {
  const topic = opts.names.name('subscriptionEvents');
  const admin = opts.kafka.admin();
  await admin.connect();
  let ranges: OffsetRange[];
  try {
    const ends = await admin.fetchTopicOffsets(topic);
    const high = new Map(ends.map((p) => [p.partition, Number(p.high)]));
    const starts = await offsetsAt(admin, topic, opts.since - 60_000, high);
    ranges = ends.map((p) => ({
      topic,
      partition: p.partition,
      start: starts.get(p.partition) ?? 0,
      end: Number(p.high),
    }));
  } finally {
    await admin.disconnect();
  }
  const decoded: SubscriptionEvent[] = [];
  for (const rec of await readRanges(opts.kafka, ranges, { label: 'renormalize', timeoutMs: 120_000 })) {
    if (!rec.value) continue;
    try {
      decoded.push(await opts.codec.decode(rec.value));
    } catch (err) {
      if (isRetriable(err)) throw err; // undecodable records sit in the canonical DLQ; they hold nothing here
    }
  }
  const byPosition = new Map<string, SubscriptionEvent[]>();
  for (const e of latestRevisions(decoded.filter((d) => d.source.rawTopic === rawTopic)).values()) {
    const at = `${e.source.rawPartition}/${e.source.rawOffset}`;
    byPosition.set(at, [...(byPosition.get(at) ?? []), e]);
  }
  return byPosition;
}

/** The current App Store mapping of each raw record that owns its notification id. */
async function freshAppStore(opts: RenormalizeOptions, raw: RangeRecord[]): Promise<Fresh[]> {
  const map = opts.mapAppStore ?? normalizeAppStore;
  const mapped = raw.map((rec): Fresh => {
    try {
      return {
        kind: 'events',
        events: map(rec.headers[RAW_HEADERS.format], rec.value ?? Buffer.alloc(0), rawContext(rec)),
      };
    } catch (err) {
      if (err instanceof PoisonMessageError) return { kind: 'skip', why: 'poison' }; // it went to the DLQ
      throw err;
    }
  });
  const ids = mapped.flatMap((m) =>
    m.kind === 'events' && m.events[0] ? [m.events[0].source.notificationId] : [],
  );
  const owners = await claimOwners(opts.pool, raw[0]?.topic ?? '', ids);
  return mapped.map((m, i) => {
    const id = m.kind === 'events' ? m.events[0]?.source.notificationId : undefined;
    if (id === undefined) return m;
    // Unclaimed: the old mapping gave it no events, so no record claimed it; the first copy read owns it.
    if (!owners.has(id)) owners.set(id, positionOf(raw[i] as RangeRecord));
    return owners.get(id) === positionOf(raw[i] as RangeRecord) ? m : { kind: 'skip', why: 'duplicate' };
  });
}

async function claimOwners(pool: Pool, rawTopic: string, ids: string[]): Promise<Map<string, string>> {
  if (ids.length === 0) return new Map();
  const r = await pool.query<{ notification_id: string; raw_partition: number; raw_offset: string }>(
    `SELECT notification_id, raw_partition, raw_offset::text FROM app_store_claims
     WHERE raw_topic = $1 AND notification_id = ANY($2)`,
    [rawTopic, ids],
  );
  return new Map(r.rows.map((x) => [x.notification_id, `${x.raw_partition}/${x.raw_offset}`]));
}

/** The current Play diff of each raw record, run on the inputs stored with its outcome. */
async function freshPlay(opts: RenormalizeOptions, raw: RangeRecord[]): Promise<Fresh[]> {
  const repo = new PgPlayRepo(opts.pool);
  const diff = opts.diff ?? diffPlay;
  const out: Fresh[] = [];
  for (const rec of raw) {
    let parsed: ReturnType<typeof parsePush>;
    try {
      parsed = parsePush(rec.value);
    } catch (err) {
      if (err instanceof PoisonMessageError) {
        out.push({ kind: 'skip', why: 'poison' });
        continue;
      }
      throw err;
    }
    const stored =
      (await repo.storedInputs(parsed.messageId)) ??
      (await repo.storedInputs(outcomeIdOf(parsed.notification, parsed.messageId)));
    const ctx = rawContext(rec);
    if (!stored) out.push({ kind: 'skip', why: 'noOutcome' });
    else if (stored.rawPosition !== `${rec.topic}/${rec.partition}/${rec.offset}`)
      out.push({ kind: 'skip', why: 'duplicate' });
    else if (!stored.inputs) out.push({ kind: 'skip', why: 'noInputs' });
    else out.push({ kind: 'events', events: diff({ ...stored.inputs, ctx }).events });
  }
  return out;
}

async function publish(opts: RenormalizeOptions, corrections: Correction[]): Promise<void> {
  await opts.codec.register(); // idempotent: the id of the schema this build writes
  const producer = createIdempotentProducer(opts.kafka);
  await producer.connect();
  try {
    const messages = corrections.map((c) => ({
      key: c.event.subscriptionKey,
      value: opts.codec.encode(c.event),
      headers: {
        'event-id': c.event.eventId,
        'event-type': c.event.type,
        'received-at': String(c.event.receivedAt),
        'correction-run': opts.runId,
        'correction-kind': c.kind,
      },
    }));
    await producer.send({ topic: opts.names.name('subscriptionEvents'), acks: -1, messages });
  } finally {
    await producer.disconnect();
  }
}
