/** Idempotent start-up work shared by `npm run topics:create`, `npm start` and services: topics and schemas. */
import type { Kafka } from 'kafkajs';
import { AvroCodec, createRegistry } from './avro';
import { ensureTopics } from './kafka';
import { TopicNames, type TopicSpec } from './topics';

export async function bootstrapTopicsAndSchemas(
  kafka: Kafka,
  registryUrl: string,
  names: TopicNames,
): Promise<{ created: string[]; subjects: { subject: string; id: number }[] }> {
  const admin = kafka.admin();
  await admin.connect();
  let created: string[];
  try {
    created = await ensureTopics(admin, names);
  } finally {
    await admin.disconnect();
  }
  const registry = createRegistry(registryUrl);
  const subjects: { subject: string; id: number }[] = [];
  for (const t of names.all()) {
    const value: TopicSpec['value'] = t.spec.value;
    if (value.format !== 'avro') continue;
    const subject = names.subject(t.id);
    const id = await new AvroCodec(registry, subject, value.schema).register();
    subjects.push({ subject, id });
  }
  return { created, subjects };
}
