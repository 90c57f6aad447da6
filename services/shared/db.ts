/**
 * PostgreSQL access: a pool pinned to one schema (search_path), and versioned migrations applied in order
 * at start under an advisory lock (several instances may start at once), recorded in schema_migrations.
 */
import { Pool, type PoolClient } from 'pg';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export function quoteIdent(name: string): string {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`invalid schema name ${JSON.stringify(name)}`);
  return `"${name}"`;
}

export function createPool(url: string, schema: string, max = 5): Pool {
  quoteIdent(schema);
  return new Pool({ connectionString: url, max, options: `-c search_path=${schema}` });
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
  try {
    await client.query('BEGIN');
    const out = await fn(client);
    await client.query('COMMIT');
    return out;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}
