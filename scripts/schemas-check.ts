/**
 * `npm run schemas:check [-- --registry URL] [--prefix P]`: before deploying, asks the registry whether
 * every schema in schemas/*.avsc is compatible with every version registered under its subject. Prints one
 * line per subject and exits 1 when any version would refuse the schema. SCHEMA_REGISTRY_URL and
 * TOPIC_PREFIX are the defaults, as for the services.
 */
import { parseArgs } from 'node:util';
import { TopicNames } from '../lib/core/topics';
import { avroTopics, checkAgainstRegistry } from './schema-compat';

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      registry: {
        type: 'string',
        default: process.env.SCHEMA_REGISTRY_URL ?? 'http://127.0.0.1:8081/apis/ccompat/v7',
      },
      prefix: { type: 'string', default: process.env.TOPIC_PREFIX ?? '' },
    },
  });
  const names = new TopicNames(values.prefix);
  let failures = 0;
  for (const t of avroTopics()) {
    const subject = names.subject(t.id);
    const verdicts = await checkAgainstRegistry(values.registry, subject, t.schema);
    const refused = verdicts.filter((v) => !v.compatible);
    failures += refused.length;
    if (verdicts.length === 0) console.log(`new         ${subject} (no registered version yet)`);
    else if (refused.length === 0)
      console.log(`compatible  ${subject} with versions ${verdicts.map((v) => v.version).join(', ')}`);
    for (const v of refused)
      console.log(`REFUSED     ${subject} version ${v.version}: ${v.messages.join('; ') || 'incompatible'}`);
  }
  return failures === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`schemas:check failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(2);
  },
);
