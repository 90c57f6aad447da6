/**
 * Storeline Console in a real browser (Debian's chromium through playwright-core) against the real stack:
 * the App Store receiver, normalizer, state aggregator and webhook fan-out run in this process on fresh
 * topics and schemas, and the console reads what they wrote. Screenshots of each page go to
 * docs/screenshots/ (the README shows them).
 */
import { randomInt, randomUUID } from 'node:crypto';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { getEndpoint } from '../../lib/adapters/webhooks/store/endpoints';
import { notification } from '../kit/builders/appStore';
import { signedBody } from '../kit/appleSigning';
import { REAL_SAMPLES } from '../support/appStore';
import { post } from '../support/http';
import { waitFor } from '../support/kafka';
import { realSampleEvents } from '../support/state';
import { Endpoint } from '../support/webhooks';
import { csrfOf, launchBrowser, screenshot, signIn } from './kit';
import { ADMIN_KEY, READER_KEY, startConsoleStack, type ConsoleStack } from './stack';

jest.setTimeout(180_000);

let stack: ConsoleStack;
let browser: Browser;
let admin: BrowserContext;
let page: Page;
const endpoints: Endpoint[] = [];

/** Posts a fresh test-signed DID_RENEW for a new subscription through the receiver; returns its key. */
async function renewal(): Promise<string> {
  const otid = String(randomInt(1e9, 2 ** 47));
  const n = notification('DID_RENEW', undefined, {
    tx: { originalTransactionId: otid, transactionId: `${otid}1` },
  });
  n.payload.notificationUUID = randomUUID();
  const res = await post(`${stack.receiverUrl}/app-store/v2`, signedBody(n, stack.pki));
  expect(res.status).toBe(200);
  return `app_store:${otid}`;
}

const cells = (p: Page, table: string, column: number) =>
  p.locator(`${table} tbody tr td:nth-child(${column})`).allTextContents();

beforeAll(async () => {
  stack = await startConsoleStack();
  browser = await launchBrowser();
  admin = await browser.newContext({ viewport: { width: 1360, height: 900 } });
  page = await admin.newPage();
});

afterAll(async () => {
  await browser?.close();
  await Promise.all(endpoints.map((e) => e.close()));
  await stack?.stop();
});

it('a request without a session gets the sign-in page; health and metrics stay open', async () => {
  const anonymous = await browser.newPage();
  try {
    await anonymous.goto(`${stack.consoleUrl}/subscribers?q=x`);
    expect(new URL(anonymous.url()).pathname).toBe('/signin');
    await expect(anonymous.getByLabel('Operator key').isVisible()).resolves.toBe(true);
    await screenshot(anonymous, 'signin');
    await anonymous.getByLabel('Operator key').fill('not-an-operator-key');
    await anonymous.getByRole('button', { name: 'Sign in' }).click();
    await expect(anonymous.getByRole('alert').textContent()).resolves.toMatch(/not an operator key/);
  } finally {
    await anonymous.close();
  }
  const action = await fetch(`${stack.consoleUrl}/webhooks`, { method: 'POST', redirect: 'manual' });
  expect(action.status).toBe(401);
  expect((await fetch(`${stack.consoleUrl}/healthz`)).status).toBe(200);
  expect((await fetch(`${stack.consoleUrl}/metrics`)).status).toBe(200);
});

it('signs in, finds an App Store subscriber from the samples and shows its timeline in order', async () => {
  for (const s of REAL_SAMPLES)
    expect((await post(`${stack.receiverUrl}/app-store/v2`, s.body)).status).toBe(200);
  // The sample subscription with the most events; its timeline must list them by store time.
  const byKey = new Map<string, { type: string; occurredAt: number; eventId: string }[]>();
  for (const e of realSampleEvents().filter((x) => !x.subscriptionKey.includes(':app:'))) {
    byKey.set(e.subscriptionKey, [...(byKey.get(e.subscriptionKey) ?? []), e]);
  }
  const [key, events] = [...byKey].sort((a, b) => b[1].length - a[1].length)[0]!;
  const expected = events
    .sort((a, b) => a.occurredAt - b.occurredAt || a.eventId.localeCompare(b.eventId))
    .map((e) => e.type);
  await waitFor('the samples to be folded', async () => {
    const r = await stack.statePool.query(
      'SELECT count(*)::int AS n FROM subscription_events WHERE subscription_key = $1',
      [key],
    );
    return r.rows[0].n === expected.length;
  });

  await signIn(page, stack.consoleUrl, ADMIN_KEY, '/subscribers');
  expect(new URL(page.url()).pathname).toBe('/subscribers');
  await page.getByLabel(/subscriptionKey, appUserId/).fill(key.replace('app_store:', ''));
  await page.getByRole('button', { name: 'Search' }).click();
  await page.waitForURL(`**/subscribers/${encodeURIComponent(key)}`);
  await expect(page.getByRole('heading', { name: /entitled now/i }).textContent()).resolves.toMatch(
    /entitled now/i,
  );
  expect(await cells(page, 'section[aria-labelledby="h-timeline"] table', 3)).toEqual(expected);
  await screenshot(page, 'subscriber');

  await page.getByRole('link', { name: 'raw notification' }).first().click();
  await page.waitForURL('**/raw?**');
  const raw = await page.locator('pre.raw').textContent();
  expect(raw).toContain('signedPayload (decoded, UNVERIFIED)');
  expect(raw).toContain('"notificationType"');
  await screenshot(page, 'raw-notification');
});

it('shows a new notification in the live stream, and holds it while paused', async () => {
  await page.goto(`${stack.consoleUrl}/stream?store=APP_STORE`);
  await page.locator('#stream-status', { hasText: 'live' }).waitFor();
  const key = await renewal();
  await page.locator('#stream tbody tr', { hasText: key }).waitFor();
  expect(
    await page.locator('#stream tbody tr', { hasText: key }).locator('td:nth-child(2)').textContent(),
  ).toBe('RENEWED');
  await screenshot(page, 'stream');

  await page.getByRole('button', { name: 'Pause' }).click();
  const held = await renewal();
  await page.locator('#stream-status', { hasText: 'paused (1 new)' }).waitFor();
  expect(await page.locator('#stream tbody tr', { hasText: held }).count()).toBe(0);
  await page.getByRole('button', { name: 'Resume' }).click();
  await page.locator('#stream tbody tr', { hasText: held }).waitFor();
});

it('creates an endpoint (secret shown once), shows its delivery and replays it', async () => {
  const hook = await new Endpoint('console').start();
  endpoints.push(hook);
  await page.goto(`${stack.consoleUrl}/webhooks`);
  await page.getByLabel('URL').fill(hook.url);
  await page.getByLabel('Description').fill('console test endpoint');
  await page.getByLabel(/Event types/).fill('subscription.RENEWED');
  await page.getByRole('button', { name: 'Create endpoint' }).click();
  const secret = await page.locator('#secret').textContent();
  expect(secret).toMatch(/^whsec_/);
  const endpointId = await page.locator('table a[href^="/webhooks/"]').first().textContent();
  await screenshot(page, 'webhooks');
  await page.goto(`${stack.consoleUrl}/webhooks`);
  expect(await page.locator('#secret').count()).toBe(0);

  const key = await renewal();
  await waitFor('the delivery', () => hook.hits.length === 1);
  await page.goto(`${stack.consoleUrl}/webhooks/${endpointId}`);
  const row = page.locator('tbody tr', { hasText: key });
  await waitFor('the delivery to show as succeeded', async () => {
    await page.reload();
    return (await row.locator('td:nth-child(4)').textContent()) === 'succeeded';
  });
  await row.getByRole('button', { name: 'Replay' }).click();
  await page
    .getByRole('status')
    .filter({ hasText: /replayed/ })
    .waitFor();
  await waitFor('the replayed delivery', () => hook.hits.length === 2);
  expect(hook.hits[1]!.id).toBe(hook.hits[0]!.id);

  await page.getByLabel('Event types').fill('subscription.RENEWED, subscription.EXPIRED');
  await page.getByLabel('Environments').fill('sandbox');
  await page.getByRole('button', { name: 'Save filters' }).click();
  await page
    .getByRole('status')
    .filter({ hasText: /Filters of .* saved/ })
    .waitFor();
  expect(await getEndpoint(stack.webhookPool, endpointId!)).toMatchObject({
    eventTypes: ['subscription.RENEWED', 'subscription.EXPIRED'],
    environments: ['SANDBOX'],
    appIds: null,
  });

  await page.locator('tbody tr', { hasText: key }).getByRole('link').first().click();
  await waitFor('both attempts to be logged', async () => {
    await page.reload();
    return (await cells(page, 'table', 5)).filter((o) => o === 'success').length === 2;
  });
  await screenshot(page, 'delivery');
});

it('shows a poison record in its DLQ with reason and stage, and counts it in /metrics', async () => {
  const producer = stack.kafka.producer();
  await producer.connect();
  await producer.send({
    topic: stack.names.name('rawAppStore'),
    messages: [
      {
        key: 'poison',
        value: JSON.stringify({ signedPayload: 'aGVhZGVy.bm90LWpzb24.c2ln' }),
        headers: { format: 'app-store-v2', 'received-at': '1' },
      },
    ],
  });
  await producer.disconnect();
  const dlq = stack.names.name('rawAppStoreDlq');
  await page.goto(`${stack.consoleUrl}/dlq/rawAppStoreDlq`);
  const row = page.locator('tbody tr', { hasText: 'poison' });
  await waitFor('the poison record in its DLQ', async () => {
    await page.reload();
    return (await row.count()) === 1;
  });
  expect(await row.locator('td:nth-child(3)').textContent()).toBe('decode');
  expect(await row.locator('td:nth-child(4)').textContent()).toMatch(/signedPayload does not decode/);
  await expect(row.getByRole('button', { name: 'Re-drive' }).count()).resolves.toBe(1);
  await screenshot(page, 'dead-letters');
  await row.getByRole('link').first().click();
  await expect(page.locator('pre.raw').textContent()).resolves.toContain('aGVhZGVy.bm90LWpzb24.c2ln');

  await stack.refreshDlqCounts();
  const metrics = await (await fetch(`${stack.consoleUrl}/metrics`)).text();
  // The reason label is the DLQ's reason header, first line: the error class, then the message.
  const line = metrics.split('\n').find((l) => l.startsWith(`storeline_dlq_records{topic="${dlq}"`));
  expect(line).toMatch(/reason="PoisonMessageError: signedPayload does not decode.*\} 1$/);

  // Re-drive (the toolkit's): back to the raw topic, where the normalizer dead-letters it again.
  await page.goto(`${stack.consoleUrl}/dlq/rawAppStoreDlq`);
  await page.getByRole('button', { name: 'Re-drive' }).click();
  await page
    .getByRole('status')
    .filter({ hasText: `Re-drove 0@0 to ${stack.names.name('rawAppStore')}` })
    .waitFor();
  await waitFor('the re-driven record dead-lettered again', async () => {
    await page.reload();
    return (await page.locator('tbody tr', { hasText: 'poison' }).count()) === 2;
  });
});

it('draws the overview charts, lag included', async () => {
  await page.goto(`${stack.consoleUrl}/`);
  // Which canvases Chart.js drew on (a string: the test's TypeScript has no DOM types).
  const drawn = (await page.evaluate(
    `[...document.querySelectorAll('canvas[data-chart]')].filter((c) => Chart.getChart(c)).map((c) => c.dataset.chart)`,
  )) as string[];
  expect(drawn).toEqual(expect.arrayContaining(['eventsPerMinute', 'byStatus', 'lag', 'dlq', 'webhooks']));
  const lagLabels = await page.locator('figure:has(#chart-lag) details th').allTextContents();
  expect(lagLabels.some((l) => l.startsWith(stack.groups.normalizer))).toBe(true);
  await screenshot(page, 'overview');
});

it('a read-only operator sees no action and is refused one (403)', async () => {
  const reader = await browser.newContext();
  const p = await reader.newPage();
  try {
    await signIn(p, stack.consoleUrl, READER_KEY, '/webhooks');
    const endpointId = (await p.locator('table a[href^="/webhooks/"]').first().textContent())!;
    expect(await p.getByRole('button', { name: /Create endpoint|Disable|Rotate secret/ }).count()).toBe(0);
    await p.goto(`${stack.consoleUrl}/dlq/rawAppStoreDlq`);
    await p.locator('tbody tr', { hasText: 'poison' }).first().waitFor();
    expect(await p.getByRole('button', { name: 'Re-drive' }).count()).toBe(0);
    const csrf = await csrfOf(p);
    const refused = await p.request.post(`${stack.consoleUrl}/webhooks/${endpointId}/disable`, {
      form: { csrf },
    });
    expect(refused.status()).toBe(403);
    expect((await getEndpoint(stack.webhookPool, endpointId))!.enabled).toBe(true);
    // And an admin's POST without the CSRF token is refused as well.
    const noToken = await page.request.post(`${stack.consoleUrl}/webhooks/${endpointId}/disable`, {
      form: {},
    });
    expect(noToken.status()).toBe(403);
    expect((await getEndpoint(stack.webhookPool, endpointId))!.enabled).toBe(true);
  } finally {
    await reader.close();
  }
});
