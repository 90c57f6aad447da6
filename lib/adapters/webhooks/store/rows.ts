/** What every table module of the webhook store shares. */
import type { Pool, PoolClient } from 'pg';

export type Db = Pool | PoolClient;

export const num = (v: string | null): number | null => (v === null ? null : Number(v));
