import { TopicNames } from '../topics';
import {
  catalogDlqs,
  describeRawValue,
  parsePositions,
  redriveHeaders,
  redriveRefusal,
  redriveTarget,
  resolveDlqs,
  selects,
  summaryLines,
  type DeadLetter,
} from './deadLetters';

const names = new TopicNames('p.');
const letter = (over: Partial<DeadLetter> = {}): DeadLetter => ({
  topic: 'p.storeline.raw.play-store.v1.dlq',
  partition: 0,
  offset: '7',
  timestamp: 1000,
  key: Buffer.from('tok-1'),
  value: Buffer.from('{}'),
  headers: { format: 'play-store-pubsub', 'dlq.stage': 'decode', 'dlq.reason': 'bad data' },
  ...over,
});

describe('dead letters', () => {
  it('knows every DLQ of the catalog and its source', () => {
    expect(catalogDlqs(names).map((d) => [d.id, d.source])).toEqual([
      ['rawAppStoreDlq', 'rawAppStore'],
      ['rawPlayStoreDlq', 'rawPlayStore'],
      ['subscriptionEventsDlq', 'subscriptionEvents'],
      ['engagementTriggersDlq', 'engagementTriggers'],
      ['webhooksDlq', undefined],
    ]);
    expect(resolveDlqs(names, 'storeline.raw.play-store.v1.dlq')[0]!.id).toBe('rawPlayStoreDlq');
    expect(resolveDlqs(names, 'p.storeline.webhooks.dlq')[0]!.id).toBe('webhooksDlq');
    expect(() => resolveDlqs(names, 'x')).toThrow(/unknown DLQ/);
  });

  it('selects by reason, stage, time and position', () => {
    const d = letter();
    expect(selects({ reason: /bad/, stage: 'decode', since: 1000, until: 1000 }, d)).toBe(true);
    expect(selects({ reason: /good/ }, d)).toBe(false);
    expect(selects({ stage: 'transform' }, d)).toBe(false);
    expect(selects({ since: 1001 }, d)).toBe(false);
    expect(selects({ positions: parsePositions('0@7,1@2') }, d)).toBe(true);
    expect(selects({ positions: parsePositions('0@8') }, d)).toBe(false);
    expect(() => parsePositions('0-7')).toThrow(/partition@offset/);
    expect(summaryLines([d, letter({ offset: '8' })])).toEqual([
      '2 dead letter(s)',
      'p.storeline.raw.play-store.v1.dlq: 2',
      '  2  bad data',
    ]);
  });

  it('re-drives to the source with the own headers and where it came from; refuses canonical and webhooks', () => {
    const [raw, , canonical, triggers, webhooks] = catalogDlqs(names);
    const d = letter({ headers: { ...letter().headers, 'dlq.source-topic': 'p.other' } });
    expect(redriveTarget(raw!, names, d)).toBe('p.other');
    expect(redriveTarget(raw!, names, letter())).toBe('p.storeline.raw.app-store.v1');
    expect(redriveHeaders(d)).toEqual({
      format: 'play-store-pubsub',
      'redriven-from': 'p.storeline.raw.play-store.v1.dlq@0:7',
    });
    expect(redriveRefusal(raw!)).toBeUndefined();
    expect(redriveRefusal(triggers!)).toBeUndefined();
    expect(redriveRefusal(canonical!)).toMatch(/one record per eventId/);
    expect(redriveRefusal(webhooks!)).toMatch(/webhook admin API/);
  });

  it('describes values: JSON, Pub/Sub data, unverified JWS, text and bytes', () => {
    const seg = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const jws = `${seg({ alg: 'ES256' })}.${seg({ notificationType: 'DID_RENEW', data: { signedTransactionInfo: `${seg({})}.${seg({ originalTransactionId: '1' })}.x` } })}.sig`;
    expect(describeRawValue(Buffer.from(JSON.stringify({ signedPayload: jws })))).toMatch(
      /UNVERIFIED[\s\S]*"originalTransactionId": "1"/,
    );
    const env = { message: { data: Buffer.from('{"a":1}').toString('base64'), messageId: 'm' } };
    expect(describeRawValue(Buffer.from(JSON.stringify(env)))).toMatch(
      /message\.data \(base64 JSON\):\n\{\n {2}"a": 1/,
    );
    expect(describeRawValue(Buffer.from('plain text'))).toBe('utf8: plain text');
    expect(describeRawValue(Buffer.from([0, 1, 2, 255]))).toBe('hex: 000102ff');
    expect(describeRawValue(null)).toBe('(empty value)');
  });
});
