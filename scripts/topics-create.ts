/** `npm run topics:create`: creates missing catalog topics and registers the Avro schemas (idempotent). */
import { z } from 'zod';
import { kafkaEnv, loadConfigOrExit } from '../services/shared/config';
import { bootstrapTopicsAndSchemas } from '../services/shared/bootstrap';
import { createKafka } from '../services/shared/kafka';
import { createLogger } from '../services/shared/logger';
import { TopicNames } from '../services/shared/topics';

const config = loadConfigOrExit('topics:create', z.object(kafkaEnv));

async function main(): Promise<void> {
  const logger = createLogger('topics-create', config.LOG_LEVEL);
  const kafka = createKafka({ brokers: config.KAFKA_BROKERS, clientId: 'storeline-topics', logger });
  const names = new TopicNames(config.TOPIC_PREFIX);
  const { created, subjects } = await bootstrapTopicsAndSchemas(kafka, config.SCHEMA_REGISTRY_URL, names);
  for (const t of names.all()) {
    console.log(`${created.includes(t.name) ? 'created' : 'exists '}  ${t.name}`);
  }
  for (const s of subjects) console.log(`schema   ${s.subject} (id ${s.id}, BACKWARD)`);
}

main().catch((err) => {
  console.error(`topics:create failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
