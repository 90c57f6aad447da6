/**
 * Schema evolution on the real registry: every released version of each event schema registers in order
 * under the FULL_TRANSITIVE policy, the current schema is compatible with all of them, and readers on
 * either side of the base-plan change decode each other's records (docs/consuming.md).
 */
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import type { Schema } from 'avsc';
import { AvroCodec, createRegistry } from '../../lib/platform/avro';
import type { SubscriptionEvent } from '../../lib/core/generated/avro';
import { TOPICS, TopicNames } from '../../lib/core/topics';
import { avroTopics, checkAgainstRegistry, history } from '../../scripts/schema-compat';
import { stackEnv } from '../support/env';
import { sampleEvent } from '../kit/builders/events';
import { randomId } from '../support/kafka';

const registryUrl = () => stackEnv().registryUrl;
const codec = <T>(subject: string, schema: object) =>
  new AvroCodec<T>(createRegistry(registryUrl()), subject, schema as Schema);
const CURRENT = TOPICS.subscriptionEvents.value.schema as object;
const V1 = history('SubscriptionEvent').find((v) => v.version === 1)!.schema;

const planChanged = sampleEvent({
  type: 'PLAN_CHANGED',
  store: 'PLAY_STORE',
  planChange: {
    fromProductId: 'premium',
    toProductId: 'premium',
    timing: 'IMMEDIATE',
    direction: 'UNKNOWN',
    fromBasePlanId: 'monthly',
    toBasePlanId: 'three-month',
  },
});

describe('schema compatibility policy (real registry)', () => {
  it.each(avroTopics().map((t) => [t.name, t.schema] as const))(
    '%s: released versions register in order under FULL_TRANSITIVE and the current schema fits all',
    async (name, schema) => {
      const subject = `${randomId('compat')}-value`;
      for (const v of history(name)) await codec(subject, v.schema).register();
      const config = await fetch(`${registryUrl()}/config/${subject}`).then((r) => r.json());
      expect(config).toEqual({ compatibilityLevel: 'FULL_TRANSITIVE' });
      const verdicts = await checkAgainstRegistry(registryUrl(), subject, schema);
      expect(verdicts.map((v) => [v.version, v.compatible])).toEqual(
        history(name).map((v) => [v.version, true]),
      );
    },
  );

  it('refuses a change that fits the latest version but not an older one (transitive)', async () => {
    const subject = `${randomId('compat')}-value`;
    const toy = (fields: object[]) => ({ type: 'record', name: 'Toy', fields });
    await codec(subject, toy([{ name: 'x', type: ['null', 'int'], default: null }])).register();
    await codec(subject, toy([])).register();
    // x comes back as a string: fine against version 2 (no x), not against version 1 (x was an int).
    const readded = toy([{ name: 'x', type: ['null', 'string'], default: null }]);
    const verdicts = await checkAgainstRegistry(registryUrl(), subject, readded);
    expect(verdicts.map((v) => [v.version, v.compatible])).toEqual([
      [1, false],
      [2, true],
    ]);
    await expect(codec(subject, readded).register()).rejects.toMatchObject({ retriable: false });
  });

  it('an old reader (version 1) decodes a new PLAN_CHANGED correction: base plans and revision are ignored', async () => {
    const subject = `${randomId('compat')}-value`;
    const v1Id = await codec(subject, V1).register();
    const writer = codec<SubscriptionEvent>(subject, CURRENT);
    await writer.register();
    const reader = new AvroCodec<Record<string, unknown>>(
      createRegistry(registryUrl()),
      subject,
      V1 as Schema,
      v1Id,
    );
    const decoded = await reader.decode(writer.encode({ ...planChanged, revision: 2 }));
    const { fromBasePlanId: _f, toBasePlanId: _t, ...oldPlanChange } = planChanged.planChange!;
    // Version 3's revision and retracted are unknown to it too.
    const { revision: _r, retracted: _x, ...v1Fields } = planChanged;
    expect({ ...decoded }).toEqual({ ...v1Fields, planChange: { ...oldPlanChange } });
  });

  it('a new reader decodes a version 1 record: the base plans default to null', async () => {
    const subject = `${randomId('compat')}-value`;
    const writer = codec<Record<string, unknown>>(subject, V1);
    await writer.register();
    const { fromBasePlanId: _f, toBasePlanId: _t, ...oldPlanChange } = planChanged.planChange!;
    const bytes = writer.encode({ ...planChanged, planChange: oldPlanChange });
    const reader = codec<SubscriptionEvent>(subject, CURRENT);
    await reader.register();
    expect(await reader.decode(bytes)).toEqual({
      ...planChanged,
      planChange: { ...oldPlanChange, fromBasePlanId: null, toBasePlanId: null },
    });
  });
});

describe('npm run schemas:check (before a deploy)', () => {
  const check = (prefix: string) =>
    spawnSync(
      process.execPath,
      [
        '--require',
        'tsx/cjs',
        resolve(__dirname, '../../scripts/schemas-check.ts'),
        '--registry',
        registryUrl(),
        '--prefix',
        prefix,
      ],
      { encoding: 'utf8' },
    );

  it('passes against the released versions and names each subject it checked', async () => {
    const prefix = `${randomId('chk')}.`;
    const names = new TopicNames(prefix);
    await codec(names.subject('subscriptionEvents'), V1).register();
    const r = check(prefix);
    expect(r.stdout).toContain(`compatible  ${names.subject('subscriptionEvents')} with versions 1`);
    expect(r.stdout).toContain(`new         ${names.subject('subscriptionState')}`);
    expect(r.status).toBe(0);
  });

  it('fails, naming the version, when a registered schema would refuse the current one', async () => {
    const prefix = `${randomId('chk')}.`;
    const subject = new TopicNames(prefix).subject('subscriptionEvents');
    // Version 1 of the subject is an unrelated schema (say, another team's, under a clashing prefix).
    const unrelated = {
      type: 'record',
      name: 'SubscriptionEvent',
      fields: [{ name: 'eventId', type: 'long' }],
    };
    await codec(subject, unrelated).register();
    const r = check(prefix);
    expect(r.stdout).toMatch(new RegExp(`REFUSED +${subject.replace(/\./g, '\\.')} version 1`));
    expect(r.status).toBe(1);
  });
});
