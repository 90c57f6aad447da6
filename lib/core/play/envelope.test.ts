import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { PLAY_STORE_FIXTURES } from '../../../test/kit/fixtures';
import { parsePush, rawKeyOf } from './envelope';
import type { DeveloperNotification } from './model';

const fixture = (name: string) => readFileSync(resolve(PLAY_STORE_FIXTURES, name));

describe('Pub/Sub envelopes and RTDNs from the sample fixtures', () => {
  it('parses the captured real test-notification envelope (camel and snake keys)', () => {
    const p = parsePush(fixture('pubsub-envelope-real-test-notification.json'));
    expect(p.notification.testNotification).toBeDefined();
    expect(p.messageId).toMatch(/\S+/);
  });

  it('parses the secret-query voided-purchase envelope', () => {
    // The fixture annotates the request; the push body is under `body`.
    const p = parsePush(JSON.parse(fixture('pubsub-envelope-secret-query-voided.json').toString()).body);
    expect(p.notification.voidedPurchaseNotification?.orderId).toBe('GS.0000-0000-0000');
    expect(rawKeyOf(p.notification, p.messageId)).toBe(
      p.notification.voidedPurchaseNotification?.purchaseToken,
    );
  });

  it.each([
    'rtdn-doc-subscription-purchased.json',
    'rtdn-doc-one-time-product-purchased.json',
    'rtdn-doc-voided-purchase.json',
    'rtdn-doc-test-notification.json',
    'rtdn-real-renewed-with-subscriptionId.json',
  ])('%s decodes once wrapped in an envelope', (name) => {
    const n = JSON.parse(fixture(name).toString()) as DeveloperNotification;
    const env = { message: { data: Buffer.from(JSON.stringify(n)).toString('base64'), messageId: 'm' } };
    expect(parsePush(Buffer.from(JSON.stringify(env))).notification.packageName).toBe(n.packageName);
  });

  it('names what is wrong', () => {
    expect(() => parsePush(Buffer.from('nope'))).toThrow(/not JSON/);
    expect(() => parsePush(Buffer.from('{"message":{"data":"e30="}}'))).toThrow(/messageId is required/);
    expect(() =>
      parsePush(
        Buffer.from(
          JSON.stringify({
            message: { data: Buffer.from('{"packageName":"x"}').toString('base64'), messageId: 'm' },
          }),
        ),
      ),
    ).toThrow(/eventTimeMillis/);
  });
});
