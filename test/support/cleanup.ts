/**
 * What an integration run leaves behind in the stack it shares with `npm start`: subjects, topics and
 * consumer groups named with `randomId()`, which carries this run's tag (STORELINE_TEST_RUN, set by
 * globalSetup). Removing exactly those keeps the user's registry and cluster views clean and never
 * touches another run's names (a concurrent run has another tag). STORELINE_KEEP_TEST_DATA=1 keeps them.
 */
import { Kafka, logLevel } from 'kafkajs';

/** A name made by randomId() in the run tagged `run`. */
export function madeByRun(name: string, run: string): boolean {
  return new RegExp(`-${run}[0-9a-f]{8}(?![0-9a-f])`).test(name);
}

async function deleteSubjects(registryUrl: string, run: string): Promise<number> {
  const subjects = (await (await fetch(`${registryUrl}/subjects`)).json()) as string[];
  const ours = subjects.filter((s) => madeByRun(s, run));
  for (const s of ours) {
    const at = `${registryUrl}/subjects/${encodeURIComponent(s)}`;
    await fetch(at, { method: 'DELETE' });
    await fetch(`${at}?permanent=true`, { method: 'DELETE' });
  }
  return ours.length;
}

async function deleteKafkaNames(brokers: string[], run: string): Promise<number> {
  const admin = new Kafka({ clientId: 'test-cleanup', brokers, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const topics = (await admin.listTopics()).filter((t) => madeByRun(t, run));
    if (topics.length) await admin.deleteTopics({ topics, timeout: 30_000 });
    const groups = (await admin.listGroups()).groups.map((g) => g.groupId).filter((g) => madeByRun(g, run));
    // A group that still has members cannot be deleted; it empties and expires by itself.
    if (groups.length) await admin.deleteGroups(groups).catch(() => undefined);
    return topics.length + groups.length;
  } finally {
    await admin.disconnect();
  }
}

export async function removeRunArtifacts(env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const run = env.STORELINE_TEST_RUN;
  if (!run || env.STORELINE_KEEP_TEST_DATA === '1') return 'kept';
  const subjects = env.SCHEMA_REGISTRY_URL ? await deleteSubjects(env.SCHEMA_REGISTRY_URL, run) : 0;
  const kafka = env.KAFKA_BROKERS ? await deleteKafkaNames(env.KAFKA_BROKERS.split(','), run) : 0;
  return `removed ${subjects} subjects and ${kafka} topics/groups of test run ${run}`;
}
