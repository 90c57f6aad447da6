/**
 * `storeline normalize` as a real process: the 14 real samples verify against the bundled Apple root at
 * their signedDate and print the spec's events; forged files exit 3 naming the check; malformed exit 2.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { notification } from '../kit/builders/appStore';
import { createPki, signedBody } from '../kit/appleSigning';
import { REAL_BUNDLES, REAL_SAMPLES } from '../support/appStore';
import { spawn } from 'node:child_process';
import { envelope, rtdn, sub } from '../kit/builders/play';
import { PLAY_STORE_FIXTURES } from '../kit/fixtures';
import { PLAY_TOKEN, startFakePlay } from '../support/play';
import { codecFor, createRegistry } from '../../lib/platform/avro';
import type { SubscriptionEvent } from '../../lib/core/generated/avro';
import { stackEnv } from '../support/env';
import { sampleEvent } from '../kit/builders/events';
import { createCatalogTopics, testKafka } from '../support/kafka';

const CLI = resolve(__dirname, '../../services/cli/main.ts');

function storeline(...args: string[]) {
  const r = spawnSync(process.execPath, ['--require', 'tsx/cjs', CLI, ...args], { encoding: 'utf8' });
  return {
    status: r.status,
    stdout: r.stdout,
    stderr: r.stderr,
    events: r.stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l)),
  };
}

/** Async spawn: the fake Play API runs in this process, so the CLI must not block the event loop. */
function storelineAsync(
  ...args: string[]
): Promise<{ status: number | null; stdout: string; stderr: string; events: Record<string, unknown>[] }> {
  return new Promise((res) => {
    const child = spawn(process.execPath, ['--require', 'tsx/cjs', CLI, ...args]);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('exit', (status) =>
      res({
        status,
        stdout,
        stderr,
        events: stdout
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l)),
      }),
    );
  });
}

describe('storeline normalize (CLI)', () => {
  it('processes Pub/Sub envelope files in order against the Play API and prints only the diff events', async () => {
    const fake = await startFakePlay();
    const dir = mkdtempSync(join(tmpdir(), 'storeline-cli-'));
    try {
      fake.state.subscriptions.set('tok-1', sub('ACTIVE'));
      const files = [
        ['1-purchased.json', envelope(rtdn(4), 'm-1')],
        ['2-duplicate.json', envelope(rtdn(4), 'm-1')],
        ['3-renewed-nothing-new.json', envelope(rtdn(2), 'm-2')],
      ].map(([name, body]) => {
        const f = join(dir, name as string);
        writeFileSync(f, JSON.stringify(body));
        return f;
      });
      const realTest = resolve(PLAY_STORE_FIXTURES, 'pubsub-envelope-real-test-notification.json');
      const r = await storelineAsync(
        'normalize',
        '--play-api-url',
        fake.url,
        '--play-api-token',
        PLAY_TOKEN,
        ...files,
        realTest,
      );
      expect(r.stderr).toMatch(/no --bundle-id/);
      expect(r.status).toBe(0);
      expect(r.events.map((e) => [e.type, e.subscriptionKey])).toEqual([
        ['SUBSCRIPTION_STARTED', 'play_store:tok-1'],
        ['TEST', expect.stringMatching(/^play_store:app:/)],
      ]);
      expect(fake.state.acknowledged).toEqual([]); // inspecting files never acknowledges
      const noToken = await storelineAsync('normalize', files[0]!);
      expect(noToken.status).toBe(2);
      expect(noToken.stderr).toMatch(
        /not processed: a Google Play Pub\/Sub envelope.*needs --play-api-token/,
      );
      expect(noToken.stderr).not.toMatch(/malformed/);
    } finally {
      await fake.close();
    }
  });

  it('verifies the 14 real samples and prints their canonical events as JSON lines', () => {
    const r = storeline(
      'normalize',
      ...REAL_BUNDLES.flatMap((b) => ['--bundle-id', b]),
      ...REAL_SAMPLES.map((s) => s.path),
    );
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.events.map((e) => e.type)).toEqual([
      'RENEWED',
      'SUBSCRIPTION_STARTED',
      'SUBSCRIPTION_STARTED',
      'AUTO_RENEW_DISABLED',
      'EXPIRED',
      'PLAN_CHANGED',
      'PLAN_CHANGE_SCHEDULED',
      'PLAN_CHANGE_CANCELED',
      'REFUND_REQUESTED',
      'REFUNDED',
      'ONE_TIME_PURCHASE',
      'REFUND_REQUESTED',
      'REFUNDED',
      'TEST',
    ]);
    // Field names as in the Avro schema, in its order; enums as strings; times as epoch ms.
    expect(Object.keys(r.events[0]).slice(0, 4)).toEqual(['eventId', 'type', 'store', 'environment']);
    expect(r.events[0]).toMatchObject({
      store: 'APP_STORE',
      environment: 'SANDBOX',
      occurredAt: expect.any(Number),
    });
  });

  it('warns on stderr when no --bundle-id is given', () => {
    const r = storeline('normalize', REAL_SAMPLES[0]!.path);
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/no --bundle-id/);
    expect(r.events).toHaveLength(1);
  });

  it('exits 3 naming the file and the check when authentication fails, printing nothing for it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'storeline-cli-'));
    const pki = await createPki();
    const forged = join(dir, 'forged.json');
    writeFileSync(forged, signedBody(notification('DID_RENEW'), pki)); // test CA is not trusted by default
    const r = storeline('normalize', '--bundle-id', 'com.example.app', REAL_SAMPLES[0]!.path, forged);
    expect(r.status).toBe(3);
    expect(r.stderr).toMatch(/forged\.json: authentication failed \(chain\)/);
    expect(r.events).toHaveLength(0); // the real sample's bundleId is not allowed here either
    expect(r.stderr).toMatch(/01_DID_RENEW\.json: authentication failed \(bundle\)/);

    // Trusting the test root makes the same file pass.
    const root = join(dir, 'root.der');
    writeFileSync(root, pki.rootDer);
    const ok = storeline('normalize', '--apple-root', root, '--bundle-id', 'com.example.app', forged);
    expect(ok.status).toBe(0);
    expect(ok.events.map((e) => e.type)).toEqual(['RENEWED']);

    const v1 = join(dir, 'v1.json');
    writeFileSync(
      v1,
      JSON.stringify({
        notification_type: 'DID_RENEW',
        password: 'right-secret',
        environment: 'Sandbox',
        bid: 'com.example.app',
      }),
    );
    expect(
      storeline('normalize', '--bundle-id', 'com.example.app', '--shared-secret', 'wrong-secret', v1),
    ).toMatchObject({ status: 3 });
    expect(
      storeline(
        'normalize',
        '--bundle-id',
        'com.example.app',
        '--shared-secret',
        'right-secret',
        v1,
      ).events.map((e) => e.type),
    ).toEqual(['RENEWED']);
  });

  it('exits 2 for a malformed file, and checks now-dated validity with --verify-at now', () => {
    const dir = mkdtempSync(join(tmpdir(), 'storeline-cli-'));
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{"signedPayload": ');
    expect(storeline('normalize', bad)).toMatchObject({ status: 2 });
    // The TEST sample's leaf expired 2025-10-11: valid at its signedDate, not now.
    const r = storeline('normalize', '--verify-at', 'now', REAL_SAMPLES[13]!.path);
    expect(r.status).toBe(3);
    expect(r.stderr).toMatch(/authentication failed \(validity\)/);
  });
});

describe('storeline tail and usage (CLI)', () => {
  it('prints the canonical topic from the beginning as JSON, filtered by type, and stops at the end', async () => {
    const kafka = testKafka();
    const names = await createCatalogTopics(kafka);
    const codec = codecFor<SubscriptionEvent>(
      createRegistry(stackEnv().registryUrl),
      names,
      'subscriptionEvents',
    );
    await codec.register();
    const events = ['SUBSCRIPTION_STARTED', 'RENEWED', 'EXPIRED', 'RENEWED'].map((type, i) =>
      sampleEvent({ type: type as SubscriptionEvent['type'], eventId: `app_store:tail-${i}:0` }),
    );
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({
      topic: names.name('subscriptionEvents'),
      messages: events.map((e) => ({ key: e.subscriptionKey, value: codec.encode(e) })),
    });
    await producer.disconnect();

    const env = {
      ...process.env,
      KAFKA_BROKERS: stackEnv().brokers.join(','),
      SCHEMA_REGISTRY_URL: stackEnv().registryUrl,
      TOPIC_PREFIX: names.prefix,
    };
    const r = await storelineAsyncEnv(
      env,
      'tail',
      '--from-beginning',
      '--type',
      'renewed,expired',
      '--until-end',
    );
    expect(r.status).toBe(0);
    expect(r.events).toEqual([events[1], events[2], events[3]]);
    const limited = await storelineAsyncEnv(env, 'tail', '--from-beginning', '--limit', '1');
    expect(limited.events).toEqual([events[0]]);
  });

  it('exits 2 with the usage when no command or an unknown one is given, 0 for --help', () => {
    const none = storeline();
    expect(none.status).toBe(2);
    expect(none.stderr).toMatch(/usage: storeline <command>[\s\S]*tail/);
    expect(storeline('frobnicate').status).toBe(2);
    const help = spawnSync(process.execPath, ['--require', 'tsx/cjs', CLI, '--help'], { encoding: 'utf8' });
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/usage: storeline <command>/);
  });
});

function storelineAsyncEnv(env: NodeJS.ProcessEnv, ...args: string[]) {
  return new Promise<{ status: number | null; stderr: string; events: Record<string, unknown>[] }>((res) => {
    const child = spawn(process.execPath, ['--require', 'tsx/cjs', CLI, ...args], { env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('exit', (status) =>
      res({
        status,
        stderr,
        events: stdout
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l)),
      }),
    );
  });
}
