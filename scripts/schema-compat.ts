/**
 * Schema evolution checks. `schemas/history/<Name>/v<n>.avsc` keeps every released version of each event
 * schema; the newest equals `schemas/<Name>.avsc`. A change is compatible when the registry, under the
 * subject's FULL_TRANSITIVE policy, accepts it against every version before it (docs/consuming.md).
 * The registry is asked, never a local reimplementation of Avro's rules: it is the one that refuses.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { TOPICS, type TopicId } from '../lib/core/topics';

export const SCHEMAS_DIR = resolve(__dirname, '../schemas');

/** The catalog topics whose values are Avro, with their schema's name. */
export function avroTopics(): { id: TopicId; name: string; schema: object }[] {
  return (Object.keys(TOPICS) as TopicId[]).flatMap((id) => {
    const value = TOPICS[id].value;
    if (value.format !== 'avro') return [];
    const schema = value.schema as { name: string };
    return [{ id, name: schema.name, schema }];
  });
}

/** Released versions of a schema, oldest first. */
export function history(name: string, dir = SCHEMAS_DIR): { version: number; schema: object }[] {
  const folder = join(dir, 'history', name);
  return readdirSync(folder)
    .map((f) => /^v(\d+)\.avsc$/.exec(f))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({
      version: Number(m[1]),
      schema: JSON.parse(readFileSync(join(folder, m[0]), 'utf8')) as object,
    }))
    .sort((a, b) => a.version - b.version);
}

export interface VersionVerdict {
  version: number;
  compatible: boolean;
  messages: string[];
}

const JSON_TYPE = 'application/vnd.schemaregistry.v1+json';

async function call(url: string, init?: RequestInit): Promise<Response> {
  return fetch(url, { ...init, signal: AbortSignal.timeout(10_000) });
}

/** Versions registered under `subject`; none when the subject does not exist yet. */
export async function registeredVersions(registryUrl: string, subject: string): Promise<number[]> {
  const r = await call(`${registryUrl}/subjects/${encodeURIComponent(subject)}/versions`);
  if (r.status === 404) return [];
  if (!r.ok) throw new Error(`registry answered ${r.status} listing versions of ${subject}`);
  return (await r.json()) as number[];
}

/** Asks the registry whether `schema` is compatible with each registered version of `subject`. */
export async function checkAgainstRegistry(
  registryUrl: string,
  subject: string,
  schema: object,
): Promise<VersionVerdict[]> {
  const verdicts: VersionVerdict[] = [];
  for (const version of await registeredVersions(registryUrl, subject)) {
    const r = await call(
      `${registryUrl}/compatibility/subjects/${encodeURIComponent(subject)}/versions/${version}?verbose=true`,
      {
        method: 'POST',
        headers: { 'content-type': JSON_TYPE },
        body: JSON.stringify({ schema: JSON.stringify(schema) }),
      },
    );
    if (!r.ok) throw new Error(`registry answered ${r.status} checking ${subject} version ${version}`);
    const body = (await r.json()) as { is_compatible: boolean; messages?: string[] };
    verdicts.push({ version, compatible: body.is_compatible, messages: body.messages ?? [] });
  }
  return verdicts;
}
