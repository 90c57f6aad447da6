/**
 * One canonical event set per App Store notification, whatever the redeliveries: the same notification can
 * reach the raw topic more than once (Apple retries after a 503 whose record was stored anyway, Apple's
 * own retry schedule, a later backfill). The first raw record that carries a notification id claims it;
 * any other raw record with that id yields no events.
 *
 * Crash safety is the Play outcome store's argument: the claim commits in PostgreSQL before the Kafka
 * transaction carrying the events. If that transaction aborts, the same raw record is read again, finds
 * its own claim (same partition and offset) and emits the same events. If it commits, its offsets commit
 * with it, so the record is never read again and every later copy finds a claim that is not its own.
 * Claims are per raw topic, so deployments (topic prefixes) sharing a database do not see each other.
 */
import type { Pool } from 'pg';
import { named, type Migration } from '../../platform/db';

export interface NotificationClaims {
  /** True when the record at (topic, partition, offset) owns `notificationId` (new claim, or its own). */
  claim(rawTopic: string, notificationId: string, partition: number, offset: string): Promise<boolean>;
  /**
   * The same for the records of one raw partition at once, in one round trip: the offsets among `items` that
   * own their notification id. Two records of the batch with one id: the lower offset owns it, as it would
   * have claimed first one by one.
   */
  claimAll(
    rawTopic: string,
    partition: number,
    items: { notificationId: string; offset: string }[],
  ): Promise<Set<string>>;
}

export const CLAIM_MIGRATIONS: Migration[] = [
  {
    version: 101,
    name: 'app store notification claims',
    sql: `
      CREATE TABLE app_store_claims (
        raw_topic       text NOT NULL,
        notification_id text NOT NULL,
        raw_partition   int NOT NULL,
        raw_offset      bigint NOT NULL,
        claimed_at      timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (raw_topic, notification_id)
      );
    `,
  },
];

export class PgNotificationClaims implements NotificationClaims {
  constructor(private readonly pool: Pool) {}

  async claim(rawTopic: string, notificationId: string, partition: number, offset: string): Promise<boolean> {
    return (await this.claimAll(rawTopic, partition, [{ notificationId, offset }])).has(offset);
  }

  async claimAll(
    rawTopic: string,
    partition: number,
    items: { notificationId: string; offset: string }[],
  ): Promise<Set<string>> {
    if (items.length === 0) return new Set();
    // The SELECT from app_store_claims sees the table as it was before this statement's INSERT, so each id
    // comes back once: from `ins` when this statement claimed it, from the table when it was claimed before.
    const r = await this.pool.query<{ notification_id: string; raw_partition: number; raw_offset: string }>(
      named(
        'normalizer.claim-all',
        `WITH input AS (
           SELECT DISTINCT ON (n) n, o FROM unnest($3::text[], $4::bigint[]) AS t(n, o) ORDER BY n, o
         ), ins AS (
           INSERT INTO app_store_claims (raw_topic, notification_id, raw_partition, raw_offset)
           SELECT $1, n, $2, o FROM input
           ON CONFLICT (raw_topic, notification_id) DO NOTHING
           RETURNING notification_id, raw_partition, raw_offset
         )
         SELECT notification_id, raw_partition, raw_offset::text FROM ins
         UNION ALL
         SELECT notification_id, raw_partition, raw_offset::text FROM app_store_claims
         WHERE raw_topic = $1 AND notification_id = ANY($3::text[])`,
        [rawTopic, partition, items.map((i) => i.notificationId), items.map((i) => i.offset)],
      ),
    );
    const owner = new Map(r.rows.map((x) => [x.notification_id, x]));
    return new Set(
      items
        .filter((i) => {
          const o = owner.get(i.notificationId);
          return o !== undefined && o.raw_partition === partition && o.raw_offset === i.offset;
        })
        .map((i) => i.offset),
    );
  }
}
