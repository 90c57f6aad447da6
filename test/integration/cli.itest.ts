/**
 * `storeline normalize` as a real process: the 14 real samples verify against the bundled Apple root at
 * their signedDate and print the spec's events; forged files exit 3 naming the check; malformed exit 2.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { notification } from '../../services/app-store/testing';
import { createPki, signedBody } from '../support/appleSigning';
import { REAL_BUNDLES, REAL_SAMPLES } from '../support/appStore';

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

describe('storeline normalize (CLI)', () => {
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
