import { isJsonContentType, sniffFormat } from './format';

describe('raw formats', () => {
  it.each([
    [{ signedPayload: 'a.b.c' }, 'app-store-v2'],
    [{ notification_type: 'DID_RENEW' }, 'app-store-v1'],
    [{ message: { data: 'e30=' } }, 'play-store-pubsub'],
    [{ message: {} }, undefined],
    [null, undefined],
    [[], undefined],
  ])('sniffs %j as %s', (body, format) => {
    expect(sniffFormat(body)).toBe(format);
  });

  it.each([
    ['application/json', true],
    ['Application/JSON; charset=utf-8', true],
    ['text/plain', false],
    [undefined, false],
  ])('content type %s is JSON: %s', (contentType, json) => {
    expect(isJsonContentType(contentType)).toBe(json);
  });
});
