/** Shared by the benchmarks: the local stack's addresses, fresh topics, a child-process runner. */
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { resolve } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { ensureTopics } from '../lib/platform/kafka';
import { TopicNames } from '../lib/core/topics';

export const ROOT = resolve(__dirname, '..');

/** The stack `npm run stack:up` runs (started here if it is not up). */
export function stack(): { brokers: string[]; registryUrl: string; databaseUrl: string } {
  const out = execFileSync('bash', [resolve(ROOT, 'scripts/stack/stack.sh'), 'up'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const env = Object.fromEntries(
    out
      .split('\n')
      .filter((l) => l.includes('='))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
  return {
    brokers: env.KAFKA_BROKERS!.split(','),
    registryUrl: env.SCHEMA_REGISTRY_URL!,
    databaseUrl: env.DATABASE_URL!,
  };
}

export function kafkaClient(brokers: string[]): Kafka {
  return new Kafka({ clientId: 'storeline-bench', brokers, logLevel: logLevel.NOTHING });
}

export async function freshTopics(kafka: Kafka): Promise<TopicNames> {
  const names = new TopicNames(`bench-${randomBytes(4).toString('hex')}.`);
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopics(admin, names);
  await admin.disconnect();
  return names;
}

/** Runs a TypeScript file as its own process and returns its stdout. */
export function runTs(file: string, args: string[], env: Record<string, string> = {}): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, ['--require', 'tsx/cjs', resolve(ROOT, file), ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('exit', (code) =>
      code === 0 ? resolvePromise(out) : reject(new Error(`${file} exited ${code}`)),
    );
  });
}

export function machine(): string {
  return `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
}
