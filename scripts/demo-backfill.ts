/**
 * `npm run demo:backfill`: with `npm start` running, shows a backfill recovering App Store notifications the
 * receiver never got. It signs six notifications of two subscriptions with the demo PKI (scripts/local/
 * demoPki.ts, which `npm start`'s receiver trusts), posts three to the receiver as Apple would, and keeps the
 * other three back: the receiver "was down". A local fake of the App Store Server API holds all six in its
 * notification history, and `storeline backfill app-store` reads it: three already seen, three new, whose
 * events then reach the state. Local use only; nothing here touches Apple.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runBackfillAppStore } from '../services/cli/backfillAppStore';
import { createFakeAppStoreApi } from '../services/fake-app-store-api/app';
import { signedBody } from '../test/kit/appleSigning';
import { createApiKey, historyItem } from '../test/kit/appStoreServerApi';
import { notification } from '../test/kit/builders/appStore';
import { DEMO_ROOT_FILE, demoPki } from './local/demoPki';

const RECEIVER = 'http://127.0.0.1:8080/app-store/v2';
const STATE_API = 'http://127.0.0.1:8091';
const BUNDLE = 'com.example.app';
const HOUR = 3_600_000;

/** Six notifications of two fresh subscriptions, signed over the last few hours, oldest first. */
function scenario() {
  const otid = () => `7${Date.now().toString().slice(-9)}${Math.floor(Math.random() * 1e5)}`;
  const [a, b] = [otid(), otid()];
  const at = (h: number) => Date.now() - h * HOUR;
  const make = (type: string, subtype: string | undefined, id: string, hoursAgo: number, status = 1) => {
    const n = notification(type, subtype, {
      status,
      tx: { originalTransactionId: id, transactionId: `${id}${hoursAgo}`, bundleId: BUNDLE },
      renewal: {
        originalTransactionId: id,
        autoRenewStatus: type === 'DID_RENEW' || type === 'SUBSCRIBED' ? 1 : 0,
      },
    });
    n.payload.notificationUUID = randomUUID();
    n.payload.signedDate = at(hoursAgo);
    return { n, key: `app_store:${id}`, label: `${type}${subtype ? `/${subtype}` : ''} app_store:${id}` };
  };
  return [
    { ...make('SUBSCRIBED', 'INITIAL_BUY', a, 5), delivered: true },
    { ...make('SUBSCRIBED', 'INITIAL_BUY', b, 5), delivered: true },
    { ...make('DID_RENEW', undefined, a, 4), delivered: true },
    { ...make('DID_CHANGE_RENEWAL_STATUS', 'AUTO_RENEW_DISABLED', b, 3), delivered: false },
    { ...make('DID_RENEW', undefined, a, 2), delivered: false },
    { ...make('EXPIRED', 'VOLUNTARY', b, 1, 2), delivered: false },
  ];
}

interface Summary {
  status: string;
  autoRenew: boolean | null;
  renewalCount: number;
  lastEventType: string;
}

async function stateOf(key: string): Promise<Summary | undefined> {
  const r = await fetch(`${STATE_API}/v1/subscriptions/${key}`, {
    headers: { authorization: 'Bearer local-development-api-key' },
  });
  if (!r.ok) return undefined;
  return ((await r.json()) as { state?: Summary }).state;
}

const line = (key: string, s: Summary | undefined) =>
  `   ${key}: ${s ? `${s.status}, auto-renew ${s.autoRenew}, ${s.renewalCount} renewals, last ${s.lastEventType}` : 'unknown'}`;

async function waitFor<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}; is \`npm start\` running?`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

async function main(): Promise<void> {
  const pki = await demoPki();
  const steps = scenario();
  const keys = [...new Set(steps.map((s) => s.key))];

  console.log('1. Apple pushes; the receiver is up for the first three, down for the rest:');
  for (const s of steps) {
    if (!s.delivered) {
      console.log(`   ${s.label.padEnd(62)} -> never arrived`);
      continue;
    }
    const r = await fetch(RECEIVER, {
      method: 'POST',
      body: signedBody(s.n, pki),
      headers: { 'content-type': 'application/json' },
    });
    console.log(`   ${s.label.padEnd(62)} -> ${r.status}`);
    if (r.status !== 200) throw new Error(`the receiver answered ${r.status}; is \`npm start\` running?`);
  }
  await waitFor('the delivered notifications in the state API', async () =>
    (await Promise.all(keys.map(stateOf))).every(Boolean) ? true : undefined,
  );
  for (const k of keys) console.log(line(k, await stateOf(k)));

  // Apple's notification history holds every notification, delivered or not.
  const key = createApiKey({ bundleId: BUNDLE });
  const { app, state } = createFakeAppStoreApi({ ...key, pageSize: 4 });
  state.history = steps.map((s) => historyItem(s.n, pki));
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const dir = mkdtempSync(join(tmpdir(), 'storeline-demo-backfill-'));
  writeFileSync(join(dir, 'key.p8'), key.privatePem, { mode: 0o600 });
  try {
    console.log(
      '\n2. storeline backfill app-store --since 6h (against a local fake of the App Store Server API):',
    );
    const code = await runBackfillAppStore(
      [
        '--since', '6h',
        '--environment', 'sandbox',
        '--api-url', `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        '--issuer-id', key.issuerId,
        '--key-id', key.keyId,
        '--private-key', join(dir, 'key.p8'),
        '--bundle-id', BUNDLE,
        '--apple-root', DEMO_ROOT_FILE,
        '--checkpoint', join(dir, 'checkpoint.json'),
      ], // prettier-ignore
      {
        ...process.env,
        DATABASE_URL: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/storeline',
      },
    );
    if (code !== 0) throw new Error(`the backfill exited with ${code}`);
  } finally {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }

  console.log('\n3. The recovered notifications reach the state:');
  await waitFor('the recovered events in the state API', async () => {
    const [a, b] = await Promise.all(keys.map(stateOf));
    return a?.renewalCount === 2 && b?.status === 'EXPIRED' ? true : undefined;
  });
  for (const k of keys) console.log(line(k, await stateOf(k)));
  console.log(
    'Run it again: a new scenario each time; the npm start terminal shows each recovered event once.',
  );
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
