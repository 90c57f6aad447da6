/**
 * Runs every Storeline service as its own process against the local stack, plus a demo webhook endpoint,
 * and shows a live tail: one line per canonical event and per webhook delivery. Each service's JSON logs
 * go to .stack/logs/<service>.log; warnings and errors are also printed here. Ctrl-C / SIGTERM stops
 * everything. The stack itself keeps running (`npm run stack:down` stops it).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { DEMO_ROOT_FILE, demoPki } from './local/demoPki';
import { demoEndpoint, tailCanonical } from './local/tail';

interface ServiceDef {
  name: string;
  entry: string;
  port: number;
  env: Record<string, string>;
}

const ROOT = resolve(__dirname, '..');
const LOGS = resolve(ROOT, '.stack/logs');
// Per run, never committed: the demo endpoint and the fan-out share it through the environment.
const DEMO_SECRET = `whsec_${randomBytes(32).toString('base64')}`;
const DEMO_PORT = 8094;

// Local-only settings. APPLE_VERIFY_AT=signed-date lets the recorded Apple samples (whose leaf certificate
// has since expired) verify; production runs with `now`. The V1 secret is a placeholder for local use.
const SAMPLE_BUNDLES =
  'com.example.app,com.loki-project.loki-messenger,cn.soulmate.elf,com.cynet.xingqi,com.nineton.taller';
const LOCAL_SERVICES: ServiceDef[] = [
  {
    name: 'receiver-app-store',
    entry: 'services/receiver-app-store/main.ts',
    port: 8080,
    env: {
      HOST: '127.0.0.1',
      APPLE_BUNDLE_IDS: SAMPLE_BUNDLES,
      APPLE_ENVIRONMENTS: 'Production,Sandbox',
      APPLE_APP_APPLE_IDS: '6450284872,1234567890',
      APPLE_VERIFY_AT: 'signed-date',
      APPLE_V1_SHARED_SECRET: 'local-development-only',
      // The demo's Apple-shaped test root (scripts/local/demoPki.ts), trusted beside Apple's for demo:backfill.
      APPLE_ROOT_CERTS: DEMO_ROOT_FILE,
    },
  },
  {
    name: 'receiver-play-store',
    entry: 'services/receiver-play-store/main.ts',
    port: 8082,
    env: {
      HOST: '127.0.0.1',
      PLAY_PACKAGE_NAMES: 'com.example.app',
      PUBSUB_AUTH: 'token',
      PUBSUB_TOKEN: 'local-development-push-token',
    },
  },
  {
    name: 'fake-play-api',
    entry: 'services/fake-play-api/main.ts',
    port: 8099,
    env: { FAKE_PLAY_TOKEN: 'local-fake-play-token' },
  },
  {
    name: 'normalizer',
    entry: 'services/normalizer/main.ts',
    port: 8090,
    env: { PLAY_API_ROOT_URL: 'http://127.0.0.1:8099', PLAY_API_TOKEN: 'local-fake-play-token' },
  },
  {
    name: 'state-aggregator',
    entry: 'services/state/main.ts',
    port: 8091,
    env: { STATE_API_KEYS: 'local-development-api-key' },
  },
  {
    name: 'churn-triggers',
    entry: 'services/triggers/main.ts',
    port: 8092,
    // Sandbox events fire in the local demo (the sample notifications are sandbox ones).
    env: { TRIGGERS_RULES_FILE: 'services/triggers/rules.local.json' },
  },
  {
    name: 'webhook-fanout',
    entry: 'services/webhook-fanout/main.ts',
    port: 8093,
    env: {
      WEBHOOK_API_KEYS: 'local-development-admin-key',
      WEBHOOK_ENDPOINTS_FILE: 'services/webhook-fanout/endpoints.local.json',
      LOCAL_DEMO_WEBHOOK_SECRET: DEMO_SECRET,
      WEBHOOK_INCLUDE_TRIGGERS: 'true',
      // The demo endpoint is on loopback: allowed explicitly, as the SSRF guard refuses it otherwise.
      WEBHOOK_ALLOWED_CIDRS: '127.0.0.1/32',
    },
  },
  {
    name: 'console',
    entry: 'services/console/main.ts',
    port: 8096,
    env: {
      HOST: '127.0.0.1',
      // Local-only keys (docs/console.md): one admin, one read-only operator.
      CONSOLE_OPERATORS: JSON.stringify([
        { name: 'local-admin', key: 'local-console-admin-key', role: 'admin' },
        { name: 'local-viewer', key: 'local-console-viewer-key', role: 'read-only' },
      ]),
      WEBHOOK_ALLOWED_CIDRS: '127.0.0.1/32',
    },
  },
  // Opt-in: it sends customer data to Apple, so it needs REFUND_RESPONDER_ENABLED=true and the App Store
  // Server API credentials (APPLE_*, or APP_STORE_API_URL pointing at a fake) in this shell's environment;
  // started without them it would only exit and be restarted in a loop.
  ...(process.env.REFUND_RESPONDER_ENABLED === 'true'
    ? [
        {
          name: 'refund-responder',
          entry: 'services/refund-responder/main.ts',
          port: 8097,
          env: { REFUND_RESPONDER_API_KEYS: 'local-development-refund-key' },
        },
      ]
    : []),
];

/** The live process of each service (replaced when the supervisor restarts one). */
const children = new Map<string, ChildProcess>();

/** Prints a service's warnings and errors (JSON log lines at level >= 40) and anything that is not JSON. */
function echoImportant(name: string, chunk: string, partial: { rest: string }): void {
  const lines = (partial.rest + chunk).split('\n');
  partial.rest = lines.pop() ?? '';
  for (const line of lines) {
    if (!line.trim()) continue;
    try {
      const j = JSON.parse(line) as { level?: number; msg?: string; err?: { message?: string } };
      // kafkajs warns whenever an idempotent producer has bounded retries; ours are bounded on purpose
      // (lib/platform/kafka.ts), so the terminal skips it (the log file keeps it).
      if (j.msg?.startsWith('Limiting retries for the idempotent producer')) continue;
      if ((j.level ?? 0) >= 40) {
        console.log(
          `[${name}] ${j.level! >= 50 ? 'ERROR' : 'WARN'} ${j.msg ?? ''}${j.err?.message ? `: ${j.err.message}` : ''}`,
        );
      }
    } catch {
      console.log(`[${name}] ${line}`);
    }
  }
}

/**
 * Starts a service and, like a process supervisor (systemd Restart=always, a Kubernetes pod), starts it
 * again when it exits on its own: after 1 s, doubling to 30 s while it keeps dying within a minute.
 */
function start(def: ServiceDef, backoffMs = 1000): void {
  const startedAt = Date.now();
  const log = createWriteStream(resolve(LOGS, `${def.name}.log`), { flags: 'a' });
  const child = spawn(process.execPath, ['--require', 'tsx/cjs', resolve(ROOT, def.entry)], {
    env: { ...process.env, PORT: String(def.port), ...def.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  for (const stream of [child.stdout, child.stderr]) {
    const partial = { rest: '' };
    stream?.on('data', (d: Buffer) => {
      log.write(d);
      echoImportant(def.name, d.toString(), partial);
    });
  }
  child.on('exit', (code, signal) => {
    log.end();
    if (stopping) return;
    const wait = Date.now() - startedAt > 60_000 ? 1000 : backoffMs;
    console.log(
      `[${def.name}] exited (${signal ?? code}); restarting in ${wait} ms (see .stack/logs/${def.name}.log)`,
    );
    setTimeout(() => {
      if (!stopping) start(def, Math.min(wait * 2, 30_000));
    }, wait);
  });
  children.set(def.name, child);
}

async function waitReady(timeoutMs = 180_000): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  const pending = new Set(LOCAL_SERVICES.filter((s) => s.name !== 'fake-play-api'));
  while (pending.size > 0 && Date.now() < deadline && !stopping) {
    for (const s of [...pending]) {
      const ok = await fetch(`http://127.0.0.1:${s.port}/readyz`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) pending.delete(s);
    }
    if (pending.size > 0) await new Promise((r) => setTimeout(r, 500));
  }
  return [...pending].map((s) => s.name);
}

let stopping = false;
let stopTail: (() => Promise<void>) | undefined;
function stopAll(): void {
  if (stopping) return;
  stopping = true;
  console.log('stopping services…');
  const all = [...children.values()];
  for (const c of all) c.kill('SIGTERM');
  void stopTail?.().catch(() => undefined);
  const done = () => all.every((c) => c.exitCode !== null || c.signalCode !== null);
  const timer = setInterval(() => {
    if (done()) {
      clearInterval(timer);
      const failed = all.filter((c) => c.exitCode !== 0 && c.signalCode === null);
      process.exit(failed.length > 0 ? 1 : 0);
    }
  }, 100);
}

async function main(): Promise<void> {
  process.on('SIGINT', stopAll);
  process.on('SIGTERM', stopAll);
  mkdirSync(LOGS, { recursive: true });
  await demoPki(); // before the receiver starts: it trusts the demo root (APPLE_ROOT_CERTS)
  const demo = await demoEndpoint(DEMO_PORT, DEMO_SECRET);
  process.on('exit', () => demo.close());
  for (const s of LOCAL_SERVICES) start(s);
  console.log(
    [
      `Storeline is starting on the local stack (KAFKA_BROKERS=${process.env.KAFKA_BROKERS}, SCHEMA_REGISTRY_URL=${process.env.SCHEMA_REGISTRY_URL})`,
      '  App Store receiver   http://127.0.0.1:8080/app-store/v2  (and /app-store/v1)',
      '  Play receiver        http://127.0.0.1:8082/play-store/pubsub?token=local-development-push-token',
      '  fake Play API        http://127.0.0.1:8099  (PUT /_fake/subscriptions/<token> sets what the API answers)',
      '  normalizer           http://127.0.0.1:8090/readyz',
      '  state query API      http://127.0.0.1:8091/v1/subscriptions/<subscriptionKey>  (Authorization: Bearer local-development-api-key)',
      '  churn-triggers       http://127.0.0.1:8092/readyz',
      '  webhook admin API    http://127.0.0.1:8093/v1/endpoints  (Authorization: Bearer local-development-admin-key)',
      `  demo webhook target  http://127.0.0.1:${DEMO_PORT}/webhooks  (endpoint "local-demo", secret generated per run)`,
      '  console              http://127.0.0.1:8096/  (operator key local-console-admin-key; read-only: local-console-viewer-key)',
      process.env.REFUND_RESPONDER_ENABLED === 'true'
        ? '  refund responder     http://127.0.0.1:8097/refund-requests  (Authorization: Bearer local-development-refund-key)'
        : '  refund responder     off (opt-in: REFUND_RESPONDER_ENABLED=true and APPLE_*, see docs/toolkit.md)',
      '  every service        /healthz /readyz /metrics; logs in .stack/logs/',
      'Ctrl-C stops the services; `npm run stack:down` stops the stack.',
    ].join('\n'),
  );
  const notReady = await waitReady();
  if (stopping) return;
  if (notReady.length > 0) {
    console.log(`not ready after 3 minutes: ${notReady.join(', ')} (see .stack/logs/)`);
  }
  stopTail = await tailCanonical({
    brokers: (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(','),
    registryUrl: process.env.SCHEMA_REGISTRY_URL ?? 'http://127.0.0.1:8081/apis/ccompat/v7',
  });
  console.log('all services ready. Live tail below; in another terminal: npm run demo:send');
}

main().catch((err) => {
  console.error(err);
  stopAll();
});
