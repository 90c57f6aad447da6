/**
 * The teardown removes exactly this run's subjects and topics from the shared stack, and nothing of
 * another run or of the user's own pipeline.
 */
import { randomBytes } from 'node:crypto';
import { AvroCodec, createRegistry } from '../../lib/platform/avro';
import { TOPICS } from '../../lib/core/topics';
import { madeByRun, removeRunArtifacts } from '../support/cleanup';
import { stackEnv } from '../support/env';
import { createTopic, randomId, testKafka } from '../support/kafka';

const run = process.env.STORELINE_TEST_RUN!;
const other = run === 'ffff' ? 'eeee' : 'ffff';
/** Two made-up runs, so the test never removes what this run's other suites created. */
const tag = () => randomBytes(2).toString('hex');

describe('test-run cleanup', () => {
  it('recognises names by run tag', () => {
    expect(madeByRun(`${randomId('app')}.storeline.raw.v1`, run)).toBe(true);
    expect(madeByRun(`app-${other}0123abcd.storeline.raw.v1`, run)).toBe(false);
    expect(madeByRun('storeline.subscription-events.v1-value', run)).toBe(false);
  });

  it('removes this run’s subjects and topics and leaves another run’s', async () => {
    const kafka = testKafka();
    const [a, b] = [tag(), tag()];
    const ours = `clean-${a}${randomBytes(4).toString('hex')}.events`;
    const theirs = `clean-${b === a ? 'beef' : b}${randomBytes(4).toString('hex')}.events`;
    const registry = createRegistry(stackEnv().registryUrl);
    const schema = TOPICS.subscriptionEvents.value.schema;
    for (const name of [ours, theirs]) {
      await createTopic(kafka, name);
      await new AvroCodec(registry, `${name}-value`, schema).register();
    }
    const report = await removeRunArtifacts({
      STORELINE_TEST_RUN: a,
      SCHEMA_REGISTRY_URL: stackEnv().registryUrl,
      KAFKA_BROKERS: stackEnv().brokers.join(','),
    });
    expect(report).toMatch(/removed 1 subjects and 1 topics/);
    const subjects = (await (await fetch(`${stackEnv().registryUrl}/subjects`)).json()) as string[];
    expect(subjects).not.toContain(`${ours}-value`);
    expect(subjects).toContain(`${theirs}-value`);
    const admin = kafka.admin();
    await admin.connect();
    const topics = await admin.listTopics();
    expect(topics).not.toContain(ours);
    expect(topics).toContain(theirs);
    await admin.deleteTopics({ topics: [theirs] });
    await admin.disconnect();
    await fetch(`${stackEnv().registryUrl}/subjects/${theirs}-value`, { method: 'DELETE' });
    await fetch(`${stackEnv().registryUrl}/subjects/${theirs}-value?permanent=true`, { method: 'DELETE' });
  });
});
