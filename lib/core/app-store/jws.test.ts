import { decodeJwsPayload } from './jws';

const b64url = (json: string) => Buffer.from(json).toString('base64url');

describe('decodeJwsPayload (nested JWS)', () => {
  const jws = (payload: string) => `${b64url('{"alg":"ES256"}')}.${b64url(payload)}.sig`;

  it('decodes an object payload', () => {
    expect(decodeJwsPayload(jws('{"originalTransactionId":"1"}'))).toEqual({ originalTransactionId: '1' });
  });

  it.each(['null', '5', '"x"', '[]', 'not json'])('throws on a payload of %s', (payload) => {
    expect(() => decodeJwsPayload(jws(payload))).toThrow(/JSON/);
  });

  it('throws on a value that is not a compact JWS', () => {
    expect(() => decodeJwsPayload('a.b')).toThrow(/compact/);
  });
});
