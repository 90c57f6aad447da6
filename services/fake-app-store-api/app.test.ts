import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { createPrivateKey } from 'node:crypto';
import { SignJWT } from 'jose';
import { createApiKey } from '../../test/kit/appStoreServerApi';
import { createFakeAppStoreApi } from './app';

const key = createApiKey();
const fake = createFakeAppStoreApi({ ...key, pageSize: 20 });
let server: Server;
let url: string;

beforeAll(async () => {
  server = await new Promise((r) => {
    const s = fake.app.listen(0, '127.0.0.1', () => r(s));
  });
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise((r) => server.close(r)));

const now = () => Math.floor(Date.now() / 1000);
const good = { iss: key.issuerId, aud: 'appstoreconnect-v1', bid: key.bundleId };

async function token(
  claims: Record<string, unknown> = good,
  opts: { kid?: string; iat?: number; exp?: number; pem?: string } = {},
) {
  const iat = opts.iat ?? now();
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'ES256', kid: opts.kid ?? key.keyId, typ: 'JWT' })
    .setIssuedAt(iat)
    .setExpirationTime(opts.exp ?? iat + 600)
    .sign(createPrivateKey(opts.pem ?? key.privatePem));
}

const status = async (path: string, jwt: string) =>
  (await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${jwt}` } })).status;

describe('fake App Store Server API: tokens checked as Apple checks them', () => {
  it('answers a good token', async () => {
    fake.state.statuses.set('1000', { environment: 'Sandbox', bundleId: key.bundleId, data: [] });
    const res = await fetch(`${url}/inApps/v1/subscriptions/1000`, {
      headers: { authorization: `Bearer ${await token()}` },
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ environment: 'Sandbox', bundleId: key.bundleId, data: [] });
    expect(await status('/inApps/v1/subscriptions/999', await token())).toBe(404);
  });

  it.each([
    ['another key', async () => token(good, { pem: createApiKey().privatePem })],
    ['another key id', async () => token(good, { kid: 'OTHERKEY00' })],
    ['another issuer', async () => token({ ...good, iss: 'someone-else' })],
    ['another audience', async () => token({ ...good, aud: 'appstoreconnect-v2' })],
    ['another bundle id', async () => token({ ...good, bid: 'com.other.app' })],
    ['an expired token', async () => token(good, { iat: now() - 7200, exp: now() - 3600 })],
    ['a token living over 60 minutes', async () => token(good, { exp: now() + 2 * 3600 })],
    ['no token', async () => ''],
  ])('refuses %s with 401', async (_what, make) => {
    expect(await status('/inApps/v1/subscriptions/1000', await make())).toBe(401);
  });
});

describe('fake App Store Server API: Send Consumption Information', () => {
  const put = async (path: string, body: unknown) =>
    fetch(`${url}${path}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${await token()}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });

  it('accepts a valid v2 body with 202 and records it', async () => {
    const body = { customerConsented: true, deliveryStatus: 'DELIVERED', sampleContentProvided: false };
    const res = await put('/inApps/v2/transactions/consumption/42', body);
    expect(res.status).toBe(202);
    const recorded = (await (await fetch(`${url}/_fake/consumption`)).json()) as { requests: unknown[] };
    expect(recorded.requests).toContainEqual(
      expect.objectContaining({ version: 'v2', transactionId: '42', body, status: 202 }),
    );
  });

  it.each([
    ['v2', { customerConsented: false, deliveryStatus: 'DELIVERED', sampleContentProvided: false }],
    ['v2', { customerConsented: true, deliveryStatus: 0, sampleContentProvided: false }],
    ['v1', { customerConsented: true, deliveryStatus: 'DELIVERED', sampleContentProvided: false }],
  ])('refuses an invalid %s body with 400', async (version, body) => {
    const res = await put(`/inApps/${version}/transactions/consumption/43`, body);
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ errorCode: 4000000 });
  });
});
