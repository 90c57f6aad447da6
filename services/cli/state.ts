/** `storeline state rebuild [--schema NAME]`: rebuild the state read model from the canonical topic. */
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { codecFor, createRegistry } from '../../lib/platform/avro';
import { kafkaEnv, parseConfig, postgresUrl } from '../../lib/platform/config';
import { createPool } from '../../lib/platform/db';
import type { SubscriptionEvent } from '../../lib/core/generated/avro';
import { createKafka } from '../../lib/platform/kafka';
import { createLogger } from '../../lib/platform/logger';
import { TopicNames } from '../../lib/core/topics';
import { rebuildState } from '../../lib/adapters/state/rebuild';

const Env = z.object({ ...kafkaEnv, DATABASE_URL: postgresUrl });

export async function runState(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== 'rebuild') {
    process.stderr.write('usage: storeline state rebuild [--schema NAME]\n');
    return 2;
  }
  const { values } = parseArgs({
    args: rest,
    options: { schema: { type: 'string', default: 'storeline_state_rebuild' } },
  });
  const env = parseConfig(Env, process.env);
  if (!env.ok) {
    process.stderr.write(
      `storeline state rebuild: invalid configuration\n${env.problems.map((p) => `  - ${p}\n`).join('')}`,
    );
    return 2;
  }
  const c = env.config;
  const logger = createLogger('state-rebuild', c.LOG_LEVEL);
  const names = new TopicNames(c.TOPIC_PREFIX);
  const schema = values.schema as string;
  const pool = createPool(c.DATABASE_URL, schema);
  try {
    const codec = codecFor<SubscriptionEvent>(
      createRegistry(c.SCHEMA_REGISTRY_URL),
      names,
      'subscriptionEvents',
    );
    const r = await rebuildState({
      kafka: createKafka({ brokers: c.KAFKA_BROKERS, clientId: 'storeline-state-rebuild', logger }),
      pool,
      schema,
      topic: names.name('subscriptionEvents'),
      codec,
      logger,
    });
    process.stdout.write(
      `rebuilt schema ${schema}: ${r.events} events applied, ${r.skipped} undecodable skipped\n`,
    );
    return 0;
  } finally {
    await pool.end();
  }
}
