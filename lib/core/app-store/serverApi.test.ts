import { APP_STORE_API_AUDIENCE, TokenBucket, apiToken, parseRetryAfter, retryDecision } from './serverApi';

const ID = {
  issuerId: '57246542-96fe-1a63-e053-0824d011072a',
  keyId: '2X9R4HXF34',
  bundleId: 'com.example.app',
};
const NOW = 1_764_590_400_123;

describe('apiToken', () => {
  it("has Apple's header and claims: ES256 with the key id, iss, iat, exp, aud and bid", () => {
    const { header, claims } = apiToken(ID, NOW);
    expect(header).toEqual({ alg: 'ES256', kid: '2X9R4HXF34', typ: 'JWT' });
    expect(claims).toEqual({
      iss: ID.issuerId,
      iat: 1_764_590_400,
      exp: 1_764_590_400 + 20 * 60,
      aud: APP_STORE_API_AUDIENCE,
      bid: 'com.example.app',
    });
    expect(APP_STORE_API_AUDIENCE).toBe('appstoreconnect-v1');
  });

  it('never lives longer than 60 minutes, whatever is asked', () => {
    const { claims } = apiToken(ID, NOW, 24 * 3600);
    expect(claims.exp - claims.iat).toBe(3600);
    expect(apiToken(ID, NOW, 0).claims.exp).toBeGreaterThan(apiToken(ID, NOW, 0).claims.iat);
  });
});

describe('parseRetryAfter', () => {
  it('reads delay-seconds and HTTP-dates', () => {
    expect(parseRetryAfter('3', NOW)).toBe(3000);
    expect(parseRetryAfter(new Date(NOW + 10_000).toUTCString(), NOW)).toBeGreaterThan(8000);
    expect(parseRetryAfter(new Date(NOW - 10_000).toUTCString(), NOW)).toBe(0);
    expect(parseRetryAfter('soon', NOW)).toBeUndefined();
    expect(parseRetryAfter(null, NOW)).toBeUndefined();
  });
});

describe('retryDecision', () => {
  const policy = { maxAttempts: 4, baseDelayMs: 100, maxDelayMs: 350 };

  it('retries 429, 5xx and network failures with doubling backoff, capped', () => {
    expect(retryDecision(500, 1, null, NOW, policy)).toEqual({ retry: true, waitMs: 100 });
    expect(retryDecision(503, 2, null, NOW, policy)).toEqual({ retry: true, waitMs: 200 });
    expect(retryDecision(undefined, 3, null, NOW, policy)).toEqual({ retry: true, waitMs: 350 });
    expect(retryDecision(429, 1, null, NOW, policy)).toEqual({ retry: true, waitMs: 100 });
  });

  it('honours Retry-After over its own backoff', () => {
    expect(retryDecision(429, 1, '2', NOW, policy)).toEqual({ retry: true, waitMs: 2000 });
    expect(retryDecision(503, 3, '1', NOW, policy)).toEqual({ retry: true, waitMs: 1000 });
  });

  it('never retries any other 4xx', () => {
    for (const status of [400, 401, 403, 404]) {
      expect(retryDecision(status, 1, '1', NOW, policy).retry).toBe(false);
    }
  });

  it('gives up after maxAttempts, and on a Retry-After too long to wait', () => {
    expect(retryDecision(500, 4, null, NOW, policy)).toEqual({
      retry: false,
      reason: 'gave up after 4 attempts',
    });
    expect(retryDecision(429, 1, '3600', NOW, policy).retry).toBe(false);
  });
});

describe('TokenBucket', () => {
  it('lets a burst through, then spaces requests at the rate', () => {
    const b = new TokenBucket(2);
    expect([b.take(0), b.take(0)]).toEqual([0, 0]);
    expect(b.take(0)).toBe(500);
    expect(b.take(1500)).toBe(0);
  });

  it('refuses a rate that is not positive', () => {
    expect(() => new TokenBucket(0)).toThrow(RangeError);
  });
});
