import { SessionStore, canAct, cookie, findOperator, parseCookies, safeNext, sameToken } from './auth';

const ops = [
  { name: 'ada', key: 'admin-key-0123456789', role: 'admin' as const },
  { name: 'rita', key: 'reader-key-0123456789', role: 'read-only' as const },
];

describe('operators and tokens', () => {
  it('finds the operator of a key, and none for a wrong, empty or missing key', () => {
    expect(findOperator(ops, 'reader-key-0123456789')?.name).toBe('rita');
    expect(findOperator(ops, 'admin-key-0123456789')?.role).toBe('admin');
    expect(findOperator(ops, 'admin-key-012345678')).toBeUndefined();
    expect(findOperator(ops, '')).toBeUndefined();
    expect(findOperator(ops, undefined)).toBeUndefined();
  });

  it('compares CSRF tokens exactly', () => {
    expect(sameToken('abc', 'abc')).toBe(true);
    expect(sameToken('abd', 'abc')).toBe(false);
    expect(sameToken('', '')).toBe(false);
    expect(sameToken(undefined, 'abc')).toBe(false);
  });

  it('lets only admins act', () => {
    expect(canAct('admin')).toBe(true);
    expect(canAct('read-only')).toBe(false);
  });
});

describe('SessionStore', () => {
  let now = 1_000;
  let n = 0;
  const store = () => new SessionStore({ ttlMs: 100, now: () => now, random: () => `r${n++}`, max: 2 });

  it('creates sessions with their own CSRF token and forgets them when they expire', () => {
    const s = store();
    const a = s.create(ops[0]!);
    expect(a).toMatchObject({ operator: 'ada', role: 'admin', expiresAt: 1_100 });
    expect(a.csrf).not.toBe(a.id);
    expect(s.get(a.id)).toBe(a);
    now = 1_100;
    expect(s.get(a.id)).toBeUndefined();
    expect(s.get(undefined)).toBeUndefined();
  });

  it('drops the oldest session beyond its bound, and on sign-out', () => {
    const s = store();
    const [a, b, c] = [s.create(ops[0]!), s.create(ops[1]!), s.create(ops[0]!)];
    expect([s.get(a.id), s.get(b.id)?.operator, s.get(c.id)?.operator]).toEqual([undefined, 'rita', 'ada']);
    s.delete(c.id);
    expect(s.get(c.id)).toBeUndefined();
    expect(s.size).toBe(1);
  });
});

describe('cookies and redirects', () => {
  it('parses cookies, ignoring malformed ones', () => {
    expect(parseCookies('a=1; b=x%20y; bad; c=%E0%A4%A')).toEqual({ a: '1', b: 'x y' });
    expect(parseCookies(undefined)).toEqual({});
  });

  it('sets HttpOnly, SameSite=Strict cookies, Secure when asked', () => {
    expect(cookie('s', 'v', { maxAgeSeconds: 60, secure: false })).toBe(
      's=v; Path=/; HttpOnly; SameSite=Strict; Max-Age=60',
    );
    expect(cookie('s', '', { maxAgeSeconds: 0, secure: true })).toMatch(/Max-Age=0; Secure$/);
  });

  it('redirects after sign-in to local paths only', () => {
    expect(safeNext('/subscribers?q=1')).toBe('/subscribers?q=1');
    for (const bad of ['//evil.example', '/\\evil.example', 'https://evil.example', 'javascript:x', '', 3]) {
      expect(safeNext(bad)).toBe('/');
    }
  });
});
