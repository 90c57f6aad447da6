import type { Migration } from '../../platform/db';

/** State aggregator schema, in order. Never edit an applied migration: add the next version. */
export const STATE_MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'subscription state, event history',
    sql: `
      CREATE TABLE subscription_state (
        subscription_key text PRIMARY KEY,
        app_user_id      text,
        fold             jsonb NOT NULL,      -- FoldState: the Avro SubscriptionState plus fold bookkeeping
        updated_at       timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX subscription_state_user ON subscription_state (app_user_id, subscription_key);

      -- Every applied event, once (the primary key is the idempotence check), late ones included.
      CREATE TABLE subscription_events (
        event_id         text PRIMARY KEY,
        subscription_key text NOT NULL,
        type             text NOT NULL,
        occurred_at      bigint NOT NULL,
        event            jsonb NOT NULL,
        applied_at       timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX subscription_events_key_time ON subscription_events (subscription_key, occurred_at DESC, event_id DESC);
    `,
  },
  {
    version: 2,
    name: 'event revisions (storeline renormalize corrections)',
    sql: `
      -- The revision of each eventId that is applied; a correction with a higher one replaces the row and its
      -- subscription is folded again from the rows that are not retracted (docs/toolkit.md#re-normalize).
      ALTER TABLE subscription_events
        ADD COLUMN revision  int NOT NULL DEFAULT 0,
        ADD COLUMN retracted boolean NOT NULL DEFAULT false;
    `,
  },
];
