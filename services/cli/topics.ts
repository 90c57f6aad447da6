/** `storeline topics create`: creates missing catalog topics and registers the Avro schemas (idempotent). */
import { z } from 'zod';
import { COMPATIBILITY_POLICY } from '../../lib/platform/avro';
import { bootstrapTopicsAndSchemas } from '../../lib/platform/bootstrap';
import { kafkaEnv, parseConfig } from '../../lib/platform/config';
import { createKafka } from '../../lib/platform/kafka';
import { createLogger } from '../../lib/platform/logger';
import { TopicNames } from '../../lib/core/topics';

export async function runTopics(args: string[], env = process.env): Promise<number> {
  if (args[0] !== 'create') {
    process.stderr.write(
      'usage: storeline topics create   (reads KAFKA_BROKERS, SCHEMA_REGISTRY_URL, TOPIC_PREFIX)\n',
    );
    return 2;
  }
  const parsed = parseConfig(z.object(kafkaEnv), env);
  if (!parsed.ok) {
    process.stderr.write(
      `storeline topics: invalid configuration\n${parsed.problems.map((p) => `  - ${p}\n`).join('')}`,
    );
    return 2;
  }
  const config = parsed.config;
  const logger = createLogger('topics-create', config.LOG_LEVEL);
  const kafka = createKafka({ brokers: config.KAFKA_BROKERS, clientId: 'storeline-topics', logger });
  const names = new TopicNames(config.TOPIC_PREFIX);
  const { created, subjects } = await bootstrapTopicsAndSchemas(kafka, config.SCHEMA_REGISTRY_URL, names);
  for (const t of names.all()) {
    console.log(`${created.includes(t.name) ? 'created' : 'exists '}  ${t.name}`);
  }
  for (const s of subjects) console.log(`schema   ${s.subject} (id ${s.id}, ${COMPATIBILITY_POLICY})`);
  return 0;
}
