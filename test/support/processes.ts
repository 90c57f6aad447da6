import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { stackEnv } from './env';

/** Runs services/<service>/main.ts as its own process (the way operators run it), on the test stack. */
export function spawnService(service: string, env: Record<string, string>): ChildProcess {
  return spawn(
    process.execPath,
    ['--require', 'tsx/cjs', resolve(__dirname, `../../services/${service}/main.ts`)],
    {
      env: {
        ...process.env,
        KAFKA_BROKERS: stackEnv().brokers.join(','),
        SCHEMA_REGISTRY_URL: stackEnv().registryUrl,
        LOG_LEVEL: 'warn',
        PORT: '0',
        ...env,
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
}

export function spawnNormalizer(env: Record<string, string>): ChildProcess {
  return spawnService('normalizer', env);
}

export function exited(child: ChildProcess): Promise<NodeJS.Signals | number | null> {
  if (child.exitCode !== null || child.signalCode !== null)
    return Promise.resolve(child.signalCode ?? child.exitCode);
  return new Promise((r) => child.once('exit', (code, signal) => r(signal ?? code)));
}
