/** webhook_endpoints: customer endpoints, their secrets and health. */
import type { PoolClient } from 'pg';
import type { EndpointFilter } from '../../../core/webhooks/messages';
import { num, type Db } from './rows';

interface SecretEntry {
  secret: string;
  /** Null while current; set on rotation to when the old secret stops being used. */
  expiresAt: number | null;
}

export interface Endpoint extends EndpointFilter {
  id: string;
  url: string;
  description: string | null;
  enabled: boolean;
  disabledReason: string | null;
  disabledAt: number | null;
  failingSince: number | null;
  maxConcurrency: number;
  timeoutMs: number;
  secrets: SecretEntry[];
  createdAt: number;
  updatedAt: number;
}

/** What the API shows: never the secrets. */
export type PublicEndpoint = Omit<Endpoint, 'secrets'> & { secretCount: number };

export function toPublic(e: Endpoint): PublicEndpoint {
  const { secrets, ...rest } = e;
  return { ...rest, secretCount: secrets.length };
}

/** Secrets to sign with at `now`: the current one first, then rotated ones not yet expired. */
export function signingSecrets(e: Pick<Endpoint, 'secrets'>, now: number): string[] {
  return e.secrets
    .filter((s) => s.expiresAt === null || s.expiresAt > now)
    .sort((a, b) => (a.expiresAt === null ? -1 : b.expiresAt === null ? 1 : b.expiresAt - a.expiresAt))
    .map((s) => s.secret);
}

interface EndpointRow {
  id: string;
  url: string;
  description: string | null;
  event_types: string[] | null;
  environments: string[] | null;
  app_ids: string[] | null;
  enabled: boolean;
  disabled_reason: string | null;
  disabled_at: string | null;
  failing_since: string | null;
  max_concurrency: number;
  timeout_ms: number;
  secrets: SecretEntry[];
  created_at: string;
  updated_at: string;
}

function endpointOf(r: EndpointRow): Endpoint {
  return {
    id: r.id,
    url: r.url,
    description: r.description,
    eventTypes: r.event_types,
    environments: r.environments,
    appIds: r.app_ids,
    enabled: r.enabled,
    disabledReason: r.disabled_reason,
    disabledAt: num(r.disabled_at),
    failingSince: num(r.failing_since),
    maxConcurrency: r.max_concurrency,
    timeoutMs: r.timeout_ms,
    secrets: r.secrets,
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
  };
}

/** Columns $1..$14 in the order both writes below use; $15 is created_at on insert. */
function endpointParams(e: Endpoint): unknown[] {
  return [
    e.id,
    e.url,
    e.description,
    e.eventTypes,
    e.environments,
    e.appIds,
    e.enabled,
    e.disabledReason,
    e.disabledAt,
    e.failingSince,
    e.maxConcurrency,
    e.timeoutMs,
    JSON.stringify(e.secrets),
    e.updatedAt,
  ];
}

export async function insertEndpoint(db: Db, e: Endpoint): Promise<boolean> {
  const r = await db.query(
    `INSERT INTO webhook_endpoints (id, url, description, event_types, environments, app_ids, enabled,
       disabled_reason, disabled_at, failing_since, max_concurrency, timeout_ms, secrets, updated_at, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) ON CONFLICT (id) DO NOTHING`,
    [...endpointParams(e), e.createdAt],
  );
  return r.rowCount === 1;
}

/** Writes every mutable field of `e` (the caller read it FOR UPDATE and changed it). */
export async function saveEndpoint(db: Db, e: Endpoint): Promise<void> {
  await db.query(
    `UPDATE webhook_endpoints SET url = $2, description = $3, event_types = $4, environments = $5, app_ids = $6,
       enabled = $7, disabled_reason = $8, disabled_at = $9, failing_since = $10, max_concurrency = $11,
       timeout_ms = $12, secrets = $13, updated_at = $14 WHERE id = $1`,
    endpointParams(e),
  );
}

export async function getEndpoint(db: Db, id: string, forUpdate = false): Promise<Endpoint | undefined> {
  const r = await db.query<EndpointRow>(
    `SELECT * FROM webhook_endpoints WHERE id = $1${forUpdate ? ' FOR UPDATE' : ''}`,
    [id],
  );
  return r.rows[0] ? endpointOf(r.rows[0]) : undefined;
}

export async function listEndpoints(db: Db): Promise<Endpoint[]> {
  const r = await db.query<EndpointRow>('SELECT * FROM webhook_endpoints ORDER BY id');
  return r.rows.map(endpointOf);
}

/** After a failure: returns since when the endpoint has been failing (set now if it was healthy). */
export async function markEndpointFailing(
  c: PoolClient,
  id: string,
  now: number,
): Promise<{ failingSince: number; enabled: boolean } | undefined> {
  const r = await c.query<{ failing_since: string; enabled: boolean }>(
    `UPDATE webhook_endpoints SET failing_since = COALESCE(failing_since, $2) WHERE id = $1
     RETURNING failing_since, enabled`,
    [id, now],
  );
  const row = r.rows[0];
  return row ? { failingSince: Number(row.failing_since), enabled: row.enabled } : undefined;
}

/** Disables an enabled endpoint; false when it was already disabled. */
export async function disableEndpoint(
  c: PoolClient,
  id: string,
  reason: string,
  now: number,
): Promise<boolean> {
  const r = await c.query(
    `UPDATE webhook_endpoints SET enabled = false, disabled_reason = $2, disabled_at = $3, updated_at = $3
     WHERE id = $1 AND enabled`,
    [id, reason, now],
  );
  return r.rowCount === 1;
}
