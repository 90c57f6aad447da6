/** The fan-out's tables: endpoints, messages, deliveries (the queue), attempts (the log). */
import type { Migration } from '../../../platform/db';

export const WEBHOOK_MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'endpoints, messages, deliveries, attempts',
    sql: `
      CREATE TABLE webhook_endpoints (
        id              text PRIMARY KEY,
        url             text NOT NULL,
        description     text,
        event_types     text[],
        environments    text[],
        app_ids         text[],
        enabled         boolean NOT NULL DEFAULT true,
        disabled_reason text,
        disabled_at     bigint,
        failing_since   bigint,
        max_concurrency int NOT NULL,
        timeout_ms      int NOT NULL,
        secrets         jsonb NOT NULL,
        created_at      bigint NOT NULL,
        updated_at      bigint NOT NULL
      );
      CREATE TABLE webhook_messages (
        id               text PRIMARY KEY,
        type             text NOT NULL,
        subscription_key text NOT NULL,
        body             text NOT NULL,
        created_at       bigint NOT NULL
      );
      CREATE TABLE webhook_deliveries (
        id              bigserial PRIMARY KEY,
        endpoint_id     text NOT NULL REFERENCES webhook_endpoints (id),
        message_id      text NOT NULL REFERENCES webhook_messages (id),
        status          text NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
        attempts        int NOT NULL DEFAULT 0,
        next_attempt_at bigint NOT NULL,
        last_status     int,
        last_error      text,
        created_at      bigint NOT NULL,
        completed_at    bigint,
        UNIQUE (endpoint_id, message_id)
      );
      CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
      CREATE INDEX webhook_deliveries_endpoint_due ON webhook_deliveries (endpoint_id, next_attempt_at, id)
        WHERE status = 'pending';
      CREATE INDEX webhook_deliveries_endpoint_done ON webhook_deliveries (endpoint_id, completed_at)
        WHERE status <> 'pending';
      CREATE TABLE webhook_attempts (
        id           bigserial PRIMARY KEY,
        delivery_id  bigint NOT NULL REFERENCES webhook_deliveries (id),
        attempt      int NOT NULL,
        attempted_at bigint NOT NULL,
        latency_ms   int NOT NULL,
        status_code  int,
        outcome      text NOT NULL,
        error        text,
        response     text
      );
      CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id, id);
    `,
  },
  {
    version: 2,
    name: 'deliveries: no unused due index; vacuumed by dead rows, not by table size',
    // webhook_deliveries is a queue: every delivery is updated twice (lease, outcome), and each update
    // leaves a dead entry in the pending index that claimDue walks until VACUUM removes it (measured:
    // 1,642 buffers read by a claim that found nothing, after 9,000 deliveries; bench/README.md). The
    // default trigger (20 % of the table dead) lets that grow with the table, so vacuum after a fixed
    // number of dead rows instead. webhook_deliveries_due was never read by any query; each insert and
    // lease wrote to it. DROP INDEX locks the table exclusively: during a rolling deploy, give up after 5 s
    // (the start fails and is retried) rather than queue the running instances' claims behind a long
    // transaction.
    sql: `
      SET LOCAL lock_timeout = '5s';
      DROP INDEX IF EXISTS webhook_deliveries_due;
      ALTER TABLE webhook_deliveries SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 5000);
    `,
  },
];
