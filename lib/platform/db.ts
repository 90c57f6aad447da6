/**
 * PostgreSQL access: a pool pinned to one schema (search_path), and versioned migrations applied in order
 * at start under an advisory lock (several instances may start at once), recorded in schema_migrations.
 */
import { Pool, type PoolClient, type QueryConfig } from 'pg';
import { unavailableDependency } from '../core/errors';
import type { Logger } from './logger';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export function quoteIdent(name: string): string {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`invalid schema name ${JSON.stringify(name)}`);
  return `"${name}"`;
}

/**
 * A pool pinned to `schema`. The error listener is not optional: an idle client whose backend goes away
 * (PostgreSQL restart or failover, pgbouncer, idle_session_timeout) makes the Pool emit `error`, and an
 * EventEmitter `error` with no listener kills the process. The client is discarded by pg; the next query
 * opens a new connection, and a query that fails meanwhile is classified by `unavailableDependency`.
 */
export function createPool(url: string, schema: string, max = 5, logger?: Logger): Pool {
  quoteIdent(schema);
  const pool = new Pool({ connectionString: url, max, options: `-c search_path=${schema}` });
  pool.on('error', (err) => logger?.warn({ err: err.message, schema }, 'idle database connection lost'));
  // pg-pool removes its idle listener while a client is checked out; a backend terminated between two
  // statements of a transaction then emits `error` on the client itself. The statement in progress or
  // the next one fails and is classified; this listener only keeps the process alive.
  pool.on('connect', (client) => {
    client.on('error', (err) => logger?.warn({ err: err.message, schema }, 'database connection lost'));
  });
  return pool;
}

/** For readiness and pause probes: the database answers a query now. */
export async function probeDatabase(pool: Pool): Promise<void> {
  await pool.query('SELECT 1');
}

export async function migrate(pool: Pool, schema: string, migrations: Migration[]): Promise<number[]> {
  const client = await pool.connect();
  try {
    // Lock per schema: concurrent starts run migrations once.
    await client.query('SELECT pg_advisory_lock(hashtext($1))', [`storeline-migrate:${schema}`]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${quoteIdent(schema)}.schema_migrations (version int PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
    );
    const done = new Set(
      (
        await client.query<{ version: number }>(`SELECT version FROM ${quoteIdent(schema)}.schema_migrations`)
      ).rows.map((r) => r.version),
    );
    const applied: number[] = [];
    for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
      if (done.has(m.version)) continue;
      await client.query('BEGIN');
      try {
        await client.query(`SET LOCAL search_path = ${quoteIdent(schema)}`);
        await client.query(m.sql);
        await client.query(
          `INSERT INTO ${quoteIdent(schema)}.schema_migrations (version, name) VALUES ($1, $2)`,
          [m.version, m.name],
        );
        await client.query('COMMIT');
        applied.push(m.version);
      } catch (err) {
        await client.query('ROLLBACK');
        throw new Error(
          `migration ${m.version} (${m.name}) failed: ${err instanceof Error ? err.message : String(err)}`,
          { cause: err },
        );
      }
    }
    return applied;
  } finally {
    await client
      .query('SELECT pg_advisory_unlock(hashtext($1))', [`storeline-migrate:${schema}`])
      .catch(() => undefined);
    client.release();
  }
}

export async function inTransaction<T>(pool: Pool, fn: (c: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query('BEGIN');
    const out = await fn(client);
    await client.query('COMMIT');
    return out;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    // A connection that failed is not handed to the next caller: release(err) makes the pool drop it.
    if (unavailableDependency(err)) broken = err instanceof Error ? err : new Error(String(err));
    throw err;
  } finally {
    client.release(broken);
  }
}

/**
 * A named statement for a hot path: PostgreSQL parses, analyzes and plans it once per connection instead of on
 * every call (before, that was about a third of the backends' CPU under the pipeline benchmark; bench/README.md).
 * One name, one constant text: pg keeps the prepared statement per connection by name.
 */
export function named(name: string, text: string, values: unknown[]): QueryConfig {
  return { name, text, values };
}
