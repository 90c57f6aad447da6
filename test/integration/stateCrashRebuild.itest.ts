/**
 * Kill the state aggregator (SIGKILL) in the middle of a stream and restart it: its tables equal a clean
 * rebuild by `storeline state rebuild` from the canonical topic.
 */
import { spawn, spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import type { SubscriptionEvent } from '../../lib/core/generated/avro';
import { createPool } from '../../lib/platform/db';
import { allStates } from '../../lib/adapters/state/store';
import type { FoldState } from '../../lib/core/state/fold';
import { stackEnv } from '../support/env';
import { createCatalogTopics, randomId, testKafka, waitFor } from '../support/kafka';
import { exited } from '../support/processes';
import { codecs, migratedPool, produceEvents, randomSchema, realSampleEvents } from '../support/state';

const N_SUBS = 60;
const PER_SUB = 10;

function syntheticHistory(): SubscriptionEvent[] {
  const template = realSampleEvents()[0]!;
  const types = [
    'SUBSCRIPTION_STARTED',
    'RENEWED',
    'AUTO_RENEW_DISABLED',
    'RENEWED',
    'GRACE_PERIOD_STARTED',
    'BILLING_RECOVERED',
    'REFUND_REQUESTED',
    'REFUNDED',
    'EXPIRED',
    'RENEWED',
  ] as const;
  const events: SubscriptionEvent[] = [];
  for (let s = 0; s < N_SUBS; s++) {
    for (let i = 0; i < PER_SUB; i++) {
      const type = types[i]!;
      events.push({
        ...template,
        eventId: `app_store:crash-${s}-${i}:0`,
        subscriptionKey: `app_store:crash-${s}`,
        appUserId: `user-${s % 7}`,
        type,
        // Deliberately out of store order within a subscription (late events), and duplicated below.
        occurredAt: 1_760_000_000_000 + ((i * 7) % PER_SUB) * 1000,
        status: type === 'EXPIRED' ? 'EXPIRED' : type === 'GRACE_PERIOD_STARTED' ? 'GRACE_PERIOD' : 'ACTIVE',
        entitled: type !== 'EXPIRED',
      });
    }
  }
  return [...events, ...events.filter((_, i) => i % 5 === 0)];
}

const strip = (m: Map<string, FoldState>) =>
  new Map([...m].map(([k, f]) => [k, { ...f, state: { ...f.state, updatedAt: 0 } }]));

describe('state aggregator crash and rebuild', () => {
  it('a SIGKILL mid-stream and a restart end in the same tables as a clean rebuild', async () => {
    const kafka = testKafka();
    const names = await createCatalogTopics(kafka);
    const { eventCodec } = await codecs(names);
    const { pool, schema } = await migratedPool();
    const env = {
      ...process.env,
      KAFKA_BROKERS: stackEnv().brokers.join(','),
      SCHEMA_REGISTRY_URL: stackEnv().registryUrl,
      DATABASE_URL: stackEnv().databaseUrl,
      TOPIC_PREFIX: names.prefix,
      STATE_DB_SCHEMA: schema,
      STATE_GROUP_ID: randomId('state'),
      STATE_API_KEYS: 'crash-test-key-0123456789',
      STATE_SESSION_TIMEOUT_MS: '6000',
      PORT: '0',
      LOG_LEVEL: 'warn',
    };
    const main = resolve(__dirname, '../../services/state/main.ts');
    const run = () =>
      spawn(process.execPath, ['--require', 'tsx/cjs', main], {
        env,
        stdio: ['ignore', 'ignore', 'inherit'],
      });
    const history = syntheticHistory();
    const distinct = new Set(history.map((e) => e.eventId)).size;
    const applied = async () =>
      (await pool.query('SELECT count(*)::int AS n FROM subscription_events')).rows[0].n as number;

    const first = run();
    await produceEvents(kafka, names.name('subscriptionEvents'), eventCodec, history);
    await waitFor(
      'some events applied',
      async () => ((await applied()) >= 50 ? true : undefined),
      90_000,
      20,
    );
    first.kill('SIGKILL');
    expect(await exited(first)).toBe('SIGKILL');
    expect(await applied()).toBeLessThan(distinct);

    const second = run();
    await waitFor(
      'every event applied',
      async () => ((await applied()) === distinct ? true : undefined),
      110_000,
    );
    second.kill('SIGTERM');
    expect(await exited(second)).toBe(0);
    const live = await allStates(pool);
    expect(live.size).toBe(N_SUBS);

    const rebuildSchema = randomSchema();
    const cli = spawnSync(
      process.execPath,
      [
        '--require',
        'tsx/cjs',
        resolve(__dirname, '../../services/cli/main.ts'),
        'state',
        'rebuild',
        '--schema',
        rebuildSchema,
      ],
      {
        env,
        encoding: 'utf8',
      },
    );
    expect(cli.stderr).toBe('');
    expect(cli.stdout).toMatch(
      new RegExp(`rebuilt schema ${rebuildSchema}: ${history.length} events applied, 0 undecodable skipped`),
    );
    expect(cli.status).toBe(0);
    const rebuiltPool = createPool(stackEnv().databaseUrl, rebuildSchema);
    try {
      expect(strip(await allStates(rebuiltPool))).toEqual(strip(live));
      const ids = async (p: typeof pool) =>
        (await p.query('SELECT event_id FROM subscription_events ORDER BY event_id')).rows.map(
          (r) => r.event_id,
        );
      expect(await ids(rebuiltPool)).toEqual(await ids(pool));
    } finally {
      await rebuiltPool.end();
      await pool.end();
    }
  });
});
