/**
 * The webhook admin API over real HTTP and PostgreSQL, for input PostgreSQL or the URL decoder cannot take:
 * NUL (U+0000) in a path parameter or a stored field, and path parameters that are not valid
 * percent-encoded UTF-8. Each is the client's error: 400 with a JSON body, never 500.
 */
import type { Pool } from 'pg';
import { createPool, migrate } from '../../lib/platform/db';
import { createWebhookApi } from '../../services/webhook-fanout/app';
import { EndpointManager } from '../../lib/adapters/webhooks/endpoints';
import { SsrfGuard } from '../../lib/adapters/webhooks/ssrf';
import { WEBHOOK_MIGRATIONS } from '../../lib/adapters/webhooks/store/migrations';
import { stackEnv } from '../support/env';
import { serve } from '../support/http';
import { testLogger } from '../support/kafka';
import { randomSchema } from '../support/state';

const API_KEY = 'test-webhook-admin-key';

let pool: Pool;
let api: { url: string; close: () => Promise<void> };

beforeAll(async () => {
  const schema = randomSchema();
  pool = createPool(stackEnv().databaseUrl, schema, 2);
  await migrate(pool, schema, WEBHOOK_MIGRATIONS);
  const manager = new EndpointManager(pool, new SsrfGuard(['127.0.0.1/32']), {
    maxConcurrency: 4,
    timeoutMs: 5_000,
  });
  api = await serve(createWebhookApi({ pool, manager, apiKeys: [API_KEY], logger: testLogger }));
});

afterAll(async () => {
  await api?.close();
  await pool?.end();
});

async function call(method: string, path: string, body?: unknown) {
  const res = await fetch(api.url + path, {
    method,
    headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { method, path, status: res.status, body: (await res.json()) as Record<string, unknown> };
}

it('answers 400 with a JSON error to NUL and to bad percent-encoding, never 500', async () => {
  const requests: [string, string, unknown?][] = [
    ['GET', '/v1/endpoints/%00'],
    ['GET', '/v1/endpoints/ep%00x/deliveries'],
    ['PATCH', '/v1/endpoints/%00', { enabled: false }],
    ['POST', '/v1/endpoints/%00/disable'],
    ['POST', '/v1/endpoints/%00/replay', { since: '2025-01-01T00:00:00Z' }],
    ['GET', '/v1/endpoints/%zz'],
    ['GET', '/v1/endpoints/%E0%A4%A'],
    ['POST', '/v1/endpoints/%E0%A4%A/enable'],
    ['GET', '/v1/deliveries/%zz'],
    // NUL in a body field that is stored as text.
    ['POST', '/v1/endpoints', { url: 'http://127.0.0.1:9/hook', description: 'a\u0000b' }],
  ];
  const answers = [];
  for (const [method, path, body] of requests) answers.push(await call(method, path, body));
  expect(answers).toEqual(
    requests.map(([method, path]) => ({
      method,
      path,
      status: 400,
      body: { error: 'bad_request', message: expect.any(String) },
    })),
  );
  // Well-formed requests still answer as before.
  expect((await call('GET', '/v1/endpoints/nope')).status).toBe(404);
  expect((await call('GET', '/v1/endpoints')).status).toBe(200);
});
