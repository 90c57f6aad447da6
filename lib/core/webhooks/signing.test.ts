import { Webhook } from 'standardwebhooks';
import { generateSecret, secretBytes, signV1, signatureHeader, webhookId } from './signing';

describe('Standard Webhooks signing', () => {
  const body = '{"type":"subscription.RENEWED","timestamp":"2026-11-22T10:00:00.000Z","data":{"a":"é"}}';

  it('produces signatures the standardwebhooks library verifies, byte for byte', () => {
    const secret = generateSecret();
    const ts = Math.floor(Date.now() / 1000);
    const headers = {
      'webhook-id': 'app_store:abc:0',
      'webhook-timestamp': String(ts),
      'webhook-signature': signatureHeader([secret], 'app_store:abc:0', ts, body),
    };
    expect(new Webhook(secret).verify(body, headers)).toEqual(JSON.parse(body));
    // One changed byte of the body fails.
    expect(() => new Webhook(secret).verify(body.replace('é', 'e'), headers)).toThrow(
      'No matching signature',
    );
  });

  it('matches the library signer exactly', () => {
    const secret = generateSecret(24);
    const ts = 1_795_000_000;
    expect(signV1(secret, 'msg_1', ts, body)).toBe(
      new Webhook(secret).sign('msg_1', new Date(ts * 1000), body),
    );
  });

  it('signs with every valid secret, space-separated, each verifiable alone', () => {
    const [a, b] = [generateSecret(), generateSecret(64)];
    const ts = Math.floor(Date.now() / 1000);
    const sig = signatureHeader([a, b], 'id1', ts, body);
    expect(sig.split(' ')).toHaveLength(2);
    for (const s of [a, b]) {
      expect(() =>
        new Webhook(s).verify(body, {
          'webhook-id': 'id1',
          'webhook-timestamp': String(ts),
          'webhook-signature': sig,
        }),
      ).not.toThrow();
    }
  });

  it('validates secrets: prefix, base64, 24-64 bytes', () => {
    expect(secretBytes(generateSecret())).toBeInstanceOf(Buffer);
    expect(secretBytes('abc')).toMatch(/whsec_/);
    expect(secretBytes('whsec_' + Buffer.alloc(16).toString('base64'))).toMatch(/24-64 bytes/);
    expect(secretBytes('whsec_' + Buffer.alloc(65).toString('base64'))).toMatch(/24-64 bytes/);
    expect(secretBytes('whsec_!!!')).toMatch(/base64/);
    expect(() => generateSecret(10)).toThrow(RangeError);
  });

  it('keeps ids without dots unchanged and escapes dots reversibly', () => {
    expect(webhookId('app_store:6f1b:0')).toBe('app_store:6f1b:0');
    expect(webhookId('a.b%c')).toBe('a%2Eb%25c');
    expect(() => signV1(generateSecret(), 'a.b', 1, body)).toThrow(/must not contain/);
  });
});
