import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { createFakeAppStoreApi } from '../../../services/fake-app-store-api/app';
import { createApiKey } from '../../../test/kit/appStoreServerApi';
import { AppStoreApiError, AppStoreServerApi, loadApiPrivateKey } from './serverApi';

const key = createApiKey();
const RANGE = { startDate: 1_000, endDate: 10_000 };

/** A JWS-shaped record the fake files by signedDate (it verifies nothing but the bearer token). */
const record = (signedDate: number) => ({
  signedPayload: `e30.${Buffer.from(JSON.stringify({ signedDate })).toString('base64url')}.c2ln`,
});

let server: Server;
let url: string;
const fake = createFakeAppStoreApi({ ...key, pageSize: 2 });

beforeAll(async () => {
  server = await new Promise((r) => {
    const s = fake.app.listen(0, '127.0.0.1', () => r(s));
  });
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise((r) => server.close(r)));
beforeEach(() => {
  fake.state.history = [record(500), record(2000), record(3000), record(4000), record(20_000)];
  fake.state.failures = [];
  fake.state.historyRequests = [];
});

async function client(over: { pem?: string; bundleId?: string; waits?: number[] } = {}) {
  const waits = over.waits ?? [];
  return new AppStoreServerApi({
    baseUrl: url,
    key: {
      ...key,
      bundleId: over.bundleId ?? key.bundleId,
      privateKey: await loadApiPrivateKey(over.pem ?? key.privatePem),
    },
    ratePerSecond: 1000,
    retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 5 },
    sleep: async (ms) => void (ms > 0 && waits.push(ms)),
  });
}

describe('AppStoreServerApi against the fake', () => {
  it('pages through the notification history in range with paginationToken', async () => {
    const api = await client();
    const first = await api.notificationHistory(RANGE);
    expect(first.notificationHistory).toHaveLength(2);
    expect(first.hasMore).toBe(true);
    const second = await api.notificationHistory(RANGE, first.paginationToken);
    expect(second.notificationHistory).toHaveLength(1);
    expect(second.hasMore).toBe(false);
    expect(fake.state.historyRequests.map((r) => r.paginationToken)).toEqual([
      undefined,
      first.paginationToken,
    ]);
  });

  it('waits as Retry-After says on a 429, then succeeds', async () => {
    fake.state.failures = [{ status: 429, retryAfterSeconds: 2 }];
    const waits: number[] = [];
    const page = await (await client({ waits })).notificationHistory(RANGE);
    expect(page.notificationHistory).toHaveLength(2);
    expect(waits).toEqual([2000]);
  });

  it('retries a 5xx with backoff and gives up after maxAttempts as retriable', async () => {
    fake.state.failures = [{ status: 503 }, { status: 500 }, { status: 502 }];
    const err = await (await client()).notificationHistory(RANGE).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AppStoreApiError);
    expect(err).toMatchObject({ status: 502, retriable: true });
    expect(fake.state.historyRequests).toHaveLength(0);
  });

  it('is refused with 401 for a wrong key or wrong bid, and does not retry', async () => {
    for (const api of [
      await client({ pem: createApiKey().privatePem }),
      await client({ bundleId: 'com.other' }),
    ]) {
      const before = fake.state.unauthorized;
      const err = await api.notificationHistory(RANGE).catch((e: unknown) => e);
      expect(err).toMatchObject({ status: 401, retriable: false });
      expect((err as Error).message).toMatch(/private key, key id, issuer id and bundle id/);
      expect(fake.state.unauthorized).toBe(before + 1);
    }
  });

  it("does not retry a 400 and reports Apple's error code", async () => {
    const err = await (await client()).notificationHistory(RANGE, 'not-a-token').catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 400, retriable: false, context: { apiErrorCode: 4000006 } });
  });

  it('refuses a key file that is not a PKCS#8 EC key without quoting it', async () => {
    await expect(
      loadApiPrivateKey('-----BEGIN PRIVATE KEY-----\nsecret\n-----END PRIVATE KEY-----'),
    ).rejects.toThrow(/^the private key is not a PKCS#8 PEM EC P-256 key/);
  });
});
