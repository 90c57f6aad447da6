/**
 * The two queue tables (webhook deliveries, trigger outbox) as their migrations leave them on a real
 * PostgreSQL: vacuumed after a fixed number of dead rows whatever their size, and without the index no
 * query read. Why it matters for their claims: the comments of the migrations and bench/README.md.
 */
import type { Pool } from 'pg';
import { createPool, migrate, type Migration } from '../../lib/platform/db';
import { TRIGGER_MIGRATIONS } from '../../lib/adapters/triggers/store';
import { WEBHOOK_MIGRATIONS } from '../../lib/adapters/webhooks/store/migrations';
import { stackEnv } from '../support/env';
import { randomSchema } from '../support/state';

const made: { pool: Pool; schema: string }[] = [];
afterAll(async () => {
  for (const { pool, schema } of made) {
    await pool.query(`DROP SCHEMA "${schema}" CASCADE`);
    await pool.end();
  }
});

async function migrated(migrations: Migration[]): Promise<{ pool: Pool; schema: string }> {
  const schema = randomSchema();
  const pool = createPool(stackEnv().databaseUrl, schema);
  made.push({ pool, schema });
  await migrate(pool, schema, migrations);
  return { pool, schema };
}

async function reloptions(pool: Pool, schema: string, table: string): Promise<string[]> {
  const r = await pool.query<{ reloptions: string[] | null }>(
    `SELECT c.reloptions FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = $1 AND c.relname = $2`,
    [schema, table],
  );
  return r.rows[0]?.reloptions ?? [];
}

async function indexes(pool: Pool, schema: string, table: string): Promise<string[]> {
  const r = await pool.query<{ indexname: string }>(
    'SELECT indexname FROM pg_indexes WHERE schemaname = $1 AND tablename = $2',
    [schema, table],
  );
  return r.rows.map((x) => x.indexname).sort();
}

const byDeadRows = ['autovacuum_vacuum_scale_factor=0', 'autovacuum_vacuum_threshold=5000'];

describe('queue tables (real PostgreSQL)', () => {
  it('webhook_deliveries: vacuumed after 5,000 dead rows, and only the indexes its queries read', async () => {
    const { pool, schema } = await migrated(WEBHOOK_MIGRATIONS);
    expect(await reloptions(pool, schema, 'webhook_deliveries')).toEqual(expect.arrayContaining(byDeadRows));
    expect(await indexes(pool, schema, 'webhook_deliveries')).toEqual([
      'webhook_deliveries_endpoint_done',
      'webhook_deliveries_endpoint_due',
      'webhook_deliveries_endpoint_id_message_id_key',
      'webhook_deliveries_pkey',
    ]);
  });

  it('trigger_outbox: vacuumed after 5,000 dead rows', async () => {
    const { pool, schema } = await migrated(TRIGGER_MIGRATIONS);
    expect(await reloptions(pool, schema, 'trigger_outbox')).toEqual(expect.arrayContaining(byDeadRows));
  });

  it('trigger_outbox migrated before this change gets it on the next start', async () => {
    const { pool, schema } = await migrated(TRIGGER_MIGRATIONS.slice(0, 2));
    expect(await reloptions(pool, schema, 'trigger_outbox')).toEqual([]);
    await migrate(pool, schema, TRIGGER_MIGRATIONS);
    expect(await reloptions(pool, schema, 'trigger_outbox')).toEqual(expect.arrayContaining(byDeadRows));
  });

  it('webhook_deliveries migrated before these changes gets them on the next start', async () => {
    const { pool, schema } = await migrated(WEBHOOK_MIGRATIONS.slice(0, 1));
    expect(await indexes(pool, schema, 'webhook_deliveries')).toContain('webhook_deliveries_due');
    await migrate(pool, schema, WEBHOOK_MIGRATIONS);
    expect(await indexes(pool, schema, 'webhook_deliveries')).not.toContain('webhook_deliveries_due');
    expect(await reloptions(pool, schema, 'webhook_deliveries')).toEqual(expect.arrayContaining(byDeadRows));
  });
});
