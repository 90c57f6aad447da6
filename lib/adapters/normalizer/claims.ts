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
    const r = await this.pool.query<{ raw_partition: number; raw_offset: string }>(
      named(
        'normalizer.claim',
        `WITH ins AS (
         INSERT INTO app_store_claims (raw_topic, notification_id, raw_partition, raw_offset)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (raw_topic, notification_id) DO NOTHING
         RETURNING raw_partition, raw_offset
       )
       SELECT raw_partition, raw_offset::text FROM ins
       UNION ALL
       SELECT raw_partition, raw_offset::text FROM app_store_claims WHERE raw_topic = $1 AND notification_id = $2
       LIMIT 1`,
        [rawTopic, notificationId, partition, offset],
      ),
    );
    const owner = r.rows[0];
    return owner !== undefined && owner.raw_partition === partition && owner.raw_offset === offset;
  }
}
