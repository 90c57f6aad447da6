/**
 * Where the Play normalizer keeps what it learned: the last snapshot per purchase token, and the outcome of
 * every processed message (its events and the raw record it came from).
 *
 * Crash safety: the outcome and the new snapshot are written in one database transaction BEFORE the Kafka
 * transaction that carries the events commits. If that Kafka transaction then aborts (crash, fencing), the
 * raw record is delivered again, its stored outcome is found for the same raw position, and the same events
 * (same eventIds) are emitted again; nothing is lost, nothing doubles. A different raw record with a known
 * messageId is a Pub/Sub duplicate: no events.
 *
 * `play_outcomes.message_id` is the processor's outcome id: the Pub/Sub messageId, or `voided:<orderId>` for a
 * voided purchase, which is deduplicated by order across live RTDNs and backfills (see outcomeIdOf in
 * lib/core/play/processor.ts). Both are text keys of the same table: no migration.
 */
import type { Pool } from 'pg';
import { inTransaction, type Migration } from '../../platform/db';
import type { SubscriptionEvent } from '../../core/generated/avro';
import type { PlaySnapshot } from '../../core/play/model';
import type { Outcome, PlayRepo, StoredDiffInput } from '../../core/play/ports';

/** Subscription orders renew as GPA.x..0, GPA.x..1, …: the base id identifies the subscription. */
const orderBase = (orderId: string) => orderId.replace(/\.\.\d+$/, '');

export const PLAY_MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'play snapshots and outcomes',
    sql: `
      CREATE TABLE play_snapshots (
        token        text PRIMARY KEY,
        root_token   text NOT NULL,
        replaced_by  text,
        order_base   text,
        resource     jsonb NOT NULL,
        updated_at   timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX play_snapshots_order ON play_snapshots (order_base);
      CREATE TABLE play_outcomes (
        message_id   text PRIMARY KEY,
        raw_position text NOT NULL,
        events       jsonb NOT NULL,
        created_at   timestamptz NOT NULL DEFAULT now()
      );
    `,
  },
  {
    // Voided purchases are deduplicated by orderId since the voided-purchases backfill (outcomeIdOf in
    // lib/core/play/processor.ts). Those processed before were stored under their messageId only: index them
    // by order too, or a backfill over their time range would emit their refunds a second time. A voided
    // notification's events always start with its REFUNDED event, whose transactionId is the orderId; no other
    // Play notification yields REFUNDED (lib/core/play/diff.ts).
    version: 2,
    name: 'voided purchase outcomes by order',
    sql: `
      INSERT INTO play_outcomes (message_id, raw_position, events, created_at)
      SELECT 'voided:' || (events->0->>'transactionId'), raw_position, events, created_at
      FROM play_outcomes
      WHERE events->0->>'type' = 'REFUNDED' AND events->0->>'transactionId' IS NOT NULL
        AND message_id NOT LIKE 'voided:%'
      ON CONFLICT (message_id) DO NOTHING;
    `,
  },
  {
    // The diff's inputs (notification, API answers, snapshots it was compared with), so a re-normalization
    // runs the fixed mapping on what the normalizer saw then. Outcomes stored before have none: renormalize
    // reports and skips them.
    version: 3,
    name: 'play outcome inputs',
    sql: `ALTER TABLE play_outcomes ADD COLUMN inputs jsonb;`,
  },
];

function orderOf(s: PlaySnapshot): string | null {
  const o =
    s.resource.lineItems?.find((l) => l.latestSuccessfulOrderId)?.latestSuccessfulOrderId ??
    s.resource.latestOrderId;
  return o ? orderBase(o) : null;
}

export class PgPlayRepo implements PlayRepo {
  constructor(private readonly pool: Pool) {}

  async outcome(messageId: string) {
    const r = await this.pool.query<{ raw_position: string; events: SubscriptionEvent[] }>(
      'SELECT raw_position, events FROM play_outcomes WHERE message_id = $1',
      [messageId],
    );
    const row = r.rows[0];
    return row ? { rawPosition: row.raw_position, events: row.events } : undefined;
  }

  async snapshot(token: string): Promise<PlaySnapshot | undefined> {
    const r = await this.pool.query<{
      token: string;
      root_token: string;
      replaced_by: string | null;
      resource: PlaySnapshot['resource'];
    }>('SELECT token, root_token, replaced_by, resource FROM play_snapshots WHERE token = $1', [token]);
    const row = r.rows[0];
    return row
      ? { token: row.token, rootToken: row.root_token, replacedBy: row.replaced_by, resource: row.resource }
      : undefined;
  }

  async rootByOrder(orderId: string): Promise<string | undefined> {
    const r = await this.pool.query<{ root_token: string }>(
      'SELECT root_token FROM play_snapshots WHERE order_base = $1 LIMIT 1',
      [orderBase(orderId)],
    );
    return r.rows[0]?.root_token;
  }

  /** The stored outcome of `outcomeId` with the diff's inputs (null for outcomes stored before inputs were). */
  async storedInputs(
    outcomeId: string,
  ): Promise<{ rawPosition: string; inputs: StoredDiffInput | null } | undefined> {
    const r = await this.pool.query<{ raw_position: string; inputs: StoredDiffInput | null }>(
      'SELECT raw_position, inputs FROM play_outcomes WHERE message_id = $1',
      [outcomeId],
    );
    const row = r.rows[0];
    return row && { rawPosition: row.raw_position, inputs: row.inputs };
  }

  async commit(o: Outcome): Promise<void> {
    await inTransaction(this.pool, async (c) => {
      await c.query(
        'INSERT INTO play_outcomes (message_id, raw_position, events, inputs) VALUES ($1, $2, $3, $4) ON CONFLICT (message_id) DO NOTHING',
        [o.messageId, o.rawPosition, JSON.stringify(o.events), o.inputs ? JSON.stringify(o.inputs) : null],
      );
      if (o.snapshot) {
        await c.query(
          `INSERT INTO play_snapshots (token, root_token, replaced_by, order_base, resource) VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (token) DO UPDATE SET resource = EXCLUDED.resource, order_base = EXCLUDED.order_base, updated_at = now()`,
          [
            o.snapshot.token,
            o.snapshot.rootToken,
            o.snapshot.replacedBy,
            orderOf(o.snapshot),
            JSON.stringify(o.snapshot.resource),
          ],
        );
      }
      if (o.replaces && o.snapshot) {
        await c.query('UPDATE play_snapshots SET replaced_by = $2 WHERE token = $1 AND replaced_by IS NULL', [
          o.replaces,
          o.snapshot.token,
        ]);
      }
    });
  }
}

/** In-memory repository for `storeline normalize` (one run keeps snapshots and seen message ids). */
export class MemoryPlayRepo implements PlayRepo {
  private readonly outcomes = new Map<string, { rawPosition: string; events: SubscriptionEvent[] }>();
  private readonly snapshots = new Map<string, PlaySnapshot>();

  async outcome(messageId: string) {
    return this.outcomes.get(messageId);
  }
  async snapshot(token: string) {
    return this.snapshots.get(token);
  }
  async rootByOrder(orderId: string) {
    return [...this.snapshots.values()].find((s) => orderOf(s) === orderBase(orderId))?.rootToken;
  }
  async commit(o: Outcome) {
    if (!this.outcomes.has(o.messageId))
      this.outcomes.set(o.messageId, { rawPosition: o.rawPosition, events: o.events });
    if (o.snapshot) {
      const prior = this.snapshots.get(o.snapshot.token);
      this.snapshots.set(o.snapshot.token, {
        ...o.snapshot,
        replacedBy: prior?.replacedBy ?? o.snapshot.replacedBy,
      });
    }
    const old = o.replaces ? this.snapshots.get(o.replaces) : undefined;
    if (old && o.snapshot && !old.replacedBy)
      this.snapshots.set(old.token, { ...old, replacedBy: o.snapshot.token });
  }
}
