/**
 * Access rules of the console app over real HTTP on loopback: the routes behind them are never reached here
 * (their dependencies are absent), so what is checked is that sessions, CSRF and roles stop a request first.
 */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import pino from 'pino';
import { TopicNames } from '../../lib/core/topics';
import { createConsoleApp } from './app';
import type { ConsoleDeps } from './context';

const operators = [
  { name: 'ada', key: 'admin-key-0123456789', role: 'admin' as const },
  { name: 'rita', key: 'reader-key-0123456789', role: 'read-only' as const },
];
const logged: Record<string, unknown>[] = [];
const logger = pino({ level: 'info' }, { write: (line: string) => void logged.push(JSON.parse(line)) });
let server: Server;
let url: string;

beforeAll(async () => {
  const deps = { pools: {}, names: new TopicNames(''), logger } as unknown as ConsoleDeps;
  const app = createConsoleApp(deps, { operators, sessionTtlMs: 60_000, secureCookies: true });
  server = await new Promise<Server>((r) => {
    const s = app.listen(0, '127.0.0.1', () => r(s));
  });
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise((r) => server.close(r)));

const form = (body: Record<string, string>, cookie = '') => ({
  method: 'POST',
  redirect: 'manual' as const,
  headers: { 'content-type': 'application/x-www-form-urlencoded', cookie },
  body: new URLSearchParams(body).toString(),
});

/** Signs in through the form; returns the session cookie and the page's CSRF token. */
async function signIn(key: string): Promise<{ cookie: string; csrf: string }> {
  const page = await fetch(`${url}/signin`);
  const pre = page.headers.getSetCookie()[0]!.split(';')[0]!;
  const csrf = /name="csrf" value="([^"]+)"/.exec(await page.text())![1]!;
  const res = await fetch(`${url}/signin`, form({ key, csrf, next: '/webhooks' }, pre));
  expect([res.status, res.headers.get('location')]).toEqual([303, '/webhooks']);
  const set = res.headers.getSetCookie().find((c) => c.startsWith('storeline_console='))!;
  expect(set).toMatch(/; HttpOnly; SameSite=Strict; Max-Age=60; Secure$/);
  const cookie = set.split(';')[0]!;
  const signedIn = await fetch(`${url}/stream`, { headers: { cookie } });
  return { cookie, csrf: /name="csrf" value="([^"]+)"/.exec(await signedIn.text())![1]! };
}

it('redirects a GET without a session to sign-in and refuses anything else with 401', async () => {
  const page = await fetch(`${url}/subscribers?q=x`, { redirect: 'manual' });
  expect([page.status, page.headers.get('location')]).toEqual([303, '/signin?next=%2Fsubscribers%3Fq%3Dx']);
  expect((await fetch(`${url}/webhooks`, form({}))).status).toBe(401);
  expect((await fetch(`${url}/stream/events`)).status).toBe(401);
  expect((await fetch(`${url}/static/console.css`)).status).toBe(200);
  expect((await fetch(`${url}/static/console.js`, { redirect: 'manual' })).status).toBe(303);
});

it('refuses a sign-in without the form token, and a wrong key, logging neither key', async () => {
  const noToken = await fetch(`${url}/signin`, form({ key: operators[0]!.key }));
  expect(noToken.status).toBe(403);
  const page = await fetch(`${url}/signin`);
  const pre = page.headers.getSetCookie()[0]!.split(';')[0]!;
  const csrf = /name="csrf" value="([^"]+)"/.exec(await page.text())![1]!;
  expect((await fetch(`${url}/signin`, form({ key: 'wrong-key-0123456789', csrf }, pre))).status).toBe(401);
  expect(JSON.stringify(logged)).not.toMatch(/admin-key-0123456789|wrong-key-0123456789/);
});

it('checks the CSRF token of every POST, then the role', async () => {
  const reader = await signIn(operators[1]!.key);
  const admin = await signIn(operators[0]!.key);
  expect((await fetch(`${url}/webhooks/ep_1/disable`, form({}, admin.cookie))).status).toBe(403);
  expect(
    (await fetch(`${url}/webhooks/ep_1/disable`, form({ csrf: reader.csrf }, admin.cookie))).status,
  ).toBe(403);
  expect(
    (await fetch(`${url}/webhooks/ep_1/disable`, form({ csrf: reader.csrf }, reader.cookie))).status,
  ).toBe(403);
  expect(logged).toEqual(
    expect.arrayContaining([
      expect.objectContaining({ operator: 'ada', action: 'refused', why: 'csrf token missing or wrong' }),
      expect.objectContaining({ operator: 'rita', action: 'refused', why: 'needs the admin role' }),
      expect.objectContaining({ operator: 'rita', action: 'sign-in' }),
    ]),
  );
});

it('signs out: the session is gone', async () => {
  const s = await signIn(operators[0]!.key);
  const out = await fetch(`${url}/signout`, form({ csrf: s.csrf }, s.cookie));
  expect([out.status, out.headers.get('location')]).toEqual([303, '/signin']);
  expect((await fetch(`${url}/stream`, { headers: { cookie: s.cookie }, redirect: 'manual' })).status).toBe(
    303,
  );
});
