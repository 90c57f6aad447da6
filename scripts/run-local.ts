/**
 * Runs every Storeline service as its own process against the local stack, prefixes their output, and
 * stops them all on Ctrl-C / SIGTERM. The stack itself keeps running (`npm run stack:down` stops it).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';

interface ServiceDef {
  name: string;
  entry: string;
  env: Record<string, string>;
}

const ROOT = resolve(__dirname, '..');

// Local-only settings. APPLE_VERIFY_AT=signed-date lets the recorded Apple samples (whose leaf certificate
// has since expired) verify; production runs with `now`. The V1 secret is a placeholder for local use.
const SAMPLE_BUNDLES =
  'com.example.app,com.loki-project.loki-messenger,cn.soulmate.elf,com.cynet.xingqi,com.nineton.taller';
const services: ServiceDef[] = [
  {
    name: 'receiver-app-store',
    entry: 'services/receiver-app-store/main.ts',
    env: {
      PORT: '8080',
      HOST: '127.0.0.1',
      APPLE_BUNDLE_IDS: SAMPLE_BUNDLES,
      APPLE_ENVIRONMENTS: 'Production,Sandbox',
      APPLE_APP_APPLE_IDS: '6450284872,1234567890',
      APPLE_VERIFY_AT: 'signed-date',
      APPLE_V1_SHARED_SECRET: 'local-development-only',
    },
  },
  {
    name: 'receiver-play-store',
    entry: 'services/receiver-play-store/main.ts',
    env: {
      PORT: '8082',
      HOST: '127.0.0.1',
      PLAY_PACKAGE_NAMES: 'com.example.app',
      PUBSUB_AUTH: 'token',
      PUBSUB_TOKEN: 'local-development-push-token',
    },
  },
  {
    name: 'fake-play-api',
    entry: 'services/fake-play-api/main.ts',
    env: { PORT: '8099', FAKE_PLAY_TOKEN: 'local-fake-play-token' },
  },
  {
    name: 'normalizer',
    entry: 'services/normalizer/main.ts',
    env: {
      PORT: '8090',
      PLAY_API_ROOT_URL: 'http://127.0.0.1:8099',
      PLAY_API_TOKEN: 'local-fake-play-token',
    },
  },
  {
    name: 'state-aggregator',
    entry: 'services/state/main.ts',
    env: { PORT: '8091', STATE_API_KEYS: 'local-development-api-key' },
  },
  {
    name: 'churn-triggers',
    entry: 'services/triggers/main.ts',
    // Sandbox events fire in the local demo (the sample notifications are sandbox ones).
    env: { PORT: '8092', TRIGGERS_RULES_FILE: 'services/triggers/rules.local.json' },
  },
];

const children: ChildProcess[] = [];
function start(def: ServiceDef): void {
  const child = spawn(process.execPath, ['--require', 'tsx/cjs', resolve(ROOT, def.entry)], {
    env: { ...process.env, ...def.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const prefix = `[${def.name}] `;
  child.stdout?.on('data', (d: Buffer) =>
    process.stdout.write(prefix + d.toString().replace(/\n(?=.)/g, `\n${prefix}`)),
  );
  child.stderr?.on('data', (d: Buffer) =>
    process.stderr.write(prefix + d.toString().replace(/\n(?=.)/g, `\n${prefix}`)),
  );
  child.on('exit', (code, signal) => console.log(`${prefix}exited (${signal ?? code})`));
  children.push(child);
}

let stopping = false;
function stopAll(): void {
  if (stopping) return;
  stopping = true;
  console.log('stopping services…');
  for (const c of children) c.kill('SIGTERM');
  const done = () => children.every((c) => c.exitCode !== null || c.signalCode !== null);
  const timer = setInterval(() => {
    if (done()) {
      clearInterval(timer);
      process.exit(0);
    }
  }, 100);
}
process.on('SIGINT', stopAll);
process.on('SIGTERM', stopAll);

for (const s of services) start(s);
console.log(
  [
    `Storeline is running on the local stack (KAFKA_BROKERS=${process.env.KAFKA_BROKERS}, SCHEMA_REGISTRY_URL=${process.env.SCHEMA_REGISTRY_URL})`,
    '  App Store receiver   http://127.0.0.1:8080/app-store/v2  (and /app-store/v1)',
    '  Play receiver        http://127.0.0.1:8082/play-store/pubsub?token=local-development-push-token',
    '  fake Play API        http://127.0.0.1:8099  (PUT /_fake/subscriptions/<token> sets what the API answers)',
    '  normalizer           http://127.0.0.1:8090/readyz',
    '  state query API      http://127.0.0.1:8091/v1/subscriptions/<subscriptionKey>  (Authorization: Bearer local-development-api-key)',
    '  every service        /healthz /readyz /metrics',
    'Ctrl-C stops the services; `npm run stack:down` stops the stack.',
  ].join('\n'),
);
