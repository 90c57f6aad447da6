/**
 * App Store notification claims on the real PostgreSQL: a chunk's records claimed in one statement give the
 * same owners as one claim after the other (the lower offset owns an id twice in a chunk; a claim made earlier
 * by another record stays its owner's; a record finds its own claim again after an aborted transaction).
 */
import type { Pool } from 'pg';
import { CLAIM_MIGRATIONS, PgNotificationClaims } from '../../lib/adapters/normalizer/claims';
import { createPool, migrate } from '../../lib/platform/db';
import { stackEnv } from '../support/env';
import { randomSchema } from '../support/state';

let pool: Pool;
let claims: PgNotificationClaims;
const topic = 'raw.app-store';

beforeAll(async () => {
  const schema = randomSchema();
  pool = createPool(stackEnv().databaseUrl, schema, 2);
  await migrate(pool, schema, CLAIM_MIGRATIONS);
  claims = new PgNotificationClaims(pool);
});
afterAll(() => pool.end());

describe('PgNotificationClaims.claimAll', () => {
  it('gives a chunk the owners one claim after the other would', async () => {
    // Claimed earlier: n1 by this partition's offset 5, n2 by another partition.
    expect(await claims.claim(topic, 'n1', 0, '5')).toBe(true);
    expect(await claims.claim(topic, 'n2', 1, '7')).toBe(true);
    const owners = await claims.claimAll(topic, 0, [
      { notificationId: 'n1', offset: '5' }, // its own claim, read again (a retried chunk)
      { notificationId: 'n2', offset: '10' }, // another record's claim
      { notificationId: 'n3', offset: '12' }, // new, and again at 14 in the same chunk
      { notificationId: 'n3', offset: '14' },
      { notificationId: 'n4', offset: '13' },
    ]);
    expect([...owners].sort()).toEqual(['12', '13', '5']);
    // One by one afterwards, the same answers.
    expect(await claims.claim(topic, 'n3', 0, '14')).toBe(false);
    expect(await claims.claim(topic, 'n3', 0, '12')).toBe(true);
    expect(await claims.claim(topic, 'n2', 0, '10')).toBe(false);
  });

  it('answers an empty chunk without a query, and keeps raw topics apart', async () => {
    expect(await claims.claimAll(topic, 0, [])).toEqual(new Set());
    expect(await claims.claimAll('other.raw', 0, [{ notificationId: 'n2', offset: '1' }])).toEqual(
      new Set(['1']),
    );
  });
});
