/**
 * `npm run demo:send`: with `npm start` running, posts the 14 real App Store samples (test/fixtures) and
 * a Play Store scenario (purchase, then cancel) through the receivers, then shows the resulting state and
 * webhook deliveries. Everything it uses is the local default; nothing here is for production. Exits
 * non-zero when the samples are incomplete or a receiver refuses one.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { envelope, rtdn, sub } from '../test/kit/builders/play';
import { APP_STORE_FIXTURES } from '../test/kit/fixtures';

const APPLE_DIR = resolve(APP_STORE_FIXTURES, 'real');
const APPLE_SAMPLE_COUNT = 14;
const RECEIVER_APPLE = 'http://127.0.0.1:8080/app-store/v2';
const RECEIVER_PLAY = 'http://127.0.0.1:8082/play-store/pubsub?token=local-development-push-token';
const FAKE_PLAY = 'http://127.0.0.1:8099';
const STATE_API = 'http://127.0.0.1:8091';
const ADMIN_API = 'http://127.0.0.1:8093';

async function waitFor<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}; is \`npm start\` running?`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

async function post(url: string, body: string | Buffer): Promise<number> {
  const res = await fetch(url, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
  return res.status;
}

async function main(): Promise<void> {
  const appleSamples = existsSync(APPLE_DIR)
    ? readdirSync(APPLE_DIR)
        .filter((f) => /^\d\d_[^.]+\.json$/.test(f))
        .sort()
    : [];
  if (appleSamples.length !== APPLE_SAMPLE_COUNT) {
    throw new Error(
      `expected ${APPLE_SAMPLE_COUNT} App Store samples in ${APPLE_DIR}, found ${appleSamples.length}`,
    );
  }

  await waitFor('the receivers and normalizer', async () => {
    const ready = await Promise.all(
      [8080, 8082, 8090, 8093].map((p) => fetch(`http://127.0.0.1:${p}/readyz`).then((r) => r.ok)),
    );
    return ready.every(Boolean) ? true : undefined;
  });

  for (const f of appleSamples) {
    const status = await post(RECEIVER_APPLE, readFileSync(resolve(APPLE_DIR, f)));
    console.log(`App Store  ${f.padEnd(52)} -> ${status}`);
    if (status !== 200) throw new Error(`the App Store receiver answered ${status} to ${f}`);
  }

  const token = `demo-${randomBytes(6).toString('hex')}`;
  const setPlay = (body: unknown) =>
    fetch(`${FAKE_PLAY}/_fake/subscriptions/${token}`, {
      method: 'PUT',
      body: JSON.stringify(body),
      headers: { 'content-type': 'application/json' },
    });
  const push = async (type: number, label: string) => {
    const status = await post(
      RECEIVER_PLAY,
      JSON.stringify(envelope(rtdn(type, token, String(Date.now())), randomBytes(8).toString('hex'))),
    );
    console.log(`Play Store ${label.padEnd(52)} -> ${status}`);
    if (status !== 204) throw new Error(`the Play Store receiver answered ${status} to ${label}`);
  };
  const expiry = new Date(Date.now() + 30 * 86_400_000).toISOString();
  await setPlay(sub('ACTIVE', { startTime: new Date().toISOString() }, { expiryTime: expiry }));
  await push(4, `SUBSCRIPTION_PURCHASED (${token})`);
  const key = `play_store:${token}`;
  await waitFor('the Play purchase in the state API', async () => {
    const r = await fetch(`${STATE_API}/v1/subscriptions/${key}`, {
      headers: { authorization: 'Bearer local-development-api-key' },
    });
    return r.ok ? true : undefined;
  });
  await setPlay(
    sub(
      'CANCELED',
      { startTime: new Date().toISOString() },
      { expiryTime: expiry, autoRenewingPlan: { autoRenewEnabled: false } },
    ),
  );
  await push(3, 'SUBSCRIPTION_CANCELED');

  const state = await waitFor('the cancellation in the state API', async () => {
    const r = await fetch(`${STATE_API}/v1/subscriptions/${key}`, {
      headers: { authorization: 'Bearer local-development-api-key' },
    });
    const j = (await r.json()) as {
      state?: { autoRenew: boolean | null; status: string; entitledNow: boolean };
    };
    return j.state?.autoRenew === false ? j.state : undefined;
  });
  console.log(
    `\nstate of ${key}: status ${state.status}, entitled now ${state.entitledNow}, auto-renew ${state.autoRenew}`,
  );

  const deliveries = await waitFor('webhook deliveries', async () => {
    const r = await fetch(`${ADMIN_API}/v1/endpoints/local-demo/deliveries?limit=500`, {
      headers: { authorization: 'Bearer local-development-admin-key' },
    });
    const j = (await r.json()) as { items: { status: string }[] };
    return j.items.some((d) => d.status === 'succeeded') ? j.items : undefined;
  });
  const byStatus = deliveries.reduce<Record<string, number>>(
    (a, d) => ({ ...a, [d.status]: (a[d.status] ?? 0) + 1 }),
    {},
  );
  console.log(`webhook deliveries to local-demo (latest 500): ${JSON.stringify(byStatus)}`);
  console.log('The npm start terminal shows one line per canonical event and per verified webhook delivery.');
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
